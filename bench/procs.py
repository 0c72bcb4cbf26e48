"""Servers under test as real processes pinned to a core, and CPU accounting from /proc.

A server runs as ``taskset -c <core> python ...`` (taskset execs, so the child's pid is the
server's), is awaited on its TCP port with a deadline, and is stopped with SIGTERM to its own pid
(SIGKILL after a grace period). CPU is read from ``/proc/<pid>/stat`` (utime + stime of all its
threads, so the fsync thread pool counts) and per-core busy time from ``/proc/stat``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
REPO = Path(__file__).resolve().parent.parent


def hello_for(repo: Path, client_id: str, name: str, since: int | None = None) -> bytes:
    """A hello in the protocol version of the tree at ``repo`` (none before versions existed),
    so that a benchmark can run the server of an older commit for a before/after."""
    import msgpack

    found = re.search(
        r"^PROTOCOL_VERSION = (\d+)", (repo / "whiteboard/protocol.py").read_text(), re.M
    )
    hello = {"type": "hello", "client": client_id, "name": name, "color": "#000000"}
    if found:
        hello["v"] = int(found.group(1))
    return msgpack.packb({**hello, "since": since})


def process_cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process, all threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def process_cpu_split_s(pid: int | str = "self") -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS_PER_S, int(fields[12]) / CLOCK_TICKS_PER_S


def children_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of each child process of ``pid`` (a whiteboard's compaction and export
    processes), by pid."""
    out: dict[int, float] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                out[int(child)] = process_cpu_s(child)
            except (OSError, IndexError):
                pass  # it ended meanwhile
    return out


def descendants_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of every process under ``pid`` (its children, their children: the export
    worker's band helpers too), by pid."""
    out: dict[int, float] = {}
    pending = [pid]
    while pending:
        found = children_cpu_s(pending.pop())
        out.update(found)
        pending.extend(found)
    return out


def wait_helpers_idle(pid: int, quiet_s: float = 1.0, timeout_s: float = 60.0) -> bool:
    """Wait until the processes under ``pid`` (a whiteboard's compaction and exports) have used
    no CPU for ``quiet_s``; False if they were still busy after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    before = sum(descendants_cpu_s(pid).values())
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = sum(descendants_cpu_s(pid).values())
        if now - before < 0.02:
            return True
        before = now
    return False


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two :func:`children_cpu_s` readings (new children count whole)."""
    return sum(cpu_s - before.get(pid, 0.0) for pid, cpu_s in after.items())


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from /proc/<pid>/status (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def core_times() -> dict[int, tuple[int, int]]:
    """Per core: (busy ticks, total ticks) from /proc/stat; busy excludes idle and iowait."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *values = line.split()
            ticks = [int(v) for v in values]
            idle = ticks[3] + ticks[4]
            out[int(name[3:])] = (sum(ticks[:8]) - idle, sum(ticks[:8]))
    return out


def core_busy(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]
) -> dict[int, float]:
    busy = {}
    for core, (b1, t1) in after.items():
        b0, t0 = before.get(core, (0, 0))
        busy[core] = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
    return busy


def cpu_pressure_us() -> int:
    """Total µs during which some runnable task waited for a CPU (PSI); 0 where unsupported.

    Over a window, its increase per second says how contended the machine was: other processes
    (not ours: we are one process per core) competing for the cores spoil that window's figures.
    """
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return 0
    return int(line.rsplit("total=", 1)[1])


def wait_for_port(port: int, proc: subprocess.Popen, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listened on port {port} within {timeout_s} s"
                ) from None
            time.sleep(0.05)


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``STOP_TIMEOUT_S``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Server:
    """A server process under test. ``label`` names it in results."""

    label: str
    kind: str  # "whiteboard" or "relay"
    port: int
    argv: list[str]
    log_path: Path
    boards_dir: Path | None = None
    proc: subprocess.Popen | None = None
    extra: dict = field(default_factory=dict)
    cwd: Path = REPO  # another checkout runs another version of the server (a baseline)

    def start(self) -> None:
        if not port_is_free(self.port):
            raise RuntimeError(f"port {self.port} is taken")
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.proc)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_s(self) -> float:
        return process_cpu_s(self.pid)

    def children_cpu_s(self) -> dict[int, float]:
        return children_cpu_s(self.pid)

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc = None
        self.log_file.close()

    def restart(self) -> None:
        self.stop()
        self.start()


def whiteboard_server(
    label: str,
    port: int,
    boards_dir: Path,
    log_dir: Path,
    core: int,
    fsync: bool,
    extra_flags: list[str],
    repo: Path = REPO,
) -> Server:
    argv = [
        "taskset",
        "-c",
        str(core),
        sys.executable,
        "-m",
        "whiteboard",
        "serve",
        "--port",
        str(port),
        "--boards-dir",
        str(boards_dir),
        "--fsync",
        "on" if fsync else "off",
        *extra_flags,
    ]
    log_path = log_dir / f"server-{label}.log"
    return Server(label, "whiteboard", port, argv, log_path, boards_dir, cwd=repo)


def relay_server(
    label: str, port: int, log_dir: Path, core: int, script_name: str = "relay_websockets.py"
) -> Server:
    """A reference relay: ``relay_websockets.py`` or ``relay_quart.py``."""
    script = Path(__file__).resolve().parent / script_name
    argv = ["taskset", "-c", str(core), sys.executable, str(script), "--port", str(port)]
    return Server(label, "relay", port, argv, log_dir / f"server-{label}.log")
