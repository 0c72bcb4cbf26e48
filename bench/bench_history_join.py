"""Late join of a board with a long history against its final state alone (issue 11, item 2),
end to end through a real server.

Three boards are built through ``whiteboard serve`` (this tree, on one core) with complete
``stroke`` messages (``latejoin.build_board``): ``history``, where one presenter draws
``--strokes`` strokes of ``--points`` points and clears the board, ``--rounds`` times (the last
drawing stays); ``final``, the last round's drawing alone; and ``big``, ``--big-strokes`` strokes
(the 10,000 x 50-point benchmark board). A late joiner comes a bit after the drawing
(``--join-after-s`` after the last board was drawn; a board that went quiet is compacted after
``compact_idle_s``); once each board's compaction has caught up (the snapshot a joiner starts from
is the same in two probes and within a compaction interval of the head), ``--joins`` fresh clients
load it, once the server's helper processes (compaction, first pictures) are idle
(``latejoin.late_join``: from before the TCP connect to the decode of the last op) and
the median is printed, with the bytes on the wire per point. ``--baseline-repo`` builds the same
boards on a server of another checkout and measures it beside this tree, board by board.

    python bench/bench_history_join.py
    python bench/bench_history_join.py --rounds 3 --big-strokes 2000   # a quick look
    python bench/bench_history_join.py --baseline-repo ../whiteboard-main   # beside another tree

Targets: the history board's join within 1.3x of the final board's, and at most 3 bytes per point
on the wire for the big board.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import msgpack
from hello import hello_frame
from latejoin import build_board, late_join
from procs import REPO, Server, wait_helpers_idle, whiteboard_server
from wsclient import RawWebSocket

COMPACT_AFTER_OPS = 1000  # the server's default
JOIN_AFTER_S = 5.0  # a bit later than the drawing; the server's compact_idle_s is 2 s
SETTLE_TIMEOUT_S = 120.0
SETTLE_POLL_S = 1.0
CLEAR_TIMEOUT_S = 30.0
PRESENTER = "presenter-history-0001"


async def clear(server: Server, board: str, seq: int) -> None:
    """The presenter clears ``board`` (at ``seq``) and waits until the clear is committed."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def on_message(payload: bytes, arrival_s: float) -> None:
        message = msgpack.unpackb(payload)
        ops = message.get("ops", []) if message.get("type") == "batch" else [message]
        if any(op.get("type") == "clear" for op in ops):
            if not done.done():
                done.set_result(None)

    ws = await RawWebSocket.connect(server.port, f"/b/{board}/ws", on_message)
    ws.send(hello_frame(PRESENTER, "presenter", "#123456", since=seq))
    ws.send(msgpack.packb({"type": "clear", "id": f"clear-{seq}"}))
    await asyncio.wait_for(done, CLEAR_TIMEOUT_S)
    await ws.close()


async def settled(server: Server, board: str) -> dict:
    """A join once the board's snapshot caught up (the same in two probes, within a compaction
    interval of the head); returns that join."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    previous = None
    while True:
        joined = await late_join(server, board)
        snapshot, head = joined["snapshot_seq"], joined["seq"]
        caught_up = snapshot is not None and head - snapshot < COMPACT_AFTER_OPS
        if (caught_up and snapshot == previous) or time.monotonic() > deadline:
            return joined
        previous = snapshot
        await asyncio.sleep(SETTLE_POLL_S)


async def build(server: Server, args: argparse.Namespace) -> None:
    """The three boards on ``server``."""
    seq = 0
    for round_ in range(args.rounds):
        presenter = hello_frame(PRESENTER, "presenter", "#123456", since=seq or None)
        await build_board(
            server, "history", args.strokes, args.points, seed=round_,
            hello=presenter, since=seq or None, id_prefix=f"r{round_}-",
        )  # fmt: skip
        seq += args.strokes
        if round_ < args.rounds - 1:
            await clear(server, "history", seq)
            seq += 1
    seed = args.rounds - 1  # the last round's drawing
    presenter = hello_frame(PRESENTER, "presenter", "#123456")
    await build_board(server, "final", args.strokes, args.points, seed=seed, hello=presenter)
    await build_board(server, "big", args.big_strokes, args.points, seed=11)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--strokes", type=int, default=1000, help="strokes a round")
    parser.add_argument("--points", type=int, default=50, help="points a stroke")
    parser.add_argument("--big-strokes", type=int, default=10_000)
    parser.add_argument("--joins", type=int, default=5)
    parser.add_argument("--port", type=int, default=8890)
    parser.add_argument(
        "--join-after-s",
        type=float,
        default=JOIN_AFTER_S,
        help="joiners come this long after the last board was drawn (then, as always, once "
        "compaction caught up)",
    )
    parser.add_argument(
        "--baseline-repo", type=Path, help="another checkout to measure beside this tree"
    )
    args = parser.parse_args()
    trees = [("this tree", REPO)]
    if args.baseline_repo is not None:
        trees.append((f"base {args.baseline_repo.name}", args.baseline_repo.resolve()))
    with tempfile.TemporaryDirectory() as tmp:
        servers = []
        for index, (label, repo) in enumerate(trees):
            boards = Path(tmp) / f"boards-{index}"
            server = whiteboard_server(
                f"history-{index}", args.port + index, boards, Path(tmp), 1, False, [], repo
            )
            servers.append((label, server))
        try:
            for _, server in servers:
                server.start()
                await build(server, args)
            await asyncio.sleep(args.join_after_s)
            print(
                "| tree | board | ops | snapshot at | join median [min-max] ms | "
                "bytes on the wire | points | bytes/point |\n"
                "|---|---|---:|---:|---:|---:|---:|---:|"
            )
            medians: dict[tuple[str, str], float] = {}
            wire: dict[tuple[str, str], int] = {}
            for board in ("history", "final", "big"):
                for label, server in servers:
                    first = await settled(server, board)
                    # The server's compaction and first-picture renders share its core.
                    await asyncio.to_thread(wait_helpers_idle, server.pid)
                    joins = [await late_join(server, board) for _ in range(args.joins)]
                    times = [j["join_s"] * 1000 for j in joins]
                    medians[label, board] = statistics.median(times)
                    last = joins[-1]
                    wire[label, board] = last["wire_bytes"]
                    print(
                        f"| {label} | {board} | {last['seq']:,} | {first['snapshot_seq']} | "
                        f"{medians[label, board]:.1f} [{min(times):.1f}-{max(times):.1f}] | "
                        f"{last['wire_bytes']:,} | {last['points']:,} | "
                        f"{last['wire_bytes'] / max(1, last['points']):.2f} |",
                        flush=True,
                    )
            for label, _ in servers:
                time_ratio = medians[label, "history"] / medians[label, "final"]
                bytes_ratio = wire[label, "history"] / wire[label, "final"]
                print(
                    f"{label}: history / final {time_ratio:.2f}x in time, {bytes_ratio:.2f}x in "
                    "bytes (target 1.3x)"
                )
        finally:
            for _, server in servers:
                server.stop()


if __name__ == "__main__":
    asyncio.run(main())
