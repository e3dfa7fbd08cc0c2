"""A scheduler that was down for a simulated day catches up when it comes back.

Time is a `FakeClock`. A scheduler runs every hour, goes down for 24 hours, restarts, then
runs every hour beside a second scheduler. The oracle is the aggregate's own rule applied to
the moments the schedulers ran: an item escalates once if some run saw its deadline passed;
the leader is reminded once per deadline and lead time if some run fell in the window
[deadline - lead, deadline). Nothing the rule asks for may be missing, nothing doubled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.settings import Settings
from api.storage import build_projector, build_workflow
from domain.clock import FakeClock
from domain.duty import Duty
from domain.rules import Actor
from projections.inbox import inbox
from scheduler.jobs import Jobs
from tests.integration.test_scheduler_support import (
    LEADER,
    escalations_per_deadline,
    events_of,
    reminders_per_key,
    seed_assigned,
)

# Friday 13 March 2026, 09:00 UTC: the 14th's feedback cycle begins at 16:00 UTC (midnight in Beijing)
BEFORE_THE_14TH = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)
LEADS = (timedelta(days=3), timedelta(days=1))
HOUR = timedelta(hours=1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", duty_units="grid 4")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(BEFORE_THE_14TH)


@pytest.fixture
def start_scheduler(settings: Settings, clock: FakeClock) -> Iterator[Callable[[], Jobs]]:
    started: list[Jobs] = []

    def start() -> Jobs:
        jobs = Jobs(
            build_workflow(settings, clock=clock), build_projector(settings), clock, leads=LEADS,
            duty_units=settings.duty_unit_names,
        )  # fmt: skip
        started.append(jobs)
        return jobs

    yield start
    for jobs in started:
        jobs.close()


def test_a_scheduler_down_for_a_day_catches_up_without_losing_or_doubling_anything(
    settings: Settings, clock: FakeClock, start_scheduler: Callable[[], Jobs]
) -> None:
    # Given 30 items due between 8 and 66 hours from now, and one unanswered opinion
    workflow = build_workflow(settings, clock=clock)
    deadlines = [BEFORE_THE_14TH + timedelta(hours=8 + 2 * k) for k in range(30)]
    ids = seed_assigned(workflow, at=BEFORE_THE_14TH, deadlines=deadlines)
    workflow.record_opinion(
        Actor("Li"), kind="difficulty", area="livelihood", channel="household_visit", unit="grid 4",
        text="The lane floods when it rains.",
    )  # fmt: skip
    runs: list[datetime] = []

    def run(jobs: Jobs) -> None:
        runs.append(clock.now())
        reports = jobs.run_all()
        assert all(r.failed == 0 for r in reports), reports

    # When a scheduler runs every hour for six hours...
    first = start_scheduler()
    for _ in range(6):
        run(first)
        clock.advance(HOUR)
    # ...goes down for a whole day (past midnight of the 14th in Beijing), and restarts
    first.close()
    down_from, down_until = runs[-1], clock.now() + timedelta(hours=24)
    clock.set(down_until)
    restarted = start_scheduler()
    before_restart = (
        sum(escalations_per_deadline(workflow).values()),
        sum(reminders_per_key(workflow).values()),
    )
    run(restarted)
    after_restart = (
        sum(escalations_per_deadline(workflow).values()),
        sum(reminders_per_key(workflow).values()),
    )
    # ...then runs every hour for six more hours beside a second scheduler
    second = start_scheduler()
    for _ in range(6):
        clock.advance(HOUR)
        run(restarted)
        run(second)

    # Then every item whose deadline some run saw passed escalated exactly once, for that deadline
    expected_escalations = {(i, d) for i, d in zip(ids, deadlines, strict=True) if any(t > d for t in runs)}
    escalations = escalations_per_deadline(workflow)
    assert set(escalations) == expected_escalations
    assert set(escalations.values()) == {1}
    # ...every reminder whose window some run fell in was recorded exactly once
    expected_reminders = {
        (i, d, int(lead.total_seconds()))
        for i, d in zip(ids, deadlines, strict=True)
        for lead in LEADS
        if any(d - lead <= t < d for t in runs)
    }
    reminders = reminders_per_key(workflow)
    assert set(reminders) == expected_reminders
    assert set(reminders.values()) == {1}
    # ...the restart made up for the day: escalations of deadlines that passed while it was down,
    # and reminders whose window opened while it was down, all recorded by its first run
    missed_while_down = {(i, d) for i, d in expected_escalations if down_from < d < down_until}
    opened_while_down = {
        (i, d, s) for i, d, s in expected_reminders if down_from < d - timedelta(seconds=s) <= down_until
    }
    assert len(missed_while_down) >= 5
    assert len(opened_while_down) >= 5
    assert after_restart[0] - before_restart[0] >= len(missed_while_down)
    assert after_restart[1] - before_restart[1] >= len(opened_while_down)
    # ...the feedback cycle of the 14th, which began while it was down, was raised once, nudging Li
    raised = list(events_of(workflow, ["caseline:Duty.Raised"]))
    assert sorted((e.kind, e.period) for e in raised) == [
        ("analysis_meeting", "2026-03/04"), ("evaluation_meeting", "2026-H1"),
        ("feedback_cycle", "2026-02-28"), ("feedback_cycle", "2026-03-14"),
    ]  # fmt: skip
    cycle = next(e for e in raised if e.period == "2026-03-14")
    assert cycle.originator_id == Duty.id_for("feedback_cycle", "grid 4", "2026-03-14")
    assert cycle.timestamp == down_until
    assert cycle.recipients == ["unit/grid 4", "Li"]
    assert len(cycle.unanswered["Li"]) == 1
    # ...and the leader's inbox holds one row per reminder and escalation
    projector = restarted.projector
    projector.catch_up()
    rows = inbox(projector.db, LEADER, limit=500)
    assert sorted(r["kind"] for r in rows) == sorted(
        ["reminder"] * len(expected_reminders) + ["escalation"] * len(expected_escalations)
    )
    # one notification per reminder (deadline and lead time) and per escalation (deadline)
    seen = [(r["kind"], r["for_deadline"], r["lead_seconds"]) for r in rows]
    assert len(set(seen)) == len(seen)
    workflow.close()
