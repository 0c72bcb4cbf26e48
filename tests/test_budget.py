"""The work budget: paying waits only when a client is in debt, and yields between slices."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgpack
import pytest

from whiteboard.server import budget as budget_module
from whiteboard.server import sockets
from whiteboard.server.admission import Admission
from whiteboard.server.budget import (
    OTHERS_FIRST_AFTER_S,
    WORK_CHARGE_UNITS,
    WORK_OVERRUN_UNITS,
    WORK_SLICE_UNITS,
    WorkBudget,
)
from whiteboard.server.sockets import receive_loop
from whiteboard.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(budget_module.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(budget_module.asyncio, "sleep", fake.sleep)
    return fake


async def test_work_within_the_burst_runs_at_once_in_slices(clock: Clock) -> None:
    budget = WorkBudget(units_per_second=10_000, burst_units=20_000)
    for _ in range(10):
        await budget.pay(1_000)
    assert clock.sleeps == [0] * (10_000 // WORK_SLICE_UNITS)  # yields only, no waiting


async def test_a_client_in_debt_waits_until_it_is_back_in_credit(clock: Clock) -> None:
    budget = WorkBudget(units_per_second=10_000, burst_units=20_000)
    await budget.pay(20_000)
    await budget.pay(5_000)
    assert clock.sleeps[-1] == pytest.approx(0.5)
    clock.sleeps.clear()
    for _ in range(100):  # sustained: exactly the rate, whatever the burst
        await budget.pay(1_000)
    assert sum(clock.sleeps) == pytest.approx(10.0)


async def test_connections_of_one_address_share_a_budget(clock: Clock, tmp_path) -> None:
    admission = Admission(Settings(max_work_ms_per_second=10), store=None)  # type: ignore[arg-type]
    first, again = admission.work["192.0.2.1"], admission.work["192.0.2.1"]
    assert first is again
    assert admission.work["192.0.2.2"] is not first
    await first.pay(20_000)  # the whole burst: a reconnect does not refill it
    await admission.work["192.0.2.1"].pay(10_000)
    assert clock.sleeps[-1] == pytest.approx(1.0)


class CountingBudget(WorkBudget):
    """A budget that records each charge (units) and never waits."""

    def __init__(self) -> None:
        super().__init__(units_per_second=1e12, burst_units=1e12)
        self.charges: list[int] = []

    def charge(self, units: int) -> float | None:
        self.charges.append(units)
        return super().charge(units)


class Recorder:
    """What the receive loop needs of a connection and a hub: applies nothing, counts."""

    close_code = None
    errors = 0
    author = "a"

    def __init__(self, units_per_message: dict[str, int]) -> None:
        self.units = units_per_message
        self.handled: list[str] = []
        self.board = self

    def allow(self, frame_bytes: int) -> bool:
        return True

    def work_units(self, message: object, author: str) -> int:
        return self.units[message.id]  # type: ignore[attr-defined]

    def must_wait(self, conn: object, message: object) -> bool:
        return False

    def handle(self, conn: object, message: object) -> None:
        self.handled.append(message.id)  # type: ignore[attr-defined]


def batch(*ids: str) -> bytes:
    points = [{"type": "points", "id": op_id, "pts": [1, 1, 2, 2]} for op_id in ids]
    return msgpack.packb({"type": "batch", "ops": points})


class Disconnected(Exception):
    pass


def frames_then_disconnect(frames: list[bytes]) -> Callable[[], Awaitable[bytes]]:
    """A socket's receive: ``frames`` in order, then the client is gone."""

    async def receive() -> bytes:
        if not frames:
            raise Disconnected
        return frames.pop(0)

    return receive


async def test_cheap_messages_are_charged_together_and_every_unit_is_charged() -> None:
    """A charge per live point cost 4% of the server at saturation: cheap messages are charged
    a few together (at most WORK_CHARGE_UNITS in arrears), a costly one before it is applied."""
    ids = [f"p{i}" for i in range(40)]
    units = {op_id: 5 for op_id in ids} | {"big": WORK_CHARGE_UNITS}
    frames = [batch(*ids), batch("p0", "big", "p1")]
    recorder, work = Recorder(units), CountingBudget()

    receive = frames_then_disconnect(frames)
    with pytest.raises(Disconnected):
        await receive_loop(receive, recorder, recorder, Settings(), work)  # type: ignore[arg-type]
    assert recorder.handled == [*ids, "p0", "big", "p1"]
    first, second = work.charges[:2], work.charges[2:]
    assert len(first) == 2 and first[1] == 40 * 5  # frame bytes, then the 40 points at once
    assert second[1:] == [5 + WORK_CHARGE_UNITS, 5]  # "big" paid before it was applied


async def test_a_message_that_takes_far_longer_than_its_estimate_pays_what_it_took(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An estimate is per kind of message; some work is not (an undo of a much-moved move):
    what a message took beyond its estimate is charged once that is over WORK_OVERRUN_UNITS."""
    took_s = {"slow": 0.050, "noisy": 0.0005, "cheap": 0.0}
    now = [100.0]
    monkeypatch.setattr(sockets, "perf_counter", lambda: now[0])

    class Slow(Recorder):
        def handle(self, conn: object, message: object) -> None:
            super().handle(conn, message)
            now[0] += took_s[message.id]  # type: ignore[attr-defined]

    recorder, work = Slow({"slow": 5, "noisy": 5, "cheap": 5}), CountingBudget()
    frames = [batch("cheap", "noisy", "slow")]

    receive = frames_then_disconnect(frames)
    with pytest.raises(Disconnected):
        await receive_loop(receive, recorder, recorder, Settings(), work)  # type: ignore[arg-type]
    assert recorder.handled == ["cheap", "noisy", "slow"]
    assert WORK_OVERRUN_UNITS < 50_000 - 5
    assert work.charges[1:] == [3 * 5 + 50_000 - 5]  # half a millisecond over is not charged


async def test_a_chain_of_others_steps_runs_before_the_next_slice() -> None:
    """A ``/healthz`` request is a chain of steps, each scheduled for the next turn of the loop
    (read, route, respond). All of them run between two slices of a client's work, not one step
    a slice: behind 12-24 ms slices of 10,000-stroke erases, one request waited 72-74 ms."""
    events: list[str] = []
    loop = asyncio.get_running_loop()

    def link(number: int) -> None:
        events.append(f"link {number}")
        if number < 4:
            loop.call_soon(link, number + 1)

    budget = WorkBudget(units_per_second=1e9, burst_units=1e9)
    events.append("slice")
    loop.call_soon(link, 1)
    # A whole slice of work that held the loop 5 ms: it lets the others run.
    assert await budget.pay(WORK_SLICE_UNITS, held_s=OTHERS_FIRST_AFTER_S + 0.001)
    events.append("slice")
    assert events == ["slice", "link 1", "link 2", "link 3", "link 4", "slice"]
    # One that held it briefly (cheap ops at saturation) only yields, as before: a writer's
    # input is not cut into more, smaller frames to its viewers.
    events.clear()
    loop.call_soon(link, 1)
    assert await budget.pay(WORK_SLICE_UNITS, held_s=0.0005)
    events.append("slice")
    assert events == ["link 1", "slice"]
