"""The stage (``server/presenting.py``) follows presenters of other workers from the events it
relays, without a server: who a late joiner follows, and what a lost presenter leaves behind."""

from __future__ import annotations

import msgpack

from whiteboard import protocol
from whiteboard.protocol import Want
from whiteboard.server.presenting import Stage
from whiteboard.settings import Settings

REMOTE = 7 << 24 | 1  # a client of worker 7


def remote_lead(mode: str, peer: int = REMOTE, x: float = 10) -> bytes:
    if mode == "stop":
        return protocol.encode_event("lead", mode="stop", peer=peer)
    view = {"x": x, "y": 20, "w": 800, "h": 600}
    return protocol.encode_event("lead", mode=mode, peer=peer, name="Ann", color="#123456", **view)


def make_stage() -> tuple[Stage, list[tuple[dict, Want]]]:
    queued: list[tuple[dict, Want]] = []
    stage = Stage(Settings(), lambda event, want: queued.append((msgpack.unpackb(event), want)))
    return stage, queued


def test_a_late_joiner_follows_a_presenter_of_another_worker() -> None:
    stage, _ = make_stage()
    stage.relayed(remote_lead("once"))  # a one-off jump makes no presenter
    assert stage.welcome_fields() == {}
    stage.relayed(remote_lead("follow", x=10))
    stage.relayed(remote_lead("follow", x=30))
    ann = {"peer": REMOTE, "name": "Ann", "color": "#123456"}
    assert stage.welcome_fields() == {"lead": {**ann, "x": 30, "y": 20, "w": 800, "h": 600}}
    stage.relayed(remote_lead("stop", peer=REMOTE + 1))  # not the presenter's to stop
    assert stage.leader == REMOTE
    stage.relayed(remote_lead("stop"))
    assert stage.welcome_fields() == {}


def test_a_presenter_whose_worker_went_away_is_no_longer_followed() -> None:
    stage, queued = make_stage()
    stage.relayed(remote_lead("follow"))
    stage.remote_left(REMOTE + 1)  # someone else left: nothing changes
    assert stage.leader == REMOTE and queued == []
    stage.remote_left(REMOTE)
    assert stage.welcome_fields() == {}
    assert queued == [({"type": "lead", "mode": "stop", "peer": REMOTE}, Want.PRESENT)]
    stage.remote_left(REMOTE)  # said once
    assert len(queued) == 1
