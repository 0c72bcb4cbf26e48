"""``python -m tests.integration.healthz_probe PORT SERVER_PID START STOP``: time ``GET /healthz``
from START to STOP (``time.monotonic`` values) and print the latencies as JSON.

A process of its own, so that the load a test generates never delays the probe in the test's own
process; see ``test_cpu_attack.py``.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

PROBE_INTERVAL_S = 0.01


def runqueue_wait_ms(path: str) -> float:
    """Time a thread has spent runnable but waiting for a CPU (``schedstat``, second field)."""
    try:
        with open(path) as f:
            return int(f.read().split()[1]) / 1e6
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # a thread that ended between listing and reading


def process_runqueue_wait_ms(pid: int) -> float:
    """The runqueue wait of every thread of a process. Not only its event loop's: when another
    of its threads (the log writer, an executor) is kept from a CPU while it holds the GIL, the
    event loop waits for the GIL, asleep rather than runnable, for a delay the machine caused."""
    tasks = Path(f"/proc/{pid}/task")
    return sum(runqueue_wait_ms(str(task / "schedstat")) for task in tasks.iterdir())


def probe_healthz(
    port: int,
    server_pid: int,
    stop: float,
    sent: list[float] | None = None,
    all_threads: bool = False,
) -> list[tuple[float, float]]:
    """``GET /healthz`` every 10 ms on a keep-alive connection until ``stop``: for each, the wall
    time (ms) and that time less what the server's event-loop thread (``all_threads``: every
    thread of the server) and this probe spent waiting for a CPU. On a shared 2-core machine
    other jobs delay everyone; the second figure is the delay the server itself caused: the
    attack's work holding its event loop. ``sent``, if given, gets each probe's
    ``time.monotonic()`` when it was sent. The tests count every thread (two test processes run
    side by side); the benchmarks keep the event loop's alone, as their recorded figures did."""
    own_thread = "/proc/thread-self/schedstat"
    server_thread = f"/proc/{server_pid}/task/{server_pid}/schedstat"

    def server_waited_ms() -> float:
        if all_threads:
            return process_runqueue_wait_ms(server_pid)
        return runqueue_wait_ms(server_thread)

    latencies = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(10)
        reader = sock.makefile("rb")
        while time.monotonic() < stop:
            waited = server_waited_ms() + runqueue_wait_ms(own_thread)
            start = time.perf_counter()
            if sent is not None:
                sent.append(time.monotonic())
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert reader.read(length).startswith(b"{"), "no /healthz answer"
            wall = (time.perf_counter() - start) * 1000
            waited = server_waited_ms() + runqueue_wait_ms(own_thread) - waited
            latencies.append((wall, max(0.0, wall - waited)))
            time.sleep(PROBE_INTERVAL_S)
    return latencies


if __name__ == "__main__":
    port, pid, (start, stop) = int(sys.argv[1]), int(sys.argv[2]), map(float, sys.argv[3:5])
    time.sleep(max(0.0, start - time.monotonic()))
    print(json.dumps(probe_healthz(port, pid, stop, all_threads=True)))
