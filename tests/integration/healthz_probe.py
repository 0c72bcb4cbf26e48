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

PROBE_INTERVAL_S = 0.01


def runqueue_wait_ms(path: str) -> float:
    """Time a thread has spent runnable but waiting for a CPU (``schedstat``, second field)."""
    with open(path) as f:
        return int(f.read().split()[1]) / 1e6


def probe_healthz(
    port: int, server_pid: int, stop: float, sent: list[float] | None = None
) -> list[tuple[float, float]]:
    """``GET /healthz`` every 10 ms on a keep-alive connection until ``stop``: for each, the wall
    time (ms) and that time less what the server's event-loop thread and this probe spent waiting
    for a CPU. On a shared 2-core machine other jobs delay everyone; the second figure is the
    delay the server itself caused: the attack's work holding its event loop. ``sent``, if
    given, gets each probe's ``time.monotonic()`` when it was sent."""
    server_thread = f"/proc/{server_pid}/task/{server_pid}/schedstat"
    own_thread = "/proc/thread-self/schedstat"
    latencies = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(10)
        reader = sock.makefile("rb")
        while time.monotonic() < stop:
            waited = runqueue_wait_ms(server_thread) + runqueue_wait_ms(own_thread)
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
            waited = runqueue_wait_ms(server_thread) + runqueue_wait_ms(own_thread) - waited
            latencies.append((wall, max(0.0, wall - waited)))
            time.sleep(PROBE_INTERVAL_S)
    return latencies


if __name__ == "__main__":
    port, pid, (start, stop) = int(sys.argv[1]), int(sys.argv[2]), map(float, sys.argv[3:5])
    time.sleep(max(0.0, start - time.monotonic()))
    print(json.dumps(probe_healthz(port, pid, stop)))
