"""Hostile frames over real sockets: the server answers or closes with a documented code, never
fails, and every board replays to exactly what a client watching it all along saw.

Hypothesis writes the frames: valid ops, message maps with hostile fields, batches of anything
and any msgpack value, and, last on a connection, a frame that must close it (bytes that are not
msgpack, a value that is not a map, a batch whose ops are not an array, a text frame, a frame over
``max_frame_bytes``). Each example is one connection to one of a few boards, its frames sent
``REPEATS`` times with fresh op ids; a final stroke of ours tells when the server has dealt with
everything before it. The server runs in a process of its own (one core for it, one for
Hypothesis and the clients); its rate limits, error limit and work budget are lifted so that
frames are judged one by one instead of the first few closing the connection (those limits have
tests of their own), and so are snapshots: a late joiner must get every op, to be compared one by
one (snapshots have tests of their own, ``test_snapshots.py`` and the browser's mirror test).
Afterwards the server is restarted and every board, loaded from its log, must replay the same
ops, and ``whiteboard check`` must find its log clean.

Frames per run: ``WB_FUZZ_FRAMES``, by default 50,000 in CI and 10,000 otherwise. The fuzz costs
about 0.7 ms a frame on the shared two cores (mostly the server judging and fanning out each frame
on its one core, then Hypothesis writing them), so 100,000 frames take about 70 s: more than the
minute of a CI run this test may take. Run them before a release or after touching the protocol:

    WB_FUZZ_FRAMES=100000 python -m pytest tests/integration/test_fuzz.py
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.wsclient import OP_TEXT, RawWebSocket, encode_client_frame
from tests.integration.rawclient import RawReader
from tests.serving import ServerProcess
from tests.test_protocol import ids, small_ints, values
from whiteboard import protocol
from whiteboard.protocol import CloseCode, encode_hello
from whiteboard.store.check import check_log

FUZZ_FRAMES = int(os.environ.get("WB_FUZZ_FRAMES") or (50_000 if os.environ.get("CI") else 10_000))
FRAMES_PER_EXAMPLE = (12, 40)
REPEATS = 8
"""Each example's frames are sent this many times on its connection, op ids made new each time
(``renamed``): Hypothesis spends about 1 ms writing a frame here, the server far less judging it,
so repeats reach many frames in the CI budget while the board keeps changing under them."""
EXAMPLES = FUZZ_FRAMES // (FRAMES_PER_EXAMPLE[0] * REPEATS) + 1
BOARDS = ("fuzz-a", "fuzz-b", "fuzz-c")
MAX_FRAME_BYTES = 64 * 1024
CLOSING_CODES = {
    "garbage": {CloseCode.MALFORMED_FRAME},
    "not-a-map": {CloseCode.MALFORMED_FRAME},
    "bad-batch": {CloseCode.MALFORMED_FRAME},
    "text": {CloseCode.UNSUPPORTED_DATA},
    "huge": {CloseCode.MESSAGE_TOO_BIG},
}
T = TypeVar("T")

KINDS = sorted({*protocol._DECODERS, "hello"})
FIELDS = ["id", "pts", "p", "tool", "color", "width", "ids", "x", "y", "name", "client", "since"]
FIELDS += ["ops", "text", "size", "m", "items", "w", "h", "z", "media", "v", "want"]

short_strokes = st.builds(
    lambda op_id, pts, width: {
        "type": "stroke",
        "id": op_id,
        "tool": "pen",
        "color": "#336699",
        "width": width,
        "pts": pts[: len(pts) // 2 * 2],
    },
    ids,
    st.lists(small_ints, min_size=2, max_size=16),
    st.floats(0.5, 500),
)
hostile_maps = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from(KINDS) | st.text(max_size=6).filter(lambda kind: kind != "batch"),
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=4),
)
simple_ops = st.builds(
    lambda kind, op_id: {"type": kind, "id": op_id},
    st.sampled_from(["undo", "redo", "clear", "end", "abort"]),
    ids,
)
erases = st.builds(
    lambda op_id, ids_: {"type": "erase", "id": op_id, "ids": ids_}, ids, st.lists(ids, max_size=4)
)
op_maps = short_strokes | erases | simple_ops | hostile_maps
messages = op_maps | st.builds(
    lambda ops: {"type": "batch", "ops": ops}, st.lists(op_maps | values, max_size=6)
)
closers = st.sampled_from(sorted(CLOSING_CODES))


class ClientLoop:
    """An event loop in a thread for the clients, so a watcher stays connected across the
    (synchronous) Hypothesis examples."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def renamed(message: Any, repeat: int) -> Any:
    """``message`` with its op ids (and its batch's) suffixed by ``repeat``, so a repeated stroke
    is a new stroke rather than a duplicate."""
    if not isinstance(message, dict) or not repeat:
        return message
    renamed_message = dict(message)
    op_id = message.get("id")
    if isinstance(op_id, str) and len(op_id) <= 60:
        renamed_message["id"] = f"{op_id}-{repeat}"
    if message.get("type") == "batch" and isinstance(message.get("ops"), list):
        renamed_message["ops"] = [renamed(op, repeat) for op in message["ops"]]
    return renamed_message


def server_errors(output: Path) -> list[str]:
    """Lines of the server's output that report an error or a traceback."""
    text = output.read_text(errors="replace") if output.exists() else ""
    return [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]


class Fuzz:
    def __init__(self, server: ServerProcess, clients: ClientLoop, output: Path) -> None:
        self.server, self.clients, self.output = server, clients, output
        self.watchers = {board: clients.run(self.connect(board)) for board in BOARDS}
        self.frames = 0
        self.sessions = 0
        self.closes: dict[int | None, int] = {}
        self.ids = itertools.count()

    async def connect(self, board: str) -> RawReader:
        return await RawReader.connect(self.server, board, "watcher")  # type: ignore[arg-type]

    async def session(self, board: str, frames: list[Any], closer: str | None) -> None:
        """One connection: hello, the frames, our sync stroke, then the closer, if any."""
        watcher = self.watchers[board]
        head = max((m["seq"] for m in watcher.messages if "seq" in m), default=0)
        sync_id = f"sync-{next(self.ids)}"
        sync_mark = msgpack.packb(sync_id)  # in the frame that acknowledges our last stroke
        synced = False

        def on_message(payload: bytes, arrival_s: float) -> None:
            nonlocal synced
            synced = synced or sync_mark in payload

        ws = await RawWebSocket.connect(self.server.port, f"/b/{board}/ws", on_message)
        ws.send(encode_hello(f"fuzzer-{self.sessions}", "fuzzer", "#ff0000", head))
        for repeat in range(REPEATS):
            for frame in frames:
                ws.send(msgpack.packb(renamed(frame, repeat)))
        ws.send(
            msgpack.packb(
                {
                    "type": "stroke",
                    "id": sync_id,
                    "tool": "pen",
                    "color": "#000000",
                    "width": 2,
                    "pts": [0, 0, 1, 1],
                }
            )
        )
        async with asyncio.timeout(30):
            while not synced and not ws.closed.done():
                await asyncio.sleep(0.005)
        assert not ws.closed.done(), f"closed {ws.close_code} before our last stroke"
        if closer == "garbage":
            ws.send(b"\xc1 not msgpack")
        elif closer == "text":
            ws._write(encode_client_frame(b"{}", OP_TEXT))
        elif closer == "not-a-map":
            ws.send(msgpack.packb([1, "two"]))
        elif closer == "bad-batch":
            ws.send(msgpack.packb({"type": "batch", "ops": "none"}))
        elif closer == "huge":
            ws.send(b"\x00" * (MAX_FRAME_BYTES + 1))
        else:
            ws.transport.abort()
        code = await asyncio.wait_for(ws.closed, 30)
        self.closes[code] = self.closes.get(code, 0) + 1
        if closer is not None:
            assert code in CLOSING_CODES[closer], f"{closer} closed with {code}"
        self.frames += len(frames) * REPEATS + 2
        self.sessions += 1


SERVER_ARGS = (
    "--fsync=off",
    f"--max-frame-bytes={MAX_FRAME_BYTES}",
    "--frames-per-second=1e9",
    f"--bytes-per-second={2**40}",
    f"--max-errors-per-connection={10**9}",
    "--max-work-ms-per-second=1e9",
    "--compact-after-ops=0",
)


def fuzz_server(boards_dir: Path, output: Path) -> ServerProcess:
    """The server in a process of its own: it gets one core, Hypothesis and the clients the
    other."""
    return ServerProcess(boards_dir, *SERVER_ARGS, output=output)


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    work = tmp_path_factory.mktemp("fuzz")
    clients = ClientLoop()
    try:
        with fuzz_server(work / "boards", work / "server.log") as server:
            yield Fuzz(server, clients, work / "server.log")
    finally:
        clients.stop()


@pytest.mark.timeout(300)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    board=st.sampled_from(BOARDS),
    frames=st.lists(
        messages,
        min_size=FRAMES_PER_EXAMPLE[0],
        max_size=FRAMES_PER_EXAMPLE[1],
    ),
    closer=st.none() | closers,
)
def test_fuzzed_frames_are_answered_or_closed_with_a_documented_code(
    fuzz: Fuzz, board: str, frames: list[Any], closer: str | None
) -> None:
    fuzz.clients.run(fuzz.session(board, frames, closer))
    if fuzz.sessions % 50 == 0:
        assert not server_errors(fuzz.output)


def test_after_the_fuzz_every_board_replays_to_what_its_watcher_saw(fuzz: Fuzz) -> None:
    """Live, to a late joiner; then from its log, after a restart; and its log checks clean."""
    assert fuzz.frames >= FUZZ_FRAMES, f"only {fuzz.frames} frames in {fuzz.sessions} sessions"
    watched = {}
    for board in BOARDS:
        live = replayed(fuzz, fuzz.server, board, fuzz.watchers[board])
        watched[board] = ops_by_seq(fuzz.watchers[board])
        assert watched[board] == live
    fuzz.server.signal(signal.SIGTERM)
    assert fuzz.server.wait()[0] == 0
    assert not server_errors(fuzz.output)
    again_output = fuzz.output.with_name("again.log")
    with fuzz_server(fuzz.server.boards_dir, again_output) as again:
        for board in BOARDS:
            assert watched[board] == replayed(fuzz, again, board)
            result = check_log(again.boards_dir / f"{board}.log")
            assert result.clean and result.records > 0, (board, result.problems)
    assert not server_errors(again_output)


def replayed(
    fuzz: Fuzz, server: ServerProcess, board: str, watcher: RawReader | None = None
) -> dict[int, dict[str, Any]]:
    """The ops a client joining ``board`` now receives, by seq (once the watcher, if any, has
    caught up with the same head)."""
    late = fuzz.clients.run(RawReader.connect(server, board, "late"))  # type: ignore[arg-type]
    head = late.welcome["seq"]
    for reader in (late, watcher) if watcher else (late,):
        fuzz.clients.run(reader.wait(lambda r=reader: max_seq(r) >= head))
    ops = ops_by_seq(late)
    assert len(ops) == head
    return ops


def max_seq(reader: RawReader) -> int:
    """The last op seen: not the welcome's ``seq`` (the head), which comes before the replay (a
    restarted server loading the board in slices sent it well before the ops)."""
    return max(ops_by_seq(reader), default=0)


def ops_by_seq(reader: RawReader) -> dict[int, dict[str, Any]]:
    return {m["seq"]: m for m in reader.messages if "seq" in m and m.get("type") != "welcome"}
