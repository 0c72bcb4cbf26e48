"""ExportGate: export requests enter the framework one at a time; nothing else waits for them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from whiteboard.export.http import ENTERED, ExportGate


class Recorder:
    """An ASGI app that records how many requests are in their set-up at once. A request's
    set-up ends when it calls ``scope[ENTERED]`` (as the export route does), when it starts its
    response, or when it returns, as ``how`` says."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.setting_up = 0
        self.most_setting_up = 0
        self.paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.setting_up += 1
        self.most_setting_up = max(self.most_setting_up, self.setting_up)
        for _ in range(3):  # the framework's steps, each a turn of the loop
            await asyncio.sleep(0)
        self.setting_up -= 1
        self.paths.append(scope["path"])
        if self.how == "route" and ENTERED in scope:
            scope[ENTERED]()
        if self.how in ("route", "response"):
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.01)  # the render and the body: others may enter meanwhile


def http(path: str) -> dict[str, Any]:
    return {"type": "http", "path": path}


async def nothing_to_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


async def discard(message: Any) -> None:
    pass


@pytest.mark.parametrize("how", ["route", "response", "return"])
async def test_export_requests_enter_one_at_a_time_and_all_get_in(how: str) -> None:
    app = Recorder(how)
    gate = ExportGate(app)
    paths = [f"/b/board{i}/export.{kind}" for i in range(10) for kind in ("png", "svg", "pdf")]
    paths.append("/b/board/timelapse.gif")
    await asyncio.wait_for(
        asyncio.gather(*(gate(http(path), nothing_to_receive, discard) for path in paths)), 10
    )
    assert sorted(app.paths) == sorted(paths)
    assert app.most_setting_up == 1


async def test_other_requests_pass_straight_through() -> None:
    app = Recorder("route")
    gate = ExportGate(app)
    paths = ["/", "/b/board", "/healthz", "/static/app.js", "/b/board/export.txt"]
    await asyncio.gather(*(gate(http(path), nothing_to_receive, discard) for path in paths))
    assert app.most_setting_up == len(paths)
    ws = {"type": "websocket", "path": "/b/board/export.png"}
    await gate(ws, nothing_to_receive, discard)
    assert ENTERED not in ws
