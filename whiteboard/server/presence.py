"""Who is on one board, and what its clients are told about it: joins, leaves, names, cursors.

A **small** room (at most ``presence_detail_max_peers`` connections, a meeting) is told
everything at once: each join, leave and rename is one event, every moved cursor goes out in the
next tick, and a ``welcome`` lists everyone.

A **large** room (a talk) would pay for that quadratically: N joins cost N^2/2 events, and every
phone would receive every cursor of the room. So in a large room:

- joins, leaves and renames are *summarised*: at most ``presence_summary_hz`` ``presence``
  events a second carry the counts, and the changes when they are few (in a storm, the counts
  alone: a client showing the list pages it again);
- cursors go out at most ``cursor_hz`` times a second, as many as fit in
  ``presence_bytes_per_second`` (peers who are drawing first, then those who moved last): the
  same choice for every receiver, so the frame is encoded once;
- a ``welcome`` lists the active peers (the spotlight, below), then others up to
  ``welcome_max_peers`` in all; the rest come page by page when a client asks (``peers``): a
  join storm sends each arrival a small welcome (a 200-peer welcome made one-at-a-time joins
  a quarter slower, ``docs/performance.md``).

Every client must know a peer's name and colour before it receives that peer's cursor or live
stroke. In a large room the *spotlight* holds the peers every connected client knows: those in
the welcome's list, and those introduced since with a ``join`` in a broadcast frame. A peer about
to be shown that is not in it is introduced first, in the same frame; the spotlight keeps the
``peers_page_size // 2`` most recently shown, so a welcome can always list all of them.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from .. import protocol
from ..protocol import Want
from ..settings import Settings
from .connection import Connection

CURSOR_BYTES = 9  # peer + x + y as msgpack ints (1-3 bytes each)
HIDE_BYTES = 3
PEER_INFO_OVERHEAD_BYTES = (
    40  # map header, keys, author, colour: what a peer costs besides its name
)
SUMMARY_SHARE = 0.25  # of presence_bytes_per_second; cursors get the rest


def peer_info(conn: Connection) -> dict[str, Any]:
    return {"peer": conn.peer, "name": conn.name, "color": conn.color, "author": conn.author}


def join_event(conn: Connection) -> bytes:
    return protocol.encode_event("join", **peer_info(conn))


class Presence:
    """One board's participants and cursors; hands events to the hub's tick with ``queue``."""

    def __init__(self, settings: Settings, queue: Callable[[bytes, Want], None]) -> None:
        self.settings = settings
        self._queue = queue
        self.peers: dict[int, Connection] = {}  # in joining order (peer numbers only grow)
        self._encoded: dict[int, bytes] = {}  # each peer's info, encoded once (join, rename)
        self._authors: Counter[str] = Counter()
        self.large = False
        self._spotlight: OrderedDict[int, None] = OrderedDict()
        self._spotlight_max = max(1, settings.peers_page_size // 2)
        self._changed: dict[int, Connection] = {}  # joined or renamed since the last summary
        self._left: list[int] = []  # left since the last summary
        self._summary_due = False
        self._cursors: dict[int, tuple[int, int] | None] = {}  # moved since sent; latest last
        self._next_summary_s = 0.0
        self._next_cursors_s = 0.0

    @property
    def people(self) -> int:
        """Distinct authors: one person with three tabs open is one."""
        return len(self._authors)

    # --- who comes and goes ----------------------------------------------------------------------

    def join(self, conn: Connection) -> None:
        self.peers[conn.peer] = conn
        self._encoded[conn.peer] = protocol.pack(peer_info(conn))
        self._authors[conn.author] += 1
        if not self.large and len(self.peers) > self.settings.presence_detail_max_peers:
            self.large = True
            self._summary_due = True  # clients learn the room is large, and its counts
        if self.large:
            self._changed[conn.peer] = conn
            self._summary_due = True
        else:
            self._queue(join_event(conn), Want.ALL)

    def leave(self, conn: Connection) -> None:
        if self.peers.pop(conn.peer, None) is None:
            return
        del self._encoded[conn.peer]
        self._authors[conn.author] -= 1
        if not self._authors[conn.author]:
            del self._authors[conn.author]
        self._cursors.pop(conn.peer, None)
        leave = protocol.encode_event("leave", peer=conn.peer)
        if not self.large:
            self._queue(leave, Want.ALL)
            return
        if conn.peer in self._spotlight:
            del self._spotlight[conn.peer]
            self._queue(leave, Want.ALL)  # clients may show its cursor or live stroke: drop it
        if self._changed.pop(conn.peer, None) is None:
            self._left.append(conn.peer)
        self._summary_due = True
        if len(self.peers) <= self.settings.presence_detail_max_peers // 2:
            self._become_small()

    def rename(self, conn: Connection) -> None:
        self._encoded[conn.peer] = protocol.pack(peer_info(conn))
        if not self.large:
            self._queue(join_event(conn), Want.ALL)
            return
        if conn.peer in self._spotlight:
            self._queue(join_event(conn), Want.ALL)
        self._changed[conn.peer] = conn
        self._summary_due = True

    def _become_small(self) -> None:
        """Back to per-event presence: first make sure every client knows every peer."""
        self.large = False
        self._spotlight.clear()
        self._changed.clear()
        self._left.clear()
        self._summary_due = False
        everyone = [peer_info(c) for c in self.peers.values()]
        self._queue(self._summary_event(peers=everyone), Want.ALL)

    def introduce(self, conn: Connection) -> None:
        """``conn`` is about to be shown (a live stroke, a cursor): make sure everyone knows it."""
        if not self.large:
            return
        spotlight = self._spotlight
        if conn.peer in spotlight:
            spotlight.move_to_end(conn.peer)
            return
        self._queue(join_event(conn), Want.ALL)
        spotlight[conn.peer] = None
        if len(spotlight) > self._spotlight_max:
            spotlight.popitem(last=False)

    # --- what a client is told ------------------------------------------------------------------

    def welcome_fields(self, conn: Connection) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Presence for ``conn``'s welcome: counts, and the peers it must (or may) know (encoded
        already: ``protocol.encode_event_with``).

        In a large room this costs the same whatever its size (a join storm calls it for every
        arrival): the spotlight, then the first peers in joining order up to a page, each
        encoded once when it joined rather than once per welcome.
        """
        peers, authors = self.peers, self._authors
        fields: dict[str, Any] = {
            "count": len(peers) + 1,
            "large": self.large,
            "people": len(authors) + (conn.author not in authors),
        }
        if not self.large:
            fields["next"] = None
            return fields, {"peers": self._listed(c for c in peers.values() if c is not conn)}
        spotlight = self._spotlight
        listed = [peers[p] for p in reversed(spotlight) if p in peers and peers[p] is not conn]
        room = max(0, self.settings.welcome_max_peers - len(listed))
        rest = (c for c in peers.values() if c is not conn and c.peer not in spotlight)
        in_order = list(islice(rest, room + 1))  # one more than fits: are there others?
        more = len(in_order) > room
        del in_order[room:]
        fields["next"] = (in_order[-1].peer if in_order else 0) if more else None
        return fields, {"peers": self._listed(listed + in_order)}

    def _listed(self, conns: Iterable[Connection]) -> bytes:
        encoded = self._encoded
        return protocol.encode_array([encoded[c.peer] for c in conns])

    def page(self, after: int) -> bytes:
        """The ``peers`` answer to one client: the next page of peers above ``after``."""
        size = self.settings.peers_page_size
        page = [c for c in self.peers.values() if c.peer > after][: size + 1]
        more = len(page) > size
        page = page[:size]
        return protocol.encode_event_with(
            "peers",
            {"peers": self._listed(page)},
            after=after,
            next=page[-1].peer if more else None,
            count=len(self.peers),
            people=self.people,
        )

    # --- cursors ---------------------------------------------------------------------------------

    def cursor(self, conn: Connection, x: float | None, y: float | None) -> None:
        """Only a peer's latest position is worth sending; the most recently moved come last."""
        cursors = self._cursors
        cursors.pop(conn.peer, None)
        cursors[conn.peer] = None if x is None or y is None else (round(x), round(y))

    def flush(self, now: float, drawing: Iterable[int]) -> float | None:
        """Queue this tick's presence and cursor events; the time more will be due, if any."""
        if not self.large:
            if self._cursors:
                self._queue(self._cursor_event(list(self._cursors)), Want.CURSORS)
                self._cursors.clear()
            return None
        budget = self.settings.presence_bytes_per_second
        if self._summary_due and now >= self._next_summary_s:
            hz = self.settings.presence_summary_hz
            self._queue(self._summary(budget * SUMMARY_SHARE / hz), Want.PRESENCE)
            self._next_summary_s = now + 1 / hz
        if self._cursors and now >= self._next_cursors_s:
            hz = self.settings.cursor_hz
            self._send_cursors(budget * (1 - SUMMARY_SHARE) / hz, drawing)
            self._next_cursors_s = now + 1 / hz
        due = []
        if self._summary_due:
            due.append(self._next_summary_s)
        if self._cursors:
            due.append(self._next_cursors_s)
        return min(due) if due else None

    def _send_cursors(self, budget_bytes: float, drawing: Iterable[int]) -> None:
        cursors = self._cursors
        first = [peer for peer in drawing if peer in cursors]
        chosen: list[int] = []
        used = 0.0
        for peer in [*first, *reversed(cursors)]:
            if peer in chosen:
                continue
            known = peer in self._spotlight or cursors[peer] is None
            cost = (HIDE_BYTES if cursors[peer] is None else CURSOR_BYTES) + (
                0 if known else PEER_INFO_OVERHEAD_BYTES + len(self.peers[peer].name)
            )
            if used + cost > budget_bytes and chosen:
                break
            used += cost
            chosen.append(peer)
        for peer in chosen:
            if cursors[peer] is not None:
                self.introduce(self.peers[peer])
        self._queue(self._cursor_event(chosen), Want.CURSORS)
        for peer in chosen:
            del cursors[peer]

    def _cursor_event(self, peers: list[int]) -> bytes:
        flat: list[int] = []
        hidden: list[int] = []
        for peer in peers:
            position = self._cursors[peer]
            if position is None:
                hidden.append(peer)
            else:
                flat += (peer, *position)
        return protocol.encode_cursors(flat, hidden)

    # --- summaries -------------------------------------------------------------------------------

    def _summary(self, budget_bytes: float) -> bytes:
        """The counts, and the changes when all of them fit in ``budget_bytes``. In a storm (a
        room arriving, a hall leaving) the changes do not fit: the summary carries the counts
        alone, and a client that shows a list asks for it again (``complete`` false). Listing
        some would cost every client bytes for names few of them look at."""
        cost = sum(PEER_INFO_OVERHEAD_BYTES + len(c.name) for c in self._changed.values())
        cost += HIDE_BYTES * len(self._left)
        complete = cost <= budget_bytes
        changed = [peer_info(c) for c in self._changed.values()] if complete else []
        left = self._left if complete else []
        summary = self._summary_event(joined=changed, left=left, complete=complete)
        self._changed, self._left = {}, []
        self._summary_due = False
        return summary

    def _summary_event(self, **fields: Any) -> bytes:
        return protocol.encode_event(
            "presence", count=len(self.peers), people=self.people, large=self.large, **fields
        )
