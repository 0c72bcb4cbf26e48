"""A full or read-only disk refuses writers cleanly; readers keep reading and exporting.

The server runs in a private mount namespace (``unshare``) on a tmpfs of its own: a tiny one the
test fills up through ``/proc/<pid>/root``, or one remounted read-only before the server starts.
Before, a failed write closed the board's clients with 1011; they resent, the board reloaded and
failed again, in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.client import BoardClient, is_op, pen_stroke
from tests.logs import board_log
from tests.serving import ServerProcess
from whiteboard.store.records import parse_log

TMPFS_BYTES = 512 * 1024


def private_tmpfs(mount_point: Path, *then: str) -> tuple[str, ...]:
    """A wrapper running the server in its own mount namespace on a tmpfs at ``mount_point``."""
    script = f"mount -t tmpfs -o size={TMPFS_BYTES} tmpfs {mount_point}"
    for command in then:
        script += f" && {command}"
    return ("unshare", "-Urm", "sh", "-c", script + ' && exec "$@"', "sh")


@pytest.fixture(autouse=True)
def namespaces_available(tmp_path: Path) -> None:
    probe = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", f"mount -t tmpfs tmpfs {tmp_path}"],
        capture_output=True,
        check=False,
    )
    if shutil.which("unshare") is None or probe.returncode != 0:
        pytest.skip("needs unshare -Urm and tmpfs mounts in a user namespace")


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def fill(directory: Path) -> Path:
    """Write zeros into ``directory`` until its file system is full."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


async def test_a_full_disk_refuses_writers_with_storage_full_and_readers_go_on(
    tmp_path: Path,
) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    output = tmp_path / "server.log"
    with ServerProcess(
        boards,
        "--min-free-disk-bytes",
        "0",
        prefix=private_tmpfs(boards),
        output=output,
    ) as server:
        assert server.proc is not None
        inside = Path(f"/proc/{server.proc.pid}/root") / boards.relative_to("/")
        writer = await BoardClient.connect(server.ws_url, "b", "writer")
        reader = await BoardClient.connect(server.ws_url, "b", "reader")
        await writer.send(pen_stroke("saved"))
        await reader.wait_for(is_op("stroke", "saved"))
        assert http_get(f"{server.http_url}/readyz")[0] == 200

        filler = fill(inside)
        for n in range(3):  # the first write fails on the disk, the others up front
            await writer.send(pen_stroke(f"lost{n}", pts=[n, n] + [1, 1] * 5000))
            error = await writer.wait_for(lambda m, n=n: m.get("id") == f"lost{n}")
            assert (error["type"], error["code"]) == ("error", "storage_full"), error
        status, body = http_get(f"{server.http_url}/readyz")
        assert status == 503 and "full" in json.loads(body)["reason"]
        assert http_get(f"{server.http_url}/healthz")[0] == 200
        assert http_get(f"{server.http_url}/b/b/export.svg")[0] == 200
        late = await BoardClient.connect(server.ws_url, "b", "late")  # readers still join
        await late.wait_for_seq(late.welcome["seq"])
        assert [m["id"] for m in late.committed()] == ["saved"]
        for client in (writer, reader):  # nobody was disconnected
            await asyncio.wait_for(await client.ws.ping(), 5)

        filler.unlink()
        status = 503
        async with asyncio.timeout(10):
            while status != 200:  # rechecked every second
                status, _ = http_get(f"{server.http_url}/readyz")
        await writer.send(pen_stroke("after"))
        await reader.wait_for(is_op("stroke", "after"))
        records = parse_log((inside / "b.log").read_bytes())
        assert records.clean and len(records.records) == 2
        for client in (writer, reader, late):
            await client.close()
        server.signal(signal.SIGTERM)
        server.wait()
    log = output.read_text()
    assert log.count("cannot take writes") == 1, log
    assert "takes writes again" in log
    assert "Traceback" not in log.split("shutting down")[0]  # (shutdown's own are item 9's)


async def test_a_read_only_disk_serves_boards_and_refuses_writers(tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    source = tmp_path / "source.log"
    source.write_bytes(board_log(5))
    output = tmp_path / "server.log"
    wrapper = private_tmpfs(boards, f"cp {source} {boards}/b.log", f"mount -o remount,ro {boards}")
    with ServerProcess(boards, prefix=wrapper, output=output) as server:
        status, body = http_get(f"{server.http_url}/readyz")
        assert status == 503 and "read-only" in json.loads(body)["reason"]
        viewer = await BoardClient.connect(server.ws_url, "b", "viewer")
        await viewer.wait_for_seq(5)
        await viewer.send(pen_stroke("nope"))
        error = await viewer.wait_for(lambda m: m.get("id") == "nope")
        assert error["code"] == "storage_full" and "read-only" in error["reason"]
        assert http_get(f"{server.http_url}/b/b/export.png")[0] == 200
        await viewer.close()
