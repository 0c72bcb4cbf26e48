"""Closed means closed: after the server decides to close, the documented code reaches the client
and the socket is gone within the deadline, whatever the client does; shutdowns and refused
frames log no tracebacks."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
import websockets

from bench.wsclient import OP_CLOSE, OP_TEXT, RawWebSocket, encode_client_frame
from tests.integration.client import BoardClient
from tests.integration.rawclient import RawReader
from tests.serving import ServerProcess, ServerThread
from whiteboard.protocol import CloseCode, encode_hello
from whiteboard.settings import Settings

CLOSE_TIMEOUT_S = 0.5
BAD_OP = {"type": "stroke", "id": "x", "tool": "pen", "color": "red", "width": 2, "pts": [0, 0]}


class Stubborn(RawWebSocket):
    """Keeps sending after the server's close frame and never answers it."""

    def _frame(self, fin: int, opcode: int, payload: bytes, arrival_s: float) -> None:
        if opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            return
        super()._frame(fin, opcode, payload, arrival_s)


def closing_settings(boards_dir: Path, **changes: Any) -> Settings:
    return Settings(
        boards_dir=boards_dir,
        fsync=False,
        close_timeout_s=CLOSE_TIMEOUT_S,
        frames_per_second=50,
        max_errors_per_connection=3,
        **changes,
    )


# (what the client sends after its hello, over and over; the close code it earns)
VIOLATIONS = {
    "rate limit": (msgpack.packb({"type": "cursor", "x": 1, "y": 1}), CloseCode.RATE_LIMITED),
    "malformed": (b"\xc1", CloseCode.MALFORMED_FRAME),
    "errors": (msgpack.packb(BAD_OP), CloseCode.TOO_MANY_ERRORS),
    "no hello": (msgpack.packb(BAD_OP), CloseCode.BAD_HANDSHAKE),
}


async def keep_sending(ws: RawWebSocket, frame: bytes, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not ws.closed.done():
        ws.send(frame)
        await asyncio.sleep(0.002)


@pytest.mark.parametrize("violation", list(VIOLATIONS))
async def test_a_client_that_ignores_the_close_is_cut_off_within_the_deadline(
    boards_dir: Path, violation: str
) -> None:
    frame, code = VIOLATIONS[violation]
    with ServerThread(closing_settings(boards_dir)) as server:
        ws = await Stubborn.connect(server.port, "/b/closing/ws")
        if violation != "no hello":
            ws.send(encode_hello("stubborn", "S", "#000000"))
        started = time.monotonic()
        sending = asyncio.create_task(keep_sending(ws, frame, 10))
        # Without the cut the socket stays open for as long as the client sends (10 s here).
        await asyncio.wait_for(asyncio.shield(ws.closed), CLOSE_TIMEOUT_S + 8)
        assert time.monotonic() - started < CLOSE_TIMEOUT_S + 6
        assert ws.close_code == code  # the close frame came before the cut
        await sending
        async with asyncio.timeout(5):  # and the server let go of it
            while server.call(lambda: len(server.app.extensions["whiteboard_sockets"])):
                await asyncio.sleep(0.01)


@pytest.mark.parametrize("violation", list(VIOLATIONS))
async def test_a_client_that_keeps_sending_still_gets_the_documented_close_code(
    boards_dir: Path, violation: str
) -> None:
    frame, code = VIOLATIONS[violation]
    with ServerThread(closing_settings(boards_dir)) as server:
        # As a browser, it reads what arrives (max_queue=None: the client never stops reading).
        async with websockets.connect(f"{server.ws_url}/b/closing/ws", max_queue=None) as ws:
            if violation != "no hello":
                await ws.send(encode_hello("polite", "P", "#000000"))
            with pytest.raises(websockets.ConnectionClosed) as info:
                async with asyncio.timeout(10):
                    while True:  # it keeps sending, as a flooding client does
                        await ws.send(frame)
                        await asyncio.sleep(0.002)
            assert info.value.rcvd is not None, "the close frame must reach the client"
            assert info.value.rcvd.code == code


async def test_an_oversized_frame_then_a_text_frame_close_1009_without_a_traceback(
    boards_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ServerThread(Settings(boards_dir=boards_dir, max_frame_bytes=4096)) as server:
        reader = await RawReader.connect(server, "big", "big")
        reader.ws.send(b"\x00" * 10_000)
        reader.ws._write(encode_client_frame(b"and then text", OP_TEXT))
        assert await asyncio.wait_for(reader.ws.closed, 5) == CloseCode.MESSAGE_TOO_BIG
        other = await BoardClient.connect(server.ws_url, "big", "other")  # still serving
        await other.close()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_many_frames_after_an_oversized_one_neither_hold_the_socket_nor_log_a_traceback(
    boards_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Each message after an oversized one reaches the app's queue as one more "disconnect"; 30
    # in one write filled the queue (10) after the app had returned, and Hypercorn waited on it
    # for ever: the socket stayed open until a shutdown cancelled it, logging a traceback.
    with ServerThread(closing_settings(boards_dir, max_frame_bytes=4096)) as server:
        ws = await Stubborn.connect(server.port, "/b/big/ws")
        ws.send(encode_hello("stubborn", "S", "#000000"))
        ws.send(b"\x00" * 10_000)
        async with asyncio.timeout(5):  # the server's close frame arrived: it refused the frame
            while ws.close_code is None:
                await asyncio.sleep(0.01)
        assert ws.close_code == CloseCode.MESSAGE_TOO_BIG
        ws._write(encode_client_frame(msgpack.packb(BAD_OP)) * 30)
        await asyncio.wait_for(asyncio.shield(ws.closed), 5)  # the server let go of the socket
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("hello", [True, False], ids=["joined", "before hello"])
async def test_frames_after_an_oversized_one_do_not_keep_the_socket_open(
    boards_dir: Path, hello: bool
) -> None:
    # A browser answers the 1009 and waits for the server to close the connection before its
    # page hears of it. Before, the frame that followed the oversized one kept the client's answer
    # from being read: joined, the socket stayed open for as long as the client liked.
    settings = closing_settings(boards_dir, max_frame_bytes=4096, hello_timeout_s=30)
    with ServerThread(settings) as server:
        async with websockets.connect(f"{server.ws_url}/b/big/ws", close_timeout=30) as ws:
            if hello:
                await ws.send(encode_hello("big", "B", "#000000"))
                await asyncio.wait_for(ws.recv(), 5)
            await ws.send(b"\x00" * 10_000)
            await ws.send(b"\x00" * 10)
            await ws.send("and then text")
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == CloseCode.MESSAGE_TOO_BIG
        async with asyncio.timeout(5):  # and the server let go of it
            while server.call(lambda: len(server.app.extensions["whiteboard_sockets"])):
                await asyncio.sleep(0.01)


async def test_a_client_that_keeps_sending_after_an_oversized_frame_is_cut_off(
    boards_dir: Path,
) -> None:
    settings = closing_settings(boards_dir, max_frame_bytes=4096)
    with ServerThread(settings) as server:
        ws = await Stubborn.connect(server.port, "/b/big/ws")
        ws.send(encode_hello("stubborn", "S", "#000000"))
        ws.send(b"\x00" * 10_000)
        sending = asyncio.create_task(keep_sending(ws, msgpack.packb(BAD_OP), 10))
        await asyncio.wait_for(asyncio.shield(ws.closed), 5)
        assert ws.close_code == CloseCode.MESSAGE_TOO_BIG
        await sending


async def test_shutdown_closes_every_socket_quickly_and_logs_no_traceback(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "boards") as server:
        readers = [await RawReader.connect(server, "bye", f"r{n}") for n in range(4)]
        readers[0].ws.pause_reading()  # never sees the close frame: cut at shutdown_close_s
        in_handshake = await RawWebSocket.connect(server.port, "/b/bye/ws")  # no hello yet
        polite = await BoardClient.connect(server.ws_url, "bye", "polite")
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        with pytest.raises(websockets.ConnectionClosed) as info:
            async with asyncio.timeout(10):
                while True:
                    await polite.receive()
        assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.GOING_AWAY
        await asyncio.wait_for(in_handshake.closed, 10)
        code, out = await asyncio.to_thread(server.wait, 15)
        assert code == 0
        # Under shutdown_close_s (1 s) plus Hypercorn's graceful timeout (3 s), after which it
        # would cancel the connections that remain (a traceback each).
        assert time.monotonic() - started < 4, out
        assert "Traceback" not in out and " ERROR " not in out, out
        assert [r.ws.close_code for r in readers[1:]] == [CloseCode.GOING_AWAY] * 3


def oversized_frame(payload_bytes: int, sent_bytes: int) -> bytes:
    """A client frame of ``payload_bytes`` cut after ``sent_bytes`` of its payload: the rest
    never comes."""
    frame = encode_client_frame(b"\x00" * payload_bytes)
    return frame[: len(frame) - payload_bytes + sent_bytes]


@pytest.mark.parametrize("sent", ["whole", "cut short"], ids=["whole frame", "frame cut short"])
@pytest.mark.parametrize("hello", [True, False], ids=["joined", "before hello"])
async def test_an_oversized_frame_then_silence_is_closed_with_1009_within_the_deadline(
    boards_dir: Path, hello: bool, sent: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The client sends one frame over max_frame_bytes (all of it, or its first 10 kB of a
    # declared 64 kB) and then neither sends nor answers the close. Hypercorn sent its 1009 but
    # told the app only at the end of the message, which never came: the socket stayed open,
    # its slot on the board held, for as long as the client liked.
    caplog.set_level(logging.INFO, logger="whiteboard")
    settings = closing_settings(boards_dir, max_frame_bytes=4096, hello_timeout_s=30)
    with ServerThread(settings) as server:
        ws = await Stubborn.connect(server.port, "/b/big/ws")
        if hello:
            ws.send(encode_hello("stubborn", "S", "#000000"))
            async with asyncio.timeout(5):
                while not ws.frames_received:  # its welcome: it joined
                    await asyncio.sleep(0.01)
        started = time.monotonic()
        ws._write(oversized_frame(10_000 if sent == "whole" else 65_536, 10_000))
        await asyncio.wait_for(asyncio.shield(ws.closed), CLOSE_TIMEOUT_S + 5)
        assert time.monotonic() - started < CLOSE_TIMEOUT_S + 3
        assert ws.close_code == CloseCode.MESSAGE_TOO_BIG
        async with asyncio.timeout(5):  # and the server let go of it
            while server.call(lambda: len(server.app.extensions["whiteboard_sockets"])):
                await asyncio.sleep(0.01)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert len([r for r in caplog.records if "code=1009" in r.getMessage()]) == 1
