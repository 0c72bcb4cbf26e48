"""A client's view of a board, built only from what the server sends (``docs/protocol.md``):
``snapshot`` messages, then committed ops applied in seq order, undo and redo with their
``restore``. Tests compare its visible strokes with the server's ``Board``; the page's mirror
(``static/js/board.js``) follows the same rules and is checked in ``tests/browser``."""

from __future__ import annotations

from typing import Any

from tests.integration.client import BoardClient
from whiteboard.snapshot import read_zigzag_varints


class Mirror:
    def __init__(self) -> None:
        self.seq = 0
        self.order: list[str] = []  # element ids in the order they were added
        self.elements: dict[str, dict[str, Any]] = {}  # id -> stroke op (pts delta-coded)
        self.visible: dict[str, bool] = {}
        self.hidden_by: dict[str, list[str]] = {}
        self.snapshots = 0  # snapshot messages received
        self.ops = 0  # committed ops applied

    def visible_ids(self) -> list[str]:
        return [i for i in self.order if self.visible[i]]

    def receive(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "snapshot":
            self._snapshot(message)
        elif kind in ("stroke", "erase", "clear", "undo", "redo") and "by" in message:
            self._apply(message)

    def _add(self, op: dict[str, Any], visible: bool) -> None:
        if op["id"] not in self.elements:
            self.order.append(op["id"])
        self.elements[op["id"]] = op
        self.visible[op["id"]] = visible

    def _snapshot(self, part: dict[str, Any]) -> None:
        self.snapshots += 1
        if part["part"] == 0:
            self.__init__()  # type: ignore[misc]
            self.snapshots = 1
        assert part["start"] == len(self.order), "snapshot parts arrive in order"
        coords = read_zigzag_varints(part["pts"])
        seqs = read_zigzag_varints(part["seqs"])
        pressure = dict(zip(part["p"][::2], part["p"][1::2], strict=True))
        seq, offset = 0, 0
        for index, element_id in enumerate(part["ids"]):
            seq += seqs[index]
            tool, color, width = part["styles"][part["style"][index]]
            count = 2 * part["n"][index]
            op = {
                "type": "stroke",
                "id": element_id,
                "seq": seq,
                "by": part["authors"][part["by"][index]],
                "tool": tool,
                "color": color,
                "width": width,
                "pts": coords[offset : offset + count],
            }
            if index in pressure:
                op["p"] = list(pressure[index])
            offset += count
            self._add(op, True)
        for position in part["hidden"]:
            self.visible[self.order[position]] = False
        if part["last"]:
            self.seq = part["seq"]
            for action_id, positions in part["hidden_by"].items():
                self.hidden_by[action_id] = [self.order[p] for p in positions]

    def _apply(self, op: dict[str, Any]) -> None:
        if op["seq"] <= self.seq:
            return
        assert op["seq"] == self.seq + 1, f"seq {op['seq']} after {self.seq}"
        self.seq = op["seq"]
        self.ops += 1
        kind = op["type"]
        if kind == "stroke":
            self._add(op, True)
        elif kind == "erase":
            self.hidden_by[op["id"]] = self._set(op["ids"], False)
        elif kind == "clear":
            self.hidden_by[op["id"]] = self._set(self.visible_ids(), False)
        else:
            restore = op.get("restore")
            if restore is not None:  # an action older than our snapshot knew: do what it says
                for element in restore.get("show", ()):
                    self._add(element, False)
                self._set([e["id"] for e in restore.get("show", ())], True)
                self._set(restore.get("hide", ()), False)
                return
            target, undoing = op["target"], kind == "undo"
            if target in self.elements:
                self._set([target], not undoing)
            else:
                self._set(self.hidden_by[target], undoing)

    def _set(self, ids: Any, visible: bool) -> list[str]:
        changed = [i for i in ids if i in self.visible and self.visible[i] != visible]
        for element_id in changed:
            self.visible[element_id] = visible
        return changed


async def join(ws_url: str, board: str, client: str, since: int | None = None) -> Mirror:
    """A client joining: its mirror once the replay (snapshot, ops) is in, with its ``welcome``
    and the messages it got."""
    joiner = await BoardClient.connect(ws_url, board, client, since=since)
    head = joiner.welcome["seq"]
    if head > (since or 0):
        await joiner.wait_for(
            lambda m: (
                m.get("seq") == head and ("by" in m or (m["type"] == "snapshot" and m["last"]))
            )
        )
    mirror = Mirror()
    mirror.seq = since or 0
    for message in joiner.received:
        mirror.receive(message)
    mirror.welcome = joiner.welcome  # type: ignore[attr-defined]
    await joiner.close()
    assert mirror.seq == head
    return mirror
