"""Board state: seqs, dedup of resends, erase, clear, per-author undo/redo, and exact replay."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whiteboard import layout as layout_module
from whiteboard.board import Board, BoardFull, Duplicate, LiveStroke, NothingToDo
from whiteboard.protocol import (
    Clear,
    End,
    Erase,
    InvalidMessage,
    Points,
    Redo,
    Stroke,
    StrokeTooLong,
    Style,
    Undo,
)

PEN = Style("pen", "#000000", 3.0)


def stroke(op_id: str) -> Stroke:
    return Stroke(op_id, PEN, (0, 0, 4, 4), None)


def visible(board: Board) -> set[str]:
    return set(board.visible_ids())


def decoded(encoded: bytes) -> dict:
    return msgpack.unpackb(encoded)


def test_committed_ops_get_consecutive_seqs_and_carry_their_author() -> None:
    board = Board(max_strokes=10)
    first = decoded(board.commit(stroke("a"), "ann"))
    second = decoded(board.commit(stroke("b"), "bob"))
    assert (first["seq"], first["by"], second["seq"], second["by"]) == (1, "ann", 2, "bob")
    assert board.head_seq == 2 and visible(board) == {"a", "b"}


def test_a_resent_op_is_acknowledged_with_its_seq_and_stored_once() -> None:
    board = Board(max_strokes=10)
    board.commit(stroke("a"), "ann")
    assert board.commit(stroke("a"), "ann") == Duplicate("a", 1)
    assert board.head_seq == 1


def test_an_op_id_taken_by_another_author_is_rejected() -> None:
    board = Board(max_strokes=10)
    board.commit(stroke("a"), "ann")
    with pytest.raises(InvalidMessage, match="another client"):
        board.commit(stroke("a"), "mallory")


def test_erase_logs_only_the_strokes_it_actually_hid() -> None:
    board = Board(max_strokes=10)
    board.commit(stroke("a"), "ann")
    op = decoded(board.commit(Erase("e", ("a", "ghost", "a")), "bob"))
    assert op["ids"] == ["a"] and visible(board) == set()
    with pytest.raises(NothingToDo):
        board.commit(Erase("e2", ("a",)), "bob")


def test_undo_and_redo_apply_to_the_authors_own_actions_only() -> None:
    board = Board(max_strokes=10)
    board.commit(stroke("a1"), "ann")
    board.commit(stroke("b1"), "bob")
    assert decoded(board.commit(Undo("u1"), "ann"))["target"] == "a1"
    assert visible(board) == {"b1"}
    assert decoded(board.commit(Redo("r1"), "ann"))["target"] == "a1"
    assert visible(board) == {"a1", "b1"}
    with pytest.raises(NothingToDo):
        board.commit(Redo("r2"), "ann")


def test_undo_of_an_erase_or_clear_restores_exactly_what_it_hid() -> None:
    board = Board(max_strokes=10)
    for sid in ("a", "b", "c"):
        board.commit(stroke(sid), "ann")
    board.commit(Erase("e", ("a",)), "bob")
    board.commit(Clear("x"), "bob")
    assert visible(board) == set()
    board.commit(Undo("u1"), "bob")  # undoes the clear: b and c come back, a stays erased
    assert visible(board) == {"b", "c"}
    board.commit(Undo("u2"), "bob")  # undoes the erase
    assert visible(board) == {"a", "b", "c"}


def test_a_new_action_empties_the_redo_stack() -> None:
    board = Board(max_strokes=10)
    board.commit(stroke("a"), "ann")
    board.commit(Undo("u"), "ann")
    board.commit(stroke("b"), "ann")
    with pytest.raises(NothingToDo):
        board.commit(Redo("r"), "ann")


def test_board_full_rejects_strokes_and_leaves_the_board_unchanged() -> None:
    board = Board(max_strokes=1)
    board.commit(stroke("a"), "ann")
    with pytest.raises(BoardFull):
        board.commit(stroke("b"), "ann")
    assert board.head_seq == 1


def test_a_refused_reservation_leaves_the_board_unchanged() -> None:
    board = Board(max_strokes=10)

    def refuse(size: int) -> None:
        raise OSError(f"no room for {size} bytes")

    with pytest.raises(OSError):
        board.commit(stroke("a"), "ann", reserve=refuse)
    assert board.head_seq == 0 and board.strokes == {}


def test_replaying_the_log_reproduces_the_board_exactly() -> None:
    board = Board(max_strokes=10)
    for message, author in [
        (stroke("a"), "ann"),
        (stroke("b"), "bob"),
        (Erase("e", ("a",)), "bob"),
        (Undo("u"), "ann"),
        (Clear("c"), "ann"),
        (Undo("u2"), "ann"),
        (Redo("r"), "ann"),
    ]:
        board.commit(message, author)
    replayed = Board(max_strokes=10)
    replayed.load(board.ops)
    assert visible(replayed) == visible(board)
    assert replayed.undo_stacks == board.undo_stacks and replayed.redo_stacks == board.redo_stacks
    assert replayed.ops == board.ops


def history() -> Board:
    board = Board(max_strokes=10)
    for message, author in [
        (stroke("a"), "ann"),
        (stroke("b"), "bob"),
        (Undo("u"), "bob"),
        (stroke("c"), "ann"),
        (Erase("e", ("a",)), "bob"),
    ]:
        board.commit(message, author)
    return board


def test_a_seq_with_no_record_loads_as_a_placeholder_and_the_rest_applies() -> None:
    board = history()
    replayed = Board(max_strokes=10)
    report = replayed.load(board.ops[:3] + board.ops[4:])  # seq 4 lost in a damaged span
    assert report.rejected == [] and report.filled == [4]
    assert replayed.head_seq == 5 and visible(replayed) == set()
    placeholder = decoded(replayed.ops[3])
    assert (placeholder["type"], placeholder["seq"], placeholder["ids"]) == ("erase", 4, [])
    assert replayed.undo_stacks["bob"] == ["e"]  # nobody's stack holds the placeholder
    again = Board(max_strokes=10)
    assert again.load(replayed.ops).filled == []  # placeholders replay like any op
    assert again.ops == replayed.ops


def test_records_that_do_not_follow_are_reported_and_skipped_not_fatal() -> None:
    board = history()
    concatenated = board.ops + board.ops[:2] + [b"\xc1", msgpack.packb([1])]
    replayed = Board(max_strokes=10)
    report = replayed.load(concatenated)
    assert [index for index, _ in report.rejected] == [5, 6, 7, 8]
    assert "does not follow seq 5" in report.rejected[0][1]
    assert replayed.ops == board.ops and visible(replayed) == visible(board)


def test_a_record_that_does_not_apply_changes_nothing_and_later_ones_still_do() -> None:
    board = history()
    bad_undo = msgpack.packb({**decoded(board.ops[2]), "target": "nope"})  # seq 3
    replayed = Board(max_strokes=10)
    report = replayed.load([*board.ops[:2], bad_undo, *board.ops[3:]])
    assert [index for index, _ in report.rejected] == [2] and report.filled == [3]
    assert replayed.head_seq == 5
    assert visible(replayed) == {"b", "c"}  # the undo of "b" is gone, nothing else
    assert replayed.undo_stacks["bob"] == ["b", "e"]


def test_a_live_stroke_accumulates_points_and_commits_as_one_stroke() -> None:
    board = Board(max_strokes=10)
    live = LiveStroke.begin(PEN, (40, 40), None, max_points=10, max_coord=1000)
    live.append(Points("s", (1, 1, 2, 2), None))
    op = decoded(board.commit(End("s"), "ann", live))
    assert op["pts"] == [40, 40, 1, 1, 2, 2]


def test_a_live_stroke_refuses_points_beyond_its_limits() -> None:
    live = LiveStroke.begin(PEN, (0, 0), None, max_points=2, max_coord=10)
    with pytest.raises(StrokeTooLong):
        live.append(Points("s", (1, 1, 1, 1), None))
    with pytest.raises(InvalidMessage, match="within"):
        live.append(Points("s", (41, 0), None))
    with pytest.raises(InvalidMessage, match="with every batch"):
        live.append(Points("s", (1, 1), (50,)))
    assert live.pts == [0, 0]


class NaiveBoard:
    """The visibility rules of docs/protocol.md, one stroke id at a time (the reference)."""

    def __init__(self) -> None:
        self.visible: dict[str, bool] = {}
        self.hidden_by: dict[str, tuple[str, ...]] = {}
        self.stacks: dict[str, tuple[list[str], list[str]]] = {}

    def set_visible(self, ids: tuple[str, ...], visible: bool) -> tuple[str, ...]:
        changed = tuple(i for i in ids if i in self.visible and self.visible[i] != visible)
        for i in changed:
            self.visible[i] = visible
        return changed

    def apply(self, op: dict) -> None:
        undo, redo = self.stacks.setdefault(op["by"], ([], []))
        if op["type"] in ("stroke", "erase", "clear"):
            if op["type"] == "stroke":
                self.visible[op["id"]] = True
            else:
                ids = op.get("ids") or tuple(i for i, v in self.visible.items() if v)
                self.hidden_by[op["id"]] = self.set_visible(tuple(ids), False)
            undo.append(op["id"])
            redo.clear()
            return
        source, dest = (undo, redo) if op["type"] == "undo" else (redo, undo)
        dest.append(source.pop())
        target, undoing = op["target"], op["type"] == "undo"
        if target in self.visible:
            self.set_visible((target,), not undoing)
        else:
            self.set_visible(self.hidden_by[target], undoing)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["stroke", "erase", "clear", "undo", "redo"]),
            st.sampled_from(["ann", "bob"]),
            st.lists(st.integers(0, 30), max_size=4),
        ),
        max_size=80,
    )
)
def test_visibility_bitmap_follows_the_protocol_rules(steps: list) -> None:
    board, naive = Board(max_strokes=1000), NaiveBoard()
    for n, (kind, author, picks) in enumerate(steps):
        if kind == "stroke":
            message = stroke(f"s{n}")
        elif kind == "erase":
            message = Erase(f"e{n}", tuple(f"s{p}" for p in picks) or ("s0",))
        else:
            message = {"clear": Clear, "undo": Undo, "redo": Redo}[kind](f"o{n}")
        try:
            encoded = board.commit(message, author)
        except NothingToDo:
            continue
        naive.apply(decoded(encoded))
        assert set(board.visible_ids()) == {i for i, v in naive.visible.items() if v}
        assert board.visibility.count == len(board.visible_ids())
    replayed = Board(max_strokes=1000)
    replayed.load(board.ops)
    assert replayed.visible_ids() == board.visible_ids()


def test_clearing_the_same_strokes_again_shares_one_snapshot() -> None:
    board = Board(max_strokes=1000)
    for i in range(1000):
        board.commit(stroke(f"s{i}"), "ann")
    for n in range(5):
        board.commit(Clear(f"c{n}"), "ann")
        board.commit(Undo(f"u{n}"), "ann")
    snapshots = {id(board.hidden_by[f"c{n}"]) for n in range(5)}
    assert len(snapshots) == 1 and len(board.hidden_by["c0"]) == 125  # 1000 bits, not 1000 ids
    assert board.visibility.count == 1000


def test_a_big_erase_keeps_a_bitmap_and_its_undo_shows_exactly_those() -> None:
    board = Board(max_strokes=1000)
    for i in range(1000):
        board.commit(stroke(f"s{i}"), "ann")
    board.commit(Erase("e1", ("s3", "s5")), "bob")
    board.commit(Erase("e2", tuple(f"s{i}" for i in range(500))), "bob")
    assert isinstance(board.hidden_by["e2"], bytes) and board.hidden_by["e1"] == ("s3", "s5")
    assert decoded(board.ops[-1])["ids"] == [f"s{i}" for i in range(500) if i not in (3, 5)]
    board.commit(Undo("u1"), "bob")
    assert board.visibility.count == 998 and not board.is_visible("s3")
    board.commit(Undo("u2"), "bob")
    assert board.visibility.count == 1000


def test_the_work_an_op_costs_does_not_grow_with_the_board() -> None:
    small, big = Board(max_strokes=200_000), Board(max_strokes=200_000)
    for board, count in ((small, 10), (big, 100_000)):
        for i in range(count):
            board.commit(stroke(f"s{i}"), "ann")
        board.commit(Erase("e", tuple(f"s{i}" for i in range(10))), "ann")
    for message in (Clear("c"), Undo("u"), Erase("x", ("s1",)), stroke("n")):
        assert big.work_units(message, "ann") <= small.work_units(message, "ann") + 50
    assert big.work_units(Erase("x", ("a",) * 10_000), "ann") >= 5_000  # what it really costs


def test_an_erase_of_10000_strokes_is_estimated_at_what_applying_it_measured() -> None:
    """The work budget charges an op its estimate before applying it. Applying an erase of
    10,000 of a 100,000-stroke board's strokes measured 5.4 ms median, 4.4-10.5 ms (quiet,
    bench/bench_erase_cost.py); its frame's bytes are charged apart (14 ms for ~70 KB)."""
    board = Board(max_strokes=10_000)
    for i in range(10_000):
        board.commit(stroke(f"s{i}"), "ann")
    units = board.work_units(Erase("x", tuple(f"s{i}" for i in range(10_000))), "bob")
    assert 5_000 <= units <= 8_000


# --- elements beyond ink: text, notes, images, pastes, moves, z-order, edits -----------------

from whiteboard.elements import Add, Edit, Image, Note, Text, Transform, ZOrder  # noqa: E402
from whiteboard.layout import Z_SLOTS  # noqa: E402

SRC = "ab" * 32 + ".png"


def label(op_id: str, text: str = "hi") -> Text:
    return Text(op_id, 10.0, 20.0, 24.0, "#112233", text)


def drawn(board: Board) -> list[tuple[str, object, object]]:
    """Visible elements in drawing order, with their placement and text."""
    return [(e["id"], e.get("m"), e.get("text")) for e in board.visible_strokes()]


def test_text_notes_and_images_are_elements_that_undo_and_erase_like_strokes() -> None:
    board = Board(max_strokes=10)
    board.commit(label("t"), "ann")
    board.commit(Note("n", 0.0, 0.0, 20.0, "#ffee88", "todo"), "ann")
    board.commit(Image("i", SRC, 0.0, 0.0, 64.0, 48.0), "bob")
    assert [e["type"] for e in board.visible_strokes()] == ["text", "note", "image"]
    board.commit(Erase("e", ("t", "i")), "bob")
    assert drawn(board) == [("n", None, "todo")]
    board.commit(Undo("u"), "ann")  # ann's newest action: the note
    assert drawn(board) == []
    board.commit(Undo("u2"), "bob")  # bob's erase
    assert [e[0] for e in drawn(board)] == ["t", "i"]


def test_an_add_is_one_action_and_its_item_ids_are_taken() -> None:
    board = Board(max_strokes=10)
    board.commit(stroke("a"), "ann")
    items = (label("p1"), stroke("p2"), Image("p3", SRC, 0.0, 0.0, 5.0, 5.0))
    op = decoded(board.commit(Add("paste", items), "ann"))
    assert [item["id"] for item in op["items"]] == ["p1", "p2", "p3"]
    assert [e[0] for e in drawn(board)] == ["a", "p1", "p2", "p3"]
    assert board.commit(Add("paste", items), "ann") == Duplicate("paste", 2)  # a resend
    with pytest.raises(InvalidMessage, match="already used"):
        board.commit(Add("again", (label("p1"),)), "ann")
    with pytest.raises(InvalidMessage, match="already used"):
        board.commit(stroke("p2"), "ann")  # not a resend: the id of a pasted element
    board.commit(Undo("u"), "ann")
    assert [e[0] for e in drawn(board)] == ["a"]
    board.commit(Redo("r"), "ann")
    assert [e[0] for e in drawn(board)] == ["a", "p1", "p2", "p3"]
    with pytest.raises(BoardFull):
        board.commit(Add("big", tuple(label(f"x{i}") for i in range(7))), "ann")


def test_images_per_board_are_capped() -> None:
    board = Board(max_strokes=10, max_images=1)
    board.commit(Image("i1", SRC, 0.0, 0.0, 5.0, 5.0), "ann")
    with pytest.raises(BoardFull, match="images"):
        board.commit(Image("i2", SRC, 0.0, 0.0, 5.0, 5.0), "ann")


def test_a_transform_keeps_only_visible_elements_and_undo_restores_the_placement() -> None:
    board = Board(max_strokes=10)
    board.commit(stroke("a"), "ann")
    board.commit(label("t"), "ann")
    board.commit(Erase("e", ("a",)), "ann")
    op = decoded(board.commit(Transform("m", ("a", "t", "ghost"), (2.0, 2.0, 5.0, 5.0)), "ann"))
    assert op["ids"] == ["t"]
    assert drawn(board) == [("t", (2.0, 2.0, 5.0, 5.0), "hi")]
    board.commit(Undo("u"), "ann")
    assert drawn(board) == [("t", None, "hi")]
    board.commit(Redo("r"), "ann")
    assert drawn(board) == [("t", (2.0, 2.0, 5.0, 5.0), "hi")]
    with pytest.raises(NothingToDo):
        board.commit(Transform("m2", ("a", "ghost"), (1.0, 1.0, 1.0, 1.0)), "ann")


def test_undoing_a_resize_keeps_a_move_someone_made_after_it() -> None:
    board = Board(max_strokes=10)
    board.commit(label("t"), "ann")
    board.commit(Transform("grow", ("t",), (3.0, 3.0, -20.0, -40.0)), "ann")
    board.commit(Transform("nudge", ("t",), (1.0, 1.0, 30.0, 0.0)), "bob")
    board.commit(Undo("u"), "ann")
    assert drawn(board) == [("t", (1.0, 1.0, 30.0, 0.0), "hi")]  # old size, Bob's move kept
    board.commit(Undo("u2"), "bob")
    assert drawn(board) == [("t", None, "hi")]


def test_a_transform_that_would_scale_an_element_beyond_the_limit_is_refused() -> None:
    board = Board(max_strokes=10)
    board.commit(label("t"), "ann")
    board.commit(Transform("a", ("t",), (900.0, 900.0, 0.0, 0.0)), "ann")
    with pytest.raises(InvalidMessage, match="scales"):
        board.commit(Transform("b", ("t",), (2.0, 2.0, 0.0, 0.0)), "ann")
    assert drawn(board) == [("t", (900.0, 900.0, 0.0, 0.0), "hi")]


def test_z_order_to_front_and_back_and_new_elements_still_go_on_top() -> None:
    board = Board(max_strokes=10)
    for op_id in "abcd":
        board.commit(stroke(op_id), "ann")
    op = decoded(board.commit(ZOrder("z1", ("c", "a"), "front"), "bob"))
    assert op["ids"] == ["a", "c"]  # kept in their drawing order
    assert [e[0] for e in drawn(board)] == ["b", "d", "a", "c"]
    board.commit(ZOrder("z2", ("d",), "back"), "bob")
    board.commit(stroke("e"), "ann")
    assert [e[0] for e in drawn(board)] == ["d", "b", "a", "c", "e"]
    assert board.layout.z_key("e", board.op_seq) == 7 * Z_SLOTS
    board.commit(Undo("u"), "bob")  # the send-to-back
    assert [e[0] for e in drawn(board)] == ["b", "d", "a", "c", "e"]


def test_undoing_a_z_change_leaves_an_element_someone_reordered_since() -> None:
    board = Board(max_strokes=10)
    for op_id in "abc":
        board.commit(stroke(op_id), "ann")
    board.commit(ZOrder("mine", ("a", "b"), "front"), "ann")
    board.commit(ZOrder("theirs", ("a",), "back"), "bob")
    assert [e[0] for e in drawn(board)] == ["a", "c", "b"]
    board.commit(Undo("u"), "ann")
    assert [e[0] for e in drawn(board)] == ["a", "b", "c"]  # b back; a stays where Bob put it
    board.commit(Redo("r"), "ann")
    assert [e[0] for e in drawn(board)] == ["a", "c", "b"]


def test_edits_set_text_and_undo_never_overwrites_a_later_edit() -> None:
    board = Board(max_strokes=10)
    board.commit(label("t", "first"), "ann")
    board.commit(stroke("s"), "ann")
    board.commit(Edit("e1", "t", "second"), "ann")
    board.commit(Edit("e2", "t", "bob's"), "bob")
    board.commit(Undo("u"), "ann")  # ann's edit: bob edited since, his text stays
    assert drawn(board)[0] == ("t", None, "bob's")
    board.commit(Undo("u2"), "bob")
    assert drawn(board)[0] == ("t", None, "second")
    with pytest.raises(InvalidMessage, match="only text"):
        board.commit(Edit("e3", "s", "x"), "ann")
    board.commit(Erase("x", ("t",)), "ann")
    with pytest.raises(NothingToDo):
        board.commit(Edit("e4", "t", "x"), "ann")


def test_replaying_the_log_of_every_kind_of_op_gives_the_same_board() -> None:
    board = Board(max_strokes=100)
    board.commit(stroke("s"), "ann")
    board.commit(label("t"), "bob")
    board.commit(Add("p", (label("p1"), Image("p2", SRC, 1.0, 2.0, 3.0, 4.0))), "ann")
    board.commit(Transform("m", ("s", "p1"), (1.5, 1.5, 3.0, -3.0)), "bob")
    board.commit(ZOrder("z", ("s",), "front"), "ann")
    board.commit(Edit("e", "p1", "changed"), "bob")
    board.commit(Undo("u"), "ann")
    board.commit(Transform("m2", ("t",), (1.0, 1.0, -8.0, 0.0)), "ann")
    board.commit(Undo("u2"), "bob")
    board.commit(Redo("r"), "bob")
    replayed = Board(max_strokes=100)
    report = replayed.load(board.ops)
    assert report.rejected == [] and replayed.ops == board.ops
    assert drawn(replayed) == drawn(board)
    assert replayed.undo_stacks == board.undo_stacks and replayed.redo_stacks == board.redo_stacks


def test_records_of_element_ops_that_do_not_apply_are_rejected_on_load() -> None:
    from whiteboard import protocol

    good = protocol.encode_op(1, "text", "t", "ann", x=0, y=0, size=9, color="#000000", text="a")
    bad = [
        protocol.encode_op(2, "transform", "m", "ann", ids=["ghost"], m=[1, 1, 0, 0]),
        protocol.encode_op(2, "edit", "e", "ann", target="ghost", text="x"),
        protocol.encode_op(2, "z", "z", "ann", ids=["t"], to="up"),
        protocol.encode_op(2, "add", "a", "ann", items=[{"type": "text", "id": "t"}]),
        protocol.encode_op(2, "transform", "m", "ann", ids=["t"], m=[0, 1, 0, 0]),
    ]
    for record in bad:
        board = Board(max_strokes=10)
        report = board.load([good, record])
        assert [index for index, _ in report.rejected] == [1] and board.head_seq == 1


def test_undoing_a_move_of_elements_moved_many_times_composes_each_history_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Undo recomputes placements from every move an element had: for 2,000 elements moved 40
    times together that was 2 x 80,000 steps (undoing such a move of 10,000 took 0.68 s). Each
    shared history is composed once, and the placements are those of the moves left applied,
    bit for bit, as built step by step."""
    ids = tuple(f"s{i}" for i in range(2_000))
    board, expected = Board(max_strokes=3_000), Board(max_strokes=3_000)
    for each in (board, expected):
        for element_id in ids:
            each.commit(stroke(element_id), "ann")
    board.commit(Transform("first", ids, (1.5, 1.5, 0.1, 0.3)), "ann")
    for k in range(40):
        m = (1.0 + (k % 3) / 10, 1.0 - (k % 2) / 10, k / 3, -k / 11)
        for each in (board, expected):  # the first half is moved once more, at k == 20
            each.commit(Transform(f"bob{k}", ids[: 1_000 if k == 20 else 2_000], m), "bob")
    steps = []
    real_compose = layout_module.compose

    def counted(outer: tuple, inner: tuple) -> tuple:
        steps.append(1)
        return real_compose(outer, inner)

    monkeypatch.setattr(layout_module, "compose", counted)
    undo = decoded(board.commit(Undo("u"), "ann"))
    assert len(steps) <= 2 * 2 * 41  # two histories, for the undo's restore and for applying it
    assert [board.placement(i) for i in ids] == [expected.placement(i) for i in ids]
    assert [tuple(e["m"]) for e in undo["restore"]["set"]] == [expected.placement(i) for i in ids]
    board.commit(Redo("r"), "ann")
    again = Board(max_strokes=3_000)
    again.load(board.ops[:-2])
    assert [board.placement(i) for i in ids] == [again.placement(i) for i in ids]
