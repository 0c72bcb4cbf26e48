"""Text, notes, pastes and moves between real clients: previews others see while typing and
dragging, and the committed ops that end them."""

from __future__ import annotations

from tests.integration.client import BoardClient, is_op, pen_stroke
from tests.serving import ServerThread

HEBREW = "Hello\n\u05e9\u05dc\u05d5\u05dd"


def note(op_id: str, text: str) -> dict:
    return {
        "type": "note",
        "id": op_id,
        "x": 5,
        "y": 6,
        "size": 20,
        "color": "#ffee88",
        "text": text,
    }


async def test_a_draft_is_seen_live_and_replaced_by_its_commit(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "typing", "ann")
    bob = await BoardClient.connect(server.ws_url, "typing", "bob")
    await ann.send({**note("n1", "He"), "type": "draft", "kind": "note"})
    draft = await bob.wait_for(is_op("draft", "n1"))
    assert draft["peer"] == ann.welcome["peer"] and draft["text"] == "He"
    assert draft["kind"] == "note" and "target" not in draft
    await ann.send({**note("n1", HEBREW), "type": "draft", "kind": "note"})
    await bob.wait_for(lambda m: is_op("draft", "n1")(m) and m["text"] == HEBREW)
    await ann.send(note("n1", HEBREW))
    committed = await bob.wait_for(is_op("note", "n1"))
    assert committed["text"] == HEBREW and committed["seq"] == 1
    await ann.send({"type": "edit", "id": "e1", "target": "n1", "text": "Bye"})
    assert (await bob.wait_for(is_op("edit", "e1")))["text"] == "Bye"
    await ann.close()
    await bob.close()


async def test_a_move_is_seen_while_dragged_and_committed_as_one_transform(
    server: ServerThread,
) -> None:
    ann = await BoardClient.connect(server.ws_url, "drag", "ann")
    bob = await BoardClient.connect(server.ws_url, "drag", "bob")
    await ann.send(pen_stroke("s1"), note("n1", "x"))
    await bob.wait_for_seq(2)
    for dx in (5, 10, 15):
        await ann.send({"type": "moving", "id": "mv", "ids": ["s1", "n1"], "m": [1, 1, dx, 0]})
    moving = await bob.wait_for(lambda m: is_op("moving", "mv")(m) and m["m"][2] == 15)
    assert moving["ids"] == ["s1", "n1"] and moving["peer"] == ann.welcome["peer"]
    await ann.send(
        {"type": "transform", "id": "mv", "ids": ["s1", "n1", "gone"], "m": [1, 1, 15, 0]}
    )
    transform = await bob.wait_for(is_op("transform", "mv"))
    assert transform["ids"] == ["s1", "n1"] and transform["m"] == [1, 1, 15, 0]
    await ann.send({"type": "z", "id": "z1", "ids": ["s1"], "to": "front"})
    assert (await bob.wait_for(is_op("z", "z1")))["to"] == "front"
    await ann.send({"type": "undo", "id": "u1"}, {"type": "undo", "id": "u2"})
    undo = await bob.wait_for(lambda m: is_op("undo", "u2")(m))
    assert undo["target"] == "mv"
    await ann.close()
    await bob.close()


async def test_previews_of_a_client_that_leaves_or_whose_op_is_refused_are_aborted(
    server: ServerThread,
) -> None:
    ann = await BoardClient.connect(server.ws_url, "gone", "ann")
    bob = await BoardClient.connect(server.ws_url, "gone", "bob")
    await ann.send({"type": "moving", "id": "mv", "ids": ["nothing"], "m": [2, 2, 0, 0]})
    await bob.wait_for(is_op("moving", "mv"))
    await ann.send({"type": "transform", "id": "mv", "ids": ["nothing"], "m": [2, 2, 0, 0]})
    aborted = await bob.wait_for(is_op("abort", "mv"))
    assert aborted["peer"] == ann.welcome["peer"]
    error = await ann.wait_for(lambda m: m.get("type") == "error")
    assert error["code"] == "unknown_stroke" and error["id"] == "mv"
    await ann.send({**note("d1", ""), "type": "draft", "kind": "text"})
    await bob.wait_for(is_op("draft", "d1"))
    await ann.close()
    await bob.wait_for(is_op("abort", "d1"))
    await bob.close()


async def test_a_paste_is_one_op_and_one_undo(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "paste", "ann")
    items = [note("p1", "a"), pen_stroke("p2", m=[2, 2, 0, 0]), {**note("p3", "b"), "type": "text"}]
    await ann.send({"type": "add", "id": "paste", "items": items})
    add = await ann.wait_for(is_op("add", "paste"))
    assert [item["id"] for item in add["items"]] == ["p1", "p2", "p3"]
    assert add["items"][1]["m"] == [2, 2, 0, 0] and "m" not in add["items"][0]
    await ann.send({"type": "undo", "id": "u"})
    assert (await ann.wait_for(is_op("undo", "u")))["target"] == "paste"
    await ann.close()
