"""Where a board's elements are, in what order they are drawn, and what text they hold.

Pure; owned by :class:`whiteboard.board.Board`, which decides visibility and undo stacks and
calls in here for what ops beyond ink change: placements (move, resize), z-order and text edits.
Everything is kept only for the elements it concerns (a board of plain strokes stores nothing
here), because a board may hold 200,000 elements.

**Drawing order.** Every element has a z key; the board is drawn in ascending key order. An
element's key is ``seq * Z_SLOTS + position`` (the seq of the op that added it, its position in
an ``add``) unless a ``z`` op moved it: to the front, the key ``seq * Z_SLOTS + i`` of that z op
(above every element that existed, below every later one), to the back ``-seq * Z_SLOTS + i``
(below everything, later ones lower). So only reordered elements store a key, keys never collide,
and ``static/js/board.js`` computes the very same numbers (all below 2**53).

**Undo rules** (docs/protocol.md, "Undo of element changes"), so that someone else's change
made in between is never overwritten: an element's placement is its initial one with every
``transform`` naming it that is not undone composed on top, in seq order, so undoing a transform
takes out exactly that one; undoing a ``z`` restores an element's previous key only if it still
has the key this op gave it; undoing an ``edit`` restores the previous text only if the text is
still the one this edit set. Redo does the op again under the same conditions.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field

from .elements import IDENTITY, Placement, compose

Z_SLOTS = 1 << 20
"""Keys per seq: more than the elements one op can add or reorder (``max_add_items``,
``max_erase_ids``), so positions within an op never reach the next seq's keys."""


def default_z(seq: int, position: int = 0) -> int:
    return seq * Z_SLOTS + position


@dataclass(slots=True)
class EditRecord:
    target: str
    before: tuple[str, str] | None  # (text, op id that set it), None: the element's own text
    after: str


@dataclass(slots=True)
class Layout:
    placements: dict[str, Placement] = field(default_factory=dict)  # only moved elements
    z_keys: dict[str, int] = field(default_factory=dict)  # only reordered elements
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # edited: (text, set by)
    kinds: dict[str, str] = field(default_factory=dict)  # elements that are not strokes
    positions: dict[str, int] = field(default_factory=dict)  # items after the first of an add
    initial: dict[str, Placement] = field(default_factory=dict)  # elements added with an m
    factors: dict[str, tuple[str, ...]] = field(default_factory=dict)  # element -> transforms
    transforms: dict[str, tuple[Placement, tuple[str, ...]]] = field(default_factory=dict)
    undone: set[str] = field(default_factory=set)  # transforms undone (and not redone)
    z_moves: dict[str, tuple[str, list[tuple[str, int, int]]]] = field(default_factory=dict)
    edits: dict[str, EditRecord] = field(default_factory=dict)
    images: int = 0

    # --- elements ------------------------------------------------------------------------------

    def added(self, element_id: str, kind: str, m: Placement, position: int) -> None:
        """A new element (``position``: its place in an ``add``, 0 for a single op)."""
        if kind != "stroke":
            self.kinds[element_id] = kind
            self.images += kind == "image"
        if m != IDENTITY:
            self.placements[element_id] = m
            self.initial[element_id] = m
        if position:
            self.positions[element_id] = position

    def placement(self, element_id: str) -> Placement:
        return self.placements.get(element_id, IDENTITY)

    def z_key(self, element_id: str, seq_of: dict[str, int]) -> int:
        key = self.z_keys.get(element_id)
        if key is not None:
            return key
        return default_z(seq_of[element_id], self.positions.get(element_id, 0))

    def is_text(self, element_id: str) -> bool:
        return self.kinds.get(element_id) in ("text", "note")

    # --- transform -------------------------------------------------------------------------------

    def transform(self, op_id: str, ids: Sequence[str], m: Placement) -> None:
        """Compose ``m`` on each element's placement (the newest of its factors). Elements that
        had the same transforms share one tuple of them (``Products`` composes each once)."""
        self.transforms[op_id] = (m, tuple(ids))
        factors, placements = self.factors, self.placements
        extended: dict[int, tuple[Sequence[str], tuple[str, ...]]] = {}  # id(before): both
        composed: dict[Placement, Placement] = {}  # placement before: after
        for element_id in ids:
            before = factors.get(element_id, ())
            shared = extended.get(id(before))
            if shared is None:
                shared = extended[id(before)] = (before, (*before, op_id))
            factors[element_id] = shared[1]
            current = placements.get(element_id, IDENTITY)
            placed = composed.get(current)
            if placed is None:
                placed = composed[current] = compose(m, current)
            if placed == IDENTITY:
                placements.pop(element_id, None)
            else:
                placements[element_id] = placed

    def transform_again(self, op_id: str, undoing: bool) -> None:
        """Take the transform out of its elements' placements (undo) or put it back (redo)."""
        if undoing:
            self.undone.add(op_id)
        else:
            self.undone.discard(op_id)
        products = Products(self, self.undone)
        for element_id in self.transforms[op_id][1]:
            self._set_placement(element_id, products.of(element_id))

    def _set_placement(self, element_id: str, placed: Placement) -> None:
        if placed == IDENTITY:
            self.placements.pop(element_id, None)
        else:
            self.placements[element_id] = placed

    # --- z-order ---------------------------------------------------------------------------------

    def reorder(
        self, op_id: str, seq: int, ids: Sequence[str], to: str, seq_of: dict[str, int]
    ) -> None:
        """Give ``ids`` (in their current drawing order) keys at the front or back."""
        base = seq * Z_SLOTS if to == "front" else -seq * Z_SLOTS
        moves = []
        for position, element_id in enumerate(ids):
            before = self.z_key(element_id, seq_of)
            after = base + position
            self.z_keys[element_id] = after
            moves.append((element_id, before, after))
        self.z_moves[op_id] = (to, moves)

    def reorder_again(self, op_id: str, seq: int, undoing: bool, seq_of: dict[str, int]) -> None:
        """Undo (back to each element's key before, if it still has this op's key) or redo (new
        keys from the redo's ``seq``, for elements that still have their key from before)."""
        to, moves = self.z_moves[op_id]
        if undoing:
            for element_id, before, after in moves:
                if self.z_key(element_id, seq_of) == after:
                    self._set_z(element_id, before, seq_of)
            return
        base = seq * Z_SLOTS if to == "front" else -seq * Z_SLOTS
        redone = []
        for position, (element_id, before, after) in enumerate(moves):
            if self.z_key(element_id, seq_of) == before:
                after = base + position
                self.z_keys[element_id] = after
            redone.append((element_id, before, after))
        self.z_moves[op_id] = (to, redone)

    def _set_z(self, element_id: str, key: int, seq_of: dict[str, int]) -> None:
        default = default_z(seq_of[element_id], self.positions.get(element_id, 0))
        if key == default:
            self.z_keys.pop(element_id, None)
        else:
            self.z_keys[element_id] = key

    def front_first(self, ids: Iterable[str], seq_of: dict[str, int]) -> list[str]:
        """``ids`` in drawing order (what a ``z`` op keeps among them)."""
        return sorted(ids, key=lambda element_id: self.z_key(element_id, seq_of))

    # --- text ------------------------------------------------------------------------------------

    def text_setter(self, element_id: str) -> str:
        edited = self.texts.get(element_id)
        return element_id if edited is None else edited[1]

    def edit(self, op_id: str, target: str, text: str) -> None:
        self.edits[op_id] = EditRecord(target, self.texts.get(target), text)
        self.texts[target] = (text, op_id)

    def edit_again(self, op_id: str, undoing: bool) -> None:
        record = self.edits[op_id]
        target = record.target
        if undoing:
            if self.text_setter(target) != op_id:
                return  # edited again since by someone: their text stays
            if record.before is None:
                del self.texts[target]
            else:
                self.texts[target] = record.before
            return
        before_setter = target if record.before is None else record.before[1]
        if self.text_setter(target) == before_setter:
            self.texts[target] = (record.after, op_id)


class Products:
    """Elements' placements recomputed from their transforms, each distinct history once.

    An element's placement is its initial placement with its transforms that are not
    ``undone`` composed on top in seq order: the same operations in the same order as each
    ``transform`` did, so a placement recomputed here is bit-identical to one built step by
    step. That costs a step per transform the element ever had: undoing a move of 10,000
    elements that were moved 100 times took 0.68 s, a stall of every board, in a 20-byte
    message. Elements moved together share their history (initial placement and transforms),
    and each history is composed once here, for every element that has it.
    """

    __slots__ = ("_layout", "_memo", "_undone")

    def __init__(self, layout: Layout, undone: Container[str]) -> None:
        self._layout = layout
        self._undone = undone
        self._memo: dict[tuple[Placement, int], Placement] = {}

    def of(self, element_id: str) -> Placement:
        layout = self._layout
        initial, factors = layout.initial.get(element_id, IDENTITY), layout.factors[element_id]
        history = (initial, id(factors))  # the layout keeps ``factors`` alive meanwhile
        placed = self._memo.get(history)
        if placed is None:
            placed = initial
            transforms, undone = layout.transforms, self._undone
            for op_id in factors:
                if op_id not in undone:
                    placed = compose(transforms[op_id][0], placed)
            self._memo[history] = placed
        return placed
