"""The inbox against notifications written out by hand from a story, on SQLite and PostgreSQL.

The inbox (projections/inbox.py) is what tells people to act: the leader is reminded before a
deadline; when an item escalates, the supervisors of the level it reaches and its leader hear
of it; at the top level the standing committee and the leader do; a recurring duty reaches its
unit and each recorder with opinions still unanswered. Each row says what, for which item and
deadline, and when (the moment of the event). Every expected row below is read off the story.

The story (calendar days: town level 30, district 60), item 2026-0001 at village level:

| when (UTC)   | what happens                                   | who is told                  |
|--------------|------------------------------------------------|------------------------------|
| 20 Mar 09:00 | assigned to Zhang, due 30 Apr 18:00; disclosed | nobody                       |
| 28 Apr 09:00 | reminder, 3 days ahead                         | Zhang                        |
| 1 May 01:00  | escalated to town, due 31 May 01:00            | supervisors/town, Zhang      |
| 6 May 09:00  | handed over to Li; progress reported           | nobody                       |
| 14 May 16:00 | feedback cycle of grid 4 (Wang 2, Zhao 1 open) | unit/grid 4, Wang, Zhao      |
| 20 May 09:00 | analysis meeting duty of grid 4                | unit/grid 4                  |
| 30 May 09:00 | reminder, 1 day ahead                          | Li                           |
| 1 Jun 09:00  | escalated to district, due 31 Jul 09:00        | supervisors/district, Li     |
| 1 Aug 09:00  | referred to the standing committee             | standing-committee, Li       |
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.clock import FakeClock
from domain.rules import Actor, Role
from domain.workflow import Workflow
from projections.inbox import inbox, notifications_since
from projections.projector import Projector
from tests.conftest import StoreFactory

OFFICER = Actor("Officer Wang")
ISSUE = "2026-0001"


def at(month: int, day: int, hour: int = 9) -> datetime:
    """A moment of 2026, in UTC."""
    return datetime(2026, month, day, hour, tzinfo=UTC)


def up_the_ladder(workflow: Workflow, clock: FakeClock) -> str:
    """The story of the module docstring; returns the item's id."""
    wf = workflow
    clock.set(at(3, 3))
    voices = {
        recorder: [
            wf.record_opinion(
                Actor(recorder, role=Role.RECORDER), kind="difficulty", area="security",
                channel="household_visit", unit="grid 4", text=f"Voice {n} of {recorder}: the lane is dark.",
            ).id
            for n in range(count)
        ]
        for recorder, count in (("Recorder Wang", 2), ("Recorder Zhao", 1))
    }  # fmt: skip

    clock.set(at(3, 20))
    lane = wf.open_issue(
        OFFICER, title="Street lights for the back lanes of grid 4", area="security", level="village",
        horizon="near", opinion_ids=voices["Recorder Wang"],
    ).id  # fmt: skip
    wf.assign_leader(
        OFFICER, lane, leader="Zhang", department="Public works office", goals=["lights working"],
        measures=["move the cable"], deadline=at(4, 30, 18),
    )  # fmt: skip
    wf.disclose(OFFICER, lane, fields=["title", "leader", "deadline"], where="village notice board")

    clock.set(at(4, 28))
    assert wf.remind_if_due(lane, lead=timedelta(days=3)).detail == {"reminded": True}
    clock.set(at(5, 1, 1))
    assert wf.escalate_if_overdue(lane).detail == {"escalated": True}
    clock.set(at(5, 6))
    wf.hand_over(OFFICER, lane, to="Li", reason="Zhang is transferred.")
    wf.report_progress(OFFICER, lane, note="Cable moved.")

    clock.set(at(5, 14, 16))
    wf.raise_duty(
        kind="feedback_cycle", unit="grid 4", period="2026-05-14", due_by=at(5, 27, 16),
        recipients=["unit/grid 4", "Recorder Wang", "Recorder Zhao"],
        unanswered={recorder: [str(v) for v in ids] for recorder, ids in voices.items()},
    )  # fmt: skip
    clock.set(at(5, 20))
    wf.raise_duty(
        kind="analysis_meeting", unit="grid 4", period="2026-05/06", due_by=at(5, 31, 16),
        recipients=["unit/grid 4"],
    )  # fmt: skip

    clock.set(at(5, 30))
    assert wf.remind_if_due(lane, lead=timedelta(days=1)).detail == {"reminded": True}
    clock.set(at(6, 1))
    assert wf.escalate_if_overdue(lane).detail == {"escalated": True}
    clock.set(at(8, 1))
    assert wf.escalate_if_overdue(lane).detail == {"escalated": True}  # at the top: the committee
    return str(lane)


@pytest.fixture
def told(make_workflow: StoreFactory, projector: Projector, clock: FakeClock) -> tuple[Projector, str]:
    """The views after the story, and the item's id."""
    lane = up_the_ladder(make_workflow(working_days=False), clock)
    projector.catch_up()
    return projector, lane


def rows(projector: Projector, recipient: str, **paging: Any) -> list[tuple[Any, ...]]:
    """A recipient's inbox, newest first, as (created at, kind, number, for deadline, lead, message)."""
    return [
        (
            row["created_at"],
            row["kind"],
            row["number"],
            row["for_deadline"],
            row["lead_seconds"],
            row["message"],
        )
        for row in inbox(projector.db, recipient, **paging)
    ]


def test_the_leader_is_reminded_and_told_of_each_escalation_and_the_successor_takes_over(
    told: tuple[Projector, str],
) -> None:
    projector, _ = told
    # Zhang keeps what he was told while he led the item...
    assert rows(projector, "Zhang") == [
        (
            "2026-05-01T01:00:00.000000Z", "escalation", ISSUE, "2026-04-30T18:00:00.000000Z", None,
            "Issue 2026-0001 you lead escalated from village to town level: its deadline "
            "2026-04-30 18:00 UTC passed. New deadline 2026-05-31 01:00 UTC; you stay accountable.",
        ),
        (
            "2026-04-28T09:00:00.000000Z", "reminder", ISSUE, "2026-04-30T18:00:00.000000Z", 259200,
            "Reminder: issue 2026-0001 you lead is due 2026-04-30 18:00 UTC (3 days before the deadline).",
        ),
    ]  # fmt: skip
    # ...and Li, from the handover on, hears of everything after it
    assert rows(projector, "Li") == [
        (
            "2026-08-01T09:00:00.000000Z", "committee", ISSUE, "2026-07-31T09:00:00.000000Z", None,
            "Issue 2026-0001 you lead went to the standing committee's list: its deadline "
            "2026-07-31 09:00 UTC passed at the top level.",
        ),
        (
            "2026-06-01T09:00:00.000000Z", "escalation", ISSUE, "2026-05-31T01:00:00.000000Z", None,
            "Issue 2026-0001 you lead escalated from town to district level: its deadline "
            "2026-05-31 01:00 UTC passed. New deadline 2026-07-31 09:00 UTC; you stay accountable.",
        ),
        (
            "2026-05-30T09:00:00.000000Z", "reminder", ISSUE, "2026-05-31T01:00:00.000000Z", 86400,
            "Reminder: issue 2026-0001 you lead is due 2026-05-31 01:00 UTC (1 day before the deadline).",
        ),
    ]  # fmt: skip
    # ...paged by the last row's moment
    assert [row[0] for row in rows(projector, "Li", limit=2)] == [
        "2026-08-01T09:00:00.000000Z", "2026-06-01T09:00:00.000000Z",
    ]  # fmt: skip
    assert [row[0] for row in rows(projector, "Li", before="2026-06-01T09:00:00.000000Z")] == [
        "2026-05-30T09:00:00.000000Z"
    ]


def test_the_supervisors_of_the_level_reached_and_then_the_standing_committee_are_told(
    told: tuple[Projector, str],
) -> None:
    projector, _ = told
    assert rows(projector, "supervisors/village") == []  # the level the item left
    assert rows(projector, "supervisors/town") == [
        (
            "2026-05-01T01:00:00.000000Z", "escalation", ISSUE, "2026-04-30T18:00:00.000000Z", None,
            "Issue 2026-0001 escalated from village to town level: its deadline 2026-04-30 18:00 UTC passed. "
            "New deadline 2026-05-31 01:00 UTC; Zhang stays the accountable leader.",
        ),
    ]  # fmt: skip
    assert rows(projector, "supervisors/district") == [
        (
            "2026-06-01T09:00:00.000000Z", "escalation", ISSUE, "2026-05-31T01:00:00.000000Z", None,
            "Issue 2026-0001 escalated from town to district level: its deadline 2026-05-31 01:00 UTC "
            "passed. New deadline 2026-07-31 09:00 UTC; Li stays the accountable leader.",
        ),
    ]  # fmt: skip
    assert rows(projector, "standing-committee") == [
        (
            "2026-08-01T09:00:00.000000Z", "committee", ISSUE, "2026-07-31T09:00:00.000000Z", None,
            "Issue 2026-0001 is on the standing committee's list: its deadline 2026-07-31 09:00 UTC "
            "passed at the top level. Li stays the accountable leader.",
        ),
    ]  # fmt: skip


def test_a_duty_reaches_its_unit_and_each_recorder_with_opinions_unanswered(
    told: tuple[Projector, str],
) -> None:
    projector, _ = told
    assert rows(projector, "unit/grid 4") == [
        (
            "2026-05-20T09:00:00.000000Z", "duty", None, "2026-05-31T16:00:00.000000Z", None,
            "Hold the analysis meeting of grid 4 for 2026-05/06, by 2026-05-31 16:00 UTC.",
        ),
        (
            "2026-05-14T16:00:00.000000Z", "duty", None, "2026-05-27T16:00:00.000000Z", None,
            "Run the feedback cycle (collect, report, handle, feed back) of grid 4 for 2026-05-14, "
            "by 2026-05-27 16:00 UTC. 3 opinions still unanswered.",
        ),
    ]  # fmt: skip
    assert rows(projector, "Recorder Wang") == [
        (
            "2026-05-14T16:00:00.000000Z", "duty", None, "2026-05-27T16:00:00.000000Z", None,
            "Feedback cycle 2026-05-14 of grid 4: 2 opinions you recorded are still unanswered; "
            "answer by 2026-05-27 16:00 UTC.",
        ),
    ]  # fmt: skip
    assert rows(projector, "Recorder Zhao") == [
        (
            "2026-05-14T16:00:00.000000Z", "duty", None, "2026-05-27T16:00:00.000000Z", None,
            "Feedback cycle 2026-05-14 of grid 4: 1 opinion you recorded is still unanswered; "
            "answer by 2026-05-27 16:00 UTC.",
        ),
    ]  # fmt: skip


def test_nobody_else_is_told_anything_and_each_item_row_names_the_item(told: tuple[Projector, str]) -> None:
    projector, lane = told
    everything = notifications_since(projector.db, at(1, 1))
    per_recipient: dict[str, int] = {}
    for row in everything:
        per_recipient[row["recipient"]] = per_recipient.get(row["recipient"], 0) + 1
    assert per_recipient == {
        "Zhang": 2, "Li": 3, "supervisors/town": 1, "supervisors/district": 1, "standing-committee": 1,
        "unit/grid 4": 2, "Recorder Wang": 1, "Recorder Zhao": 1,
    }  # fmt: skip
    assert {row["issue_id"] for row in everything if row["kind"] != "duty"} == {lane}
    assert {row["issue_id"] for row in everything if row["kind"] == "duty"} == {None}
