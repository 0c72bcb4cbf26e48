"""The work budget: paying waits only when a client is in debt, and yields between slices."""

from __future__ import annotations

import pytest

from whiteboard.server import budget as budget_module
from whiteboard.server.admission import Admission
from whiteboard.server.budget import WORK_SLICE_UNITS, WorkBudget
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
