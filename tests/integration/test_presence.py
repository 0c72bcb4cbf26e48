"""Presence that scales: per-event in a small room, summarised in a large one; welcomes that stay
small; cursors bounded in rate and number; peers introduced before they are shown; subscriptions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgpack

from tests.integration.client import BoardClient, is_op
from tests.integration.rawclient import RawReader, close_all, crowd
from tests.serving import ServerThread
from whiteboard.settings import Settings


def settings(boards_dir: Path, **changes: Any) -> Settings:
    return Settings(boards_dir=boards_dir, fsync=False, **changes)


def known_before_shown(reader: RawReader) -> list[int]:
    """Peers whose cursor or live stroke reached ``reader`` before their name did."""
    assert reader.welcome is not None
    known = {p["peer"] for p in reader.welcome["peers"]} | {reader.welcome["peer"]}
    unknown = []
    for message in reader.messages:
        kind = message.get("type")
        if kind == "join":
            known.add(message["peer"])
        elif kind == "presence":
            known |= {p["peer"] for p in message.get("joined", message.get("peers", []))}
        elif kind == "cursors":
            unknown += [peer for peer in message["c"][0::3] if peer not in known]
        elif kind in ("begin", "points") and message["peer"] not in known:
            unknown.append(message["peer"])
    return unknown


async def test_in_a_small_room_each_existing_client_gets_exactly_one_join_per_peer(
    boards_dir: Path,
) -> None:
    with ServerThread(settings(boards_dir)) as server:
        watcher = await RawReader.connect(server, "small", "watcher")
        guests = await crowd(server, "small", 40)
        await watcher.wait(lambda: len(watcher.of_type("join")) >= 41)
        joins = [m["peer"] for m in watcher.of_type("join") if m["peer"] != watcher.welcome["peer"]]
        assert sorted(joins) == sorted(g.welcome["peer"] for g in guests)
        assert not watcher.of_type("presence")
        await close_all([watcher, *guests])


async def test_joins_to_a_large_room_are_summarised_a_few_times_a_second(
    boards_dir: Path,
) -> None:
    with ServerThread(settings(boards_dir, presence_detail_max_peers=20)) as server:
        watcher = await RawReader.connect(server, "storm", "watcher")
        started = time.monotonic()
        guests = await crowd(server, "storm", 300)
        await watcher.wait(lambda: any(m.get("count") == 301 for m in watcher.of_type("presence")))
        elapsed = time.monotonic() - started
        summaries = watcher.of_type("presence")
        joins = watcher.of_type("join")
        # Per-event joins until the room turned large, then at most ~2 summaries a second.
        assert len(joins) <= 21
        assert len(summaries) <= 2 * elapsed + 2, (len(summaries), elapsed)
        assert summaries[-1]["large"] is True and summaries[-1]["people"] == 301
        named = [p["peer"] for m in summaries for p in m["joined"]] + [m["peer"] for m in joins]
        assert len(named) == len(set(named)), "no peer is announced twice"
        presence_bytes = sum(len(msgpack.packb(m)) for m in summaries + joins)
        assert presence_bytes / 300 < 100, "a join costs an existing client < 100 bytes"
        await close_all([watcher, *guests])


async def test_the_welcome_stays_small_with_2000_participants_and_the_rest_is_paged(
    boards_dir: Path,
) -> None:
    with ServerThread(settings(boards_dir)) as server:
        crowd_readers = await crowd(server, "talk", 1999, at_once=200, decode=False)
        late = await BoardClient.connect(server.ws_url, "talk", "late")
        welcome = late.welcome
        assert len(msgpack.packb(welcome)) < 4_000
        assert welcome["count"] == 2000 and welcome["people"] == 2000 and welcome["large"]
        assert len(welcome["peers"]) == server.settings.welcome_max_peers
        seen = {p["peer"] for p in welcome["peers"]}
        after = welcome["next"]
        while after is not None:
            await late.send({"type": "peers", "after": after})
            page = await late.wait_for(lambda m, a=after: m["type"] == "peers" and m["after"] == a)
            assert len(page["peers"]) <= server.settings.peers_page_size
            seen |= {p["peer"] for p in page["peers"]}
            after = page["next"]
        # Pages list everyone, the asker included (the welcome leaves it out: it is "you").
        assert seen - {welcome["peer"]} == {r.welcome["peer"] for r in crowd_readers}
        await late.close()
        await close_all(crowd_readers)


async def test_in_a_large_room_cursors_are_bounded_in_rate_and_number_and_introduced(
    boards_dir: Path,
) -> None:
    room = settings(
        boards_dir, presence_detail_max_peers=4, cursor_hz=10, presence_bytes_per_second=600
    )
    with ServerThread(room) as server:
        watcher = await RawReader.connect(server, "cursors", "watcher")
        movers = await crowd(server, "cursors", 30)
        started = time.monotonic()
        for step in range(40):  # every mover moves 40 times, ~3 s
            for number, mover in enumerate(movers):
                mover.send({"type": "cursor", "x": step, "y": number})
            await watcher.wait(lambda: True, 0.07)
            await mover.wait(lambda s=started, n=step: time.monotonic() - s > 0.075 * n)
        elapsed = time.monotonic() - started
        events = watcher.of_type("cursors")
        assert events, "cursors still go out"
        assert len(events) <= 10 * elapsed + 2, (len(events), elapsed)
        per_event = max(len(e["c"]) // 3 for e in events)
        assert per_event <= 600 * 0.75 / 10 / 9 + 1, per_event  # the byte budget, ~5 cursors
        assert known_before_shown(watcher) == []
        await close_all([watcher, *movers])


async def test_subscriptions_are_honoured(boards_dir: Path) -> None:
    with ServerThread(settings(boards_dir)) as server:
        recorder = await RawReader.connect(server, "subs", "recorder", want=[])
        quiet = await RawReader.connect(server, "subs", "phone", want=["live", "presence"])
        everyone = await RawReader.connect(server, "subs", "everyone")
        ann = await BoardClient.connect(server.ws_url, "subs", "ann")
        style = {"tool": "pen", "color": "#000000", "width": 2}
        await ann.send({"type": "cursor", "x": 1, "y": 2})
        await ann.send({"type": "begin", "id": "s1", **style, "pts": [0, 0]})
        await ann.send({"type": "end", "id": "s1"})
        for reader in (recorder, quiet, everyone):
            await reader.wait(lambda r=reader: bool(r.of_type("stroke")))
        assert {m["type"] for m in recorder.messages} == {"welcome", "stroke"}
        assert {m["type"] for m in quiet.messages} == {"welcome", "join", "begin", "stroke"}
        assert {"cursors", "begin", "join", "stroke"} <= {m["type"] for m in everyone.messages}
        await ann.wait_for(is_op("stroke", "s1"))
        await ann.close()
        await close_all([recorder, quiet, everyone])
