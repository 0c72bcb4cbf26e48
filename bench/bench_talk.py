"""Big rooms: a talk (1 presenter, 100-1,000 viewers), viewers' cursors, a room of 20 writers,
join storms of 3,000 clients and memory per connection; beside reference relays in the same run.

Servers are processes pinned to core 0 (taskset), the load generator (this process) to core 1,
as in ``bench_fanout.py``:

- ``wb``: this tree's ``python -m whiteboard serve`` (fsync on, the default; rate limits lifted
  for the writers' connections only matter for the room, see ``--server-flag``);
- ``wb-base``: the same from another checkout (``--baseline-repo``), e.g. the commit before;
- ``relay-quart``: ``relay_quart.py``, a bare Quart + Hypercorn relay (sender task + bounded queue
  per connection);
- ``relay-ws``: ``relay_websockets.py``, ``websockets.broadcast``.

    python bench/bench_talk.py --quick                      # talk 100/300, ~2 min
    python bench/bench_talk.py --talk 100,300,1000 --cursors 300 --room --joins --memory

Relays forward every frame to every other client, cursors included: they run the talk and the
room, not the cursor runs (they would forward 300 x 20 cursors/s to each of 300 viewers).
Results: stdout and bench/results/talk-<time>.json (git-ignored); docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Coroutine
from itertools import product
from pathlib import Path
from typing import Any

from bench_fanout import collapse, machine, wait_until_quiet
from joins import join_storm, memory_per_connection
from procs import Server, cpu_pressure_us, relay_server, whiteboard_server
from talk import TalkConfig, TalkRun, run_talk

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SERVER_CORE, CLIENT_CORE = 0, 1
MAX_PRESSURE = 0.25
# The room's writers are real-rate browsers (60 frames/s), under the default limits, and so is
# the talk's presenter. One limit is raised: the join storm puts 3,000 clients on one board, over
# the default max_connections_per_board (2,000). The load generator is one address for thousands
# of clients, as a hall behind one NAT is: nothing limits it per address.
SERVER_FLAGS: list[str] = ["--max-connections-per-board", "4000"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="talk 100 and 300, short windows")
    parser.add_argument("--talk", default="", help="viewer counts of the talk, comma-separated")
    parser.add_argument("--cursors", default="", help="viewer counts that also send cursors")
    parser.add_argument("--cursor-hz", type=float, default=20.0)
    parser.add_argument("--room", action="store_true", help="20 writers + 30 viewers")
    parser.add_argument("--joins", action="store_true", help="join storms of --join-clients")
    parser.add_argument("--join-clients", type=int, default=3000)
    parser.add_argument("--joins-at-once", default="1,50", help="join storm wave sizes")
    parser.add_argument("--memory", action="store_true", help="RSS per connection")
    parser.add_argument(
        "--profile", type=int, default=0, help="py-spy a talk of this many viewers on each server"
    )
    parser.add_argument(
        "--profile-joins", type=int, default=0, help="py-spy a join storm of waves of this many"
    )
    parser.add_argument("--profile-s", type=float, default=8.0)
    parser.add_argument("--servers", default="wb,relay-quart,relay-ws")
    parser.add_argument("--baseline-repo", type=Path, help="checkout to run as wb-base")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--base-port", type=int, default=8840)
    parser.add_argument("--server-flag", action="append", default=[])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.talk = args.talk or "100,300"
        args.duration = min(args.duration, 3.0)
    return args


def make_servers(args: argparse.Namespace, tmp: Path) -> dict[str, Server]:
    flags = [*SERVER_FLAGS, *args.server_flag]
    port = args.base_port
    servers: dict[str, Server] = {}
    for name in args.servers.split(","):
        if name == "wb":
            servers[name] = whiteboard_server(name, port, tmp / name, tmp, SERVER_CORE, True, flags)
        elif name == "wb-frame-hello":  # this tree, its clients saying hello in a first frame
            servers[name] = whiteboard_server(name, port, tmp / name, tmp, SERVER_CORE, True, flags)
            servers[name].extra["frame_hello"] = True
        elif name == "wb-base":
            if args.baseline_repo is None:
                raise SystemExit("wb-base needs --baseline-repo")
            # Its default was 200 connections per board: raised, as for this tree.
            base_flags = [*args.server_flag, "--max-connections-per-board", "5000"]
            servers[name] = whiteboard_server(
                name,
                port,
                tmp / name,
                tmp,
                SERVER_CORE,
                True,
                base_flags,
                repo=args.baseline_repo.resolve(),
            )
        elif name == "relay-quart":
            servers[name] = relay_server(name, port, tmp, SERVER_CORE, "relay_quart.py")
        elif name == "relay-ws":
            servers[name] = relay_server(name, port, tmp, SERVER_CORE, "relay_websockets.py")
        else:
            raise SystemExit(f"unknown server {name}")
        port += 1
    return servers


async def measured(run, label: str, server: Server) -> dict:
    """Run a window on a fresh server, rerunning (twice at most) when other processes loaded our
    cores; the least contended attempt is kept."""
    attempts = []
    for _ in range(3):
        server.restart() if server.proc else server.start()
        await wait_until_quiet(MAX_PRESSURE / 2)
        try:
            row = await run()
        except Exception as exc:  # one failed window must not lose the others
            row = {"server": server.label, "error": repr(exc), "cpu_pressure": 0.0}
        attempts.append(row)
        print(_line(label, row), flush=True)
        if row.get("cpu_pressure", 0) <= MAX_PRESSURE:
            break
        print("    (machine busy with other processes: rerun)", flush=True)
    return min(attempts, key=lambda r: r.get("cpu_pressure", 0))


def _line(label: str, row: dict) -> str:
    keys = (
        "p50_ms",
        "p99_ms",
        "viewer_frames_per_s",
        "viewer_frames_per_s_min",
        "viewer_kbytes_per_s",
        "server_cpu",
        "server_cpu_us_per_frame",
        "client_cpu",
        "rss_mb",
        "rss_kb_per_connection",
        "connections_lost",
        "cpu_pressure",
        "total_s",
        "presence_bytes_per_join",
    )
    shown = " ".join(f"{k}={row[k]:.4g}" for k in keys if isinstance(row.get(k), int | float))
    return f"{label:40s} {shown}"


LAYERS = (
    ("whiteboard/", "whiteboard (our code)"),
    ("quart/", "Quart"),
    ("hypercorn/", "Hypercorn"),
    ("wsproto/", "wsproto"),
    ("h11/", "h11"),
    ("msgpack", "msgpack"),
    ("asyncio/", "asyncio (loop, transports, socket calls)"),
    ("selectors", "asyncio (loop, transports, socket calls)"),
)


def layers(raw_path: Path) -> list[tuple[str, float]]:
    """Self time (the leaf frame of each sample) by layer of the stack: where the CPU goes."""
    counts: dict[str, int] = {}
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        leaf = stack.split(";")[-1]
        layer = next((name for marker, name in LAYERS if marker in leaf), "other (Python, C)")
        counts[layer] = counts.get(layer, 0) + int(count_text)
        total += int(count_text)
    return sorted(((k, v / total) for k, v in counts.items()), key=lambda kv: -kv[1])


async def profiled_talk(server: Server, viewers: int, seconds: float, out: Path) -> dict:
    """A talk of ``viewers`` with py-spy recording the server for ``seconds`` of its window."""
    config = TalkConfig(viewers, warmup_s=1.0, duration_s=seconds + 2)
    talk = TalkRun(server, config, f"profile{viewers}", 7)
    raw_path = out / f"pyspy-talk{viewers}-{server.label}.txt"
    return await profiled(server, talk.run(), talk.window_open, seconds, raw_path)


async def profiled_joins(
    server: Server, clients: int, at_once: int, seconds: float, out: Path
) -> dict:
    """A join storm with py-spy recording the server for its first ``seconds``."""
    raw_path = out / f"pyspy-joins{clients}x{at_once}-{server.label}.txt"
    return await profiled(server, join_storm(server, clients, at_once), None, seconds, raw_path)


async def profiled(
    server: Server,
    work: Coroutine[Any, Any, dict],
    started: asyncio.Event | None,
    seconds: float,
    raw_path: Path,
) -> dict:
    """Run ``work`` with py-spy recording the server for ``seconds`` from ``started`` (or at
    once); the samples summed by layer and by function, and ``work``'s own row."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    task = asyncio.create_task(work)
    if started is not None:
        await asyncio.wait_for(started.wait(), 120)
    spy = await asyncio.create_subprocess_exec(
        *("taskset", "-c", str(CLIENT_CORE), py_spy, "record", "--pid", str(server.pid)),
        *("--duration", str(int(seconds)), "--rate", "250", "--format", "raw"),
        *("--output", str(raw_path), "--nonblocking"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(spy.communicate(), seconds + 30)
    row = await task
    if not raw_path.exists():
        return {"error": err.decode()[-500:], "row": row}
    return {"raw_path": str(raw_path), "row": row, "layers": layers(raw_path), **collapse(raw_path)}


async def main_async(args: argparse.Namespace, tmp: Path) -> dict:
    servers = make_servers(args, tmp)
    results: dict = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}}
    rows: list[dict] = []
    run_number = 0

    try:
        plans: list[tuple[str, TalkConfig, bool]] = []
        for viewers in filter(None, args.talk.split(",")):
            config = TalkConfig(int(viewers), warmup_s=args.warmup, duration_s=args.duration)
            plans.append((f"talk {viewers}", config, True))
        for viewers in filter(None, args.cursors.split(",")):
            config = TalkConfig(
                int(viewers),
                cursor_hz=args.cursor_hz,
                warmup_s=args.warmup,
                duration_s=args.duration,
            )
            plans.append((f"talk {viewers} + cursors", config, False))
        if args.room:
            config = TalkConfig(
                30, writers=20, writer_cursors=True, warmup_s=args.warmup, duration_s=args.duration
            )
            plans.append(("room 20 writers + 30 viewers", config, True))
        for rep in range(args.reps):
            for label, config, with_relays in plans:
                config.probes = min(args.probes, config.viewers)
                for name, server in servers.items():
                    if server.kind == "relay" and not with_relays:
                        continue
                    run_number += 1
                    board = f"talk{run_number}"
                    row = await measured(
                        lambda s=server, c=config, b=board, n=run_number: run_talk(s, c, b, n),
                        f"{label} [{name}]",
                        server,
                    )
                    row.update(scenario=label, rep=rep)
                    rows.append(row)
        if args.joins:
            waves = [int(n) for n in args.joins_at_once.split(",")]
            for rep, at_once, (name, server) in product(range(args.reps), waves, servers.items()):
                row = await measured(
                    lambda s=server, a=at_once: join_storm(s, args.join_clients, a),
                    f"join storm {args.join_clients} x{at_once} [{name}]",
                    server,
                )
                row.update(scenario=f"join {at_once} at a time", rep=rep)
                rows.append(row)
        if args.memory:
            for idle in (True, False):
                for name, server in servers.items():
                    row = await measured(
                        lambda s=server, i=idle: memory_per_connection(s, idle=i),
                        f"memory {'2000 idle' if idle else '200 active'} [{name}]",
                        server,
                    )
                    row.update(scenario="memory idle" if idle else "memory active")
                    rows.append(row)
        profiles: dict[str, dict] = {}
        for name, server in servers.items():
            if name == "relay-ws" or not (args.profile or args.profile_joins):
                continue
            plans = []
            if args.profile:
                plans.append(
                    (
                        f"talk {args.profile}",
                        lambda s=server: profiled_talk(
                            s, args.profile, args.profile_s, RESULTS_DIR
                        ),
                    )
                )
            if args.profile_joins:
                plans.append(
                    (
                        f"joins {args.join_clients} x{args.profile_joins}",
                        lambda s=server: profiled_joins(
                            s, args.join_clients, args.profile_joins, args.profile_s, RESULTS_DIR
                        ),
                    )
                )
            for label, run in plans:
                server.restart() if server.proc else server.start()
                await wait_until_quiet(MAX_PRESSURE / 2)
                profile = profiles[f"{label} [{name}]"] = await run()
                print(f"profile {label} [{name}]: {profile.get('samples')} samples")
                for layer, share in profile.get("layers", []):
                    print(f"    {share * 100:5.1f}%  {layer}")
                for function, share in profile.get("self", [])[:15]:
                    print(f"    self {share * 100:5.1f}%  {function}")
        if profiles:
            results["profiles"] = profiles
    finally:
        for server in servers.values():
            server.stop()
    results["rows"] = rows
    return results


def main() -> int:
    args = parse_args()
    os.sched_setaffinity(0, {CLIENT_CORE})
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 3,000 clients; servers inherit it
    print(f"cpu pressure at start: {cpu_pressure_us()} µs total", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-talk-") as tmp:
        results = asyncio.run(main_async(args, Path(tmp)))
    RESULTS_DIR.mkdir(exist_ok=True)
    out = args.json or RESULTS_DIR / f"talk-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
