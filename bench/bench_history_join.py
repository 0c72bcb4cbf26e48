"""Late join of a board with a long history against its final state alone (issue 11, item 2),
end to end through a real server.

Three boards are built through ``whiteboard serve`` (this tree, on one core) with complete
``stroke`` messages (``latejoin.build_board``): ``history``, where one presenter draws
``--strokes`` strokes of ``--points`` points and clears the board, ``--rounds`` times (the last
drawing stays); ``final``, the last round's drawing alone; and ``big``, ``--big-strokes`` strokes
(the 10,000 x 50-point benchmark board). Once each board's compaction has caught up (the snapshot
a joiner starts from is the same in two probes and within a compaction interval of the head),
``--joins`` fresh clients load it (``latejoin.late_join``: from before the TCP connect to the
decode of the last op) and the median is printed, with the bytes on the wire per point.

    python bench/bench_history_join.py
    python bench/bench_history_join.py --rounds 3 --big-strokes 2000   # a quick look

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
from procs import Server, whiteboard_server
from wsclient import RawWebSocket

COMPACT_AFTER_OPS = 1000  # the server's default
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--strokes", type=int, default=1000, help="strokes a round")
    parser.add_argument("--points", type=int, default=50, help="points a stroke")
    parser.add_argument("--big-strokes", type=int, default=10_000)
    parser.add_argument("--joins", type=int, default=5)
    parser.add_argument("--port", type=int, default=8890)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        boards = Path(tmp) / "boards"
        server = whiteboard_server("history", args.port, boards, Path(tmp), 1, False, [])
        server.start()
        try:
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
            await build_board(
                server, "final", args.strokes, args.points, seed=seed, hello=presenter
            )
            await build_board(server, "big", args.big_strokes, args.points, seed=11)
            print(
                "| board | ops | snapshot at | join median [min-max] ms | bytes on the wire | "
                "points | bytes/point |\n|---|---:|---:|---:|---:|---:|---:|"
            )
            medians = {}
            for board in ("history", "final", "big"):
                first = await settled(server, board)
                joins = [await late_join(server, board) for _ in range(args.joins)]
                times = [j["join_s"] * 1000 for j in joins]
                medians[board] = statistics.median(times)
                last = joins[-1]
                print(
                    f"| {board} | {last['seq']:,} | {first['snapshot_seq']} | "
                    f"{medians[board]:.1f} [{min(times):.1f}-{max(times):.1f}] | "
                    f"{last['wire_bytes']:,} | {last['points']:,} | "
                    f"{last['wire_bytes'] / max(1, last['points']):.2f} |",
                    flush=True,
                )
            print(f"history / final: {medians['history'] / medians['final']:.2f}x (target 1.3x)")
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
