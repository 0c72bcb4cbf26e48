"""A board's state (without its ops) as pickles of a bounded size, and the board rebuilt from them
a few at a time. Pure.

The state of a 72.5 MB board (17,696 strokes: every element's id, seq, author and action number)
pickles to 0.8 MB and unpickled in one C call of 9-10 ms: a stall on the event loop of every board
of the server each time a board loaded from its snapshot (in a thread it would hold the GIL all
the same). Here the board is pickled without its large containers (the *shell*), and they follow
in pieces of at most ``PIECE_ENTRIES`` entries of each, small pickles that the server unpickles
between other work (:class:`StateBuilder`, driven in slices like a log's records).

Only :class:`StateUnpickler` reads them: it builds nothing but the board's own classes and plain
containers, so a snapshot file someone replaced cannot run code.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import pickle
import time
from collections.abc import Iterator
from typing import Any

from .board import Board

STATE_MODULES = (
    "whiteboard.board",
    "whiteboard.visibility",
    "whiteboard.layout",
    "whiteboard.elements",
)
"""Modules whose classes a pickled board holds: only these may be built when one is read, and a
change to any of them makes earlier snapshots stale (their fields may mean something else)."""

SAFE_BUILTINS = frozenset({"set", "frozenset", "bytearray", "dict", "list", "tuple"})

PIECE_ENTRIES = 512
"""Entries of one container (dict items, list or set members) in one piece, which holds that many
of each large container: about 0.3 ms to unpickle for the containers of a board of strokes; a
dict entry whose value is a longer list (an author's undo stack) is split as well."""

SPLIT_OWNERS = ("board", "layout")
"""Objects whose dict, list and set fields are split: the board and its layout."""


class StaleSnapshot(Exception):
    """A snapshot from other code (fingerprint, format) or that does not decode, or whose state
    does not make a board: load the log."""


class StateUnpickler(pickle.Unpickler):
    """Unpickles a board and nothing else: a snapshot file someone replaced cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        if (
            module in STATE_MODULES
            or (module == "builtins" and name in SAFE_BUILTINS)
            or (module, name) == ("whiteboard.protocol", "Limits")  # the board's limits
        ):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"a board snapshot may not hold {module}.{name}")


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _entries(container: dict | list | set) -> int:
    """Entries of ``container``, counting those of the lists a dict holds (an undo stack)."""
    if isinstance(container, dict):
        return len(container) + sum(len(v) for v in container.values() if type(v) is list)
    return len(container)


def _large_fields(owner: Any) -> dict[str, dict | list | set]:
    return {
        f.name: value
        for f in dataclasses.fields(owner)
        if f.name != "ops"  # kept apart from the state (``snapshot.py``)
        and type(value := getattr(owner, f.name)) in (dict, list, set)
        and _entries(value) > PIECE_ENTRIES
    }


def _runs(entries: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(entries), PIECE_ENTRIES):
        yield entries[start : start + PIECE_ENTRIES]


Part = tuple[str, str, Any, list[Any] | dict[Any, Any]]
"""``(owner, field, key, entries)``: entries to add to ``owner.field`` (``key``: to the list
that dict holds under it)."""


def _parts(owner: str, name: str, container: dict | list | set) -> Iterator[Part]:
    """``container``'s entries in order, at most ``PIECE_ENTRIES`` a part."""
    if not isinstance(container, dict):
        entries = container if isinstance(container, list) else list(container)
        for run in _runs(entries):
            yield owner, name, None, run
        return
    run: dict[Any, Any] = {}  # a dict, not pairs: updated from in one C call, no tuple each
    for key, value in container.items():
        if type(value) is list and len(value) > PIECE_ENTRIES:
            run[key] = []  # the key's place in the dict's order, then its list
            yield owner, name, None, run
            for part in _runs(value):
                yield owner, name, key, part
            run = {}
            continue
        run[key] = value
        if len(run) == PIECE_ENTRIES:
            yield owner, name, None, run
            run = {}
    if run:
        yield owner, name, None, run


def state_pieces(board: Board) -> list[bytes]:
    """``board`` without its ops: the shell (its large containers empty), then pieces of parts
    of the containers' entries. A piece holds the n-th part of every container, in step: the
    n-th run of strokes, of their ids, seqs, authors and action numbers names mostly the same
    ids, which one pickle then holds once (as the whole board's pickle did), not once a
    container."""
    owners = {"board": board, "layout": board.layout}
    large = {name: _large_fields(owner) for name, owner in owners.items()}
    layout = dataclasses.replace(board.layout, **{k: type(v)() for k, v in large["layout"].items()})
    shell = dataclasses.replace(
        board, ops=[], layout=layout, **{k: type(v)() for k, v in large["board"].items()}
    )
    streams = [
        _parts(owner, name, container)
        for owner, fields in large.items()
        for name, container in fields.items()
    ]
    in_step = itertools.zip_longest(*streams)
    return [_dumps(shell), *(_dumps([p for p in parts if p is not None]) for parts in in_step)]


def _loads(piece: bytes) -> Any:
    try:
        return StateUnpickler(io.BytesIO(piece)).load()
    except Exception as exc:  # any failure means: rebuild from the log
        raise StaleSnapshot(f"state does not load: {exc}") from exc


class StateBuilder:
    """The board of :func:`state_pieces`, rebuilt a few pieces a step (``step`` as in
    ``store/slices.py``)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces
        self._next = 0
        self._board: Board | None = None

    def step(self, deadline: float) -> bool:
        """Unpickle pieces until ``time.perf_counter()`` reaches ``deadline``; True when done.
        Raise :class:`StaleSnapshot` when they do not make a board."""
        pieces = self._pieces
        while self._next < len(pieces):
            piece = _loads(pieces[self._next])
            self._next += 1
            if self._board is None:
                if not isinstance(piece, Board):
                    raise StaleSnapshot("state is not a board")
                self._board = piece
            elif isinstance(piece, list):
                for part in piece:
                    self._add(part)
            else:
                raise StaleSnapshot("a piece of state is not a list of parts")
            if time.perf_counter() >= deadline:
                break
        return self._next >= len(pieces)

    def _add(self, part: Any) -> None:
        assert self._board is not None
        try:
            owner, name, key, entries = part
            if owner not in SPLIT_OWNERS:
                raise StaleSnapshot(f"a piece of {owner!r}")
            target = getattr(self._board if owner == "board" else self._board.layout, name)
            if key is not None:
                target[key].extend(entries)
            elif isinstance(target, dict):
                target.update(entries)
            elif isinstance(target, list):
                target.extend(entries)
            else:
                target.update(entries)
        except StaleSnapshot:
            raise
        except Exception as exc:  # a piece of the wrong shape: not this code's state
            raise StaleSnapshot(f"a piece does not fit the board: {type(exc).__name__}") from exc

    def board(self) -> Board:
        """The board (after ``step`` returned True)."""
        if self._board is None or self._next < len(self._pieces):
            raise StaleSnapshot("state is not a board")
        return self._board
