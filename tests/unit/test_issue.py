"""The Issue aggregate: every command, every rule, and every refusal it can give."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest

from domain.clock import event_time
from domain.errors import (
    AlreadyEvaluatedError,
    ClockStateError,
    DeadlineInPastError,
    DeadlineNotLaterError,
    InvalidInputError,
    IssueClosedError,
    LeaderAlreadyAssignedError,
    NoEvaluationsError,
    NoLeaderError,
    NothingToDiscloseError,
    NotPermittedError,
    RuleBrokenError,
    SameLeaderError,
    UnknownCoordinationError,
    WrongStageError,
)
from domain.issue import Issue, ServiceLevels
from domain.rules import MAX_TITLE
from tests.builders import (
    DEADLINE,
    DEPARTMENT,
    LEADER,
    LEVELS,
    NUMBER,
    OFFICER,
    REVISIT,
    T0,
    assign,
    evaluate,
    issue_in,
    open_issue,
    refused,
    replay,
    resolve,
    state_of,
    stored_before,
)

T1 = T0 + timedelta(days=1)
LATER = DEADLINE + timedelta(days=10)
SECOND = timedelta(seconds=1)


@pytest.fixture(autouse=True)
def _steps_without_their_own_moment_happen_at_t0() -> Iterator[None]:
    """Stamp events of steps not given a moment with T0, so no event ever carries the wall clock."""
    with event_time(T0):
        yield


def last_event(issue: Issue) -> Any:
    return issue.pending_events[-1]


def conclude(issue: Issue, *, at: datetime = T1, new_deadline: datetime | None = None) -> str:
    with event_time(at):
        return issue.conclude_evaluation(
            threshold=0.95, new_deadline=new_deadline, levels=LEVELS, now=at, actor=OFFICER, meeting_id=None
        )


def escalate(issue: Issue, at: datetime, levels: ServiceLevels = LEVELS) -> bool:
    with event_time(at):
        return issue.escalate_if_overdue(at, levels, actor="scheduler")


def extend(issue: Issue, deadline: datetime, *, at: datetime = T1) -> None:
    with event_time(at):
        issue.extend_deadline(
            deadline=deadline, reason="Cable delivery late", approver="Chen", now=at, actor=OFFICER
        )


def reopen(issue: Issue, *, role: str = "supervisor", at: datetime = T1, deadline: datetime = LATER) -> None:
    with event_time(at):
        issue.reopen(reason="A lamp is out again", deadline=deadline, now=at, actor="Sun", role=role)


# -- opening -------------------------------------------------------------------------------


def test_opens_an_item_without_a_leader_and_stamps_the_event_with_the_command_time() -> None:
    opinion = uuid4()
    meeting = uuid4()

    issue = open_issue(at=T0, opinion_ids=[opinion], meeting_id=meeting, description="  Old man fell.  ")

    assert (issue.number, issue.title, issue.area, issue.level, issue.horizon) == (
        NUMBER,
        "Street lights for the back lanes of grid 4",
        "security",
        "village",
        "near",
    )
    assert (issue.stage, issue.leader, issue.deadline, issue.unit) == ("opened", None, None, "grid 4")
    assert issue.description == "Old man fell."
    assert issue.opinion_ids == [opinion]
    opened = last_event(issue)
    assert type(opened).__name__ == "Opened"
    assert (opened.timestamp, opened.actor, opened.meeting_id) == (T0, OFFICER, meeting)
    assert (issue.version, issue.created_on, issue.modified_on) == (1, T0, T0)


def test_strips_the_title_and_keeps_a_blank_description_and_unit_as_not_given() -> None:
    issue = open_issue(title="  Broken bench  ", description="   ", unit="  ")

    assert (issue.title, issue.description, issue.unit) == ("Broken bench", None, None)


def test_opens_an_item_whose_title_is_exactly_at_the_limit() -> None:
    issue = open_issue(title="t" * MAX_TITLE)

    assert len(issue.title) == MAX_TITLE


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("title", "", "must not be empty"),
        ("title", "   ", "must not be empty"),
        ("title", "t" * (MAX_TITLE + 1), f"at most {MAX_TITLE} characters"),
        ("area", "roads", "must be one of development, environment, security"),
        ("level", "province", "must be one of grid, village, town, district"),
        ("horizon", "someday", "must be one of immediate, near, mid, long"),
        ("unit", "u" * 121, "at most 120 characters"),
    ],
)
def test_refuses_to_open_an_item_with_a_bad_value_and_names_the_field(
    field: str, value: str, problem: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        open_issue(**{field: value})

    assert caught.value.code == "invalid_input"
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")
    assert problem in caught.value.message


# -- merging opinions ------------------------------------------------------------------------


def test_links_another_opinion_to_the_item_with_the_meeting_that_merged_it() -> None:
    first, second, meeting = uuid4(), uuid4(), uuid4()
    issue = open_issue(opinion_ids=[first])

    with event_time(T1):
        issue.link_opinion(second, actor=OFFICER, meeting_id=meeting)

    assert issue.opinion_ids == [first, second]
    linked = last_event(issue)
    assert type(linked).__name__ == "OpinionLinked"
    assert (linked.opinion_id, linked.meeting_id, linked.timestamp) == (second, meeting, T1)


def test_records_nothing_when_an_opinion_is_linked_again() -> None:
    opinion = uuid4()
    issue = open_issue(opinion_ids=[opinion])
    before = state_of(issue)

    with event_time(T1):
        issue.link_opinion(opinion, actor=OFFICER, meeting_id=None)

    assert len(issue.pending_events) == 1
    assert state_of(issue) == before


# -- assigning the leader ---------------------------------------------------------------------


def test_assigns_one_leader_with_department_goals_measures_and_deadline() -> None:
    issue = open_issue()
    meeting = uuid4()

    with event_time(T1):
        issue.assign_leader(
            leader=" Zhang ", department=DEPARTMENT, goals=["lights working", " inspected "],
            measures=["move the cable"], deadline=DEADLINE, now=T1, actor=OFFICER, meeting_id=meeting,
        )  # fmt: skip

    assert (issue.leader, issue.department, issue.deadline, issue.stage) == (
        LEADER,
        DEPARTMENT,
        DEADLINE,
        "assigned",
    )
    assert (issue.goals, issue.measures) == (["lights working", "inspected"], ["move the cable"])
    assigned = last_event(issue)
    assert type(assigned).__name__ == "LeaderAssigned"
    assert (assigned.leader, assigned.deadline, assigned.meeting_id, assigned.timestamp) == (
        LEADER,
        DEADLINE,
        meeting,
        T1,
    )


def test_refuses_a_second_leader_and_says_hand_it_over() -> None:
    issue = issue_in("assigned")

    with refused(issue, LeaderAlreadyAssignedError) as caught:
        assign(issue, at=T1, leader="Li")

    assert caught.value.code == "leader_already_assigned"
    assert NUMBER in caught.value.message
    assert LEADER in caught.value.message
    assert "hand it over" in caught.value.message


def test_refuses_a_second_leader_even_after_the_item_was_reopened() -> None:
    issue = evaluate(issue_in("resolved"), dissatisfied=1)
    conclude(issue)

    with refused(issue, LeaderAlreadyAssignedError):
        assign(issue, at=T1, leader="Li", deadline=LATER)


@pytest.mark.parametrize("deadline", [T1 - SECOND, T1], ids=["before now", "exactly now"])
def test_refuses_an_assignment_whose_deadline_is_not_in_the_future(deadline: datetime) -> None:
    issue = open_issue()

    with refused(issue, DeadlineInPastError) as caught:
        assign(issue, at=T1, deadline=deadline)

    assert caught.value.code == "deadline_in_past"
    assert f"{deadline:%Y-%m-%d %H:%M}" in caught.value.message
    assert issue.leader is None


def test_refuses_an_assignment_whose_deadline_has_no_time_zone() -> None:
    issue = open_issue()

    with refused(issue, InvalidInputError) as caught:
        assign(issue, at=T1, deadline=datetime(2026, 4, 30, 18, 0))

    assert caught.value.field == "deadline"
    assert "time zone" in caught.value.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"leader": "  "}, "leader"),
        ({"leader": "z" * 121}, "leader"),
        ({"department": ""}, "department"),
        ({"goals": []}, "goals"),
        ({"goals": ["fine", "  "]}, "goals"),
        ({"measures": []}, "measures"),
    ],
)
def test_refuses_an_assignment_with_a_missing_or_oversized_part(changes: dict[str, Any], field: str) -> None:
    issue = open_issue()
    args: dict[str, Any] = {
        "leader": LEADER, "department": DEPARTMENT, "goals": ["g"], "measures": ["m"],
        "deadline": DEADLINE, "now": T1, "actor": OFFICER, "meeting_id": None,
    }  # fmt: skip

    with refused(issue, InvalidInputError) as caught:
        issue.assign_leader(**{**args, **changes})

    assert caught.value.field == field


def test_refuses_to_assign_an_item_that_is_registered_and_explained() -> None:
    issue = issue_in("registered")

    with refused(issue, WrongStageError) as caught:
        assign(issue, at=T1)

    assert caught.value.code == "wrong_stage"
    assert caught.value.stage == "registered"
    assert caught.value.message == f"Issue {NUMBER} is registered; it cannot be assigned now."


# -- handing over -------------------------------------------------------------------------------


def test_hands_the_item_over_to_a_named_successor_and_keeps_who_held_it() -> None:
    issue = issue_in("in_progress")
    meeting = uuid4()

    with event_time(T1):
        issue.hand_over(to=" Li ", reason="Zhang was transferred", actor=OFFICER, meeting_id=meeting)

    assert (issue.leader, issue.department, issue.deadline) == ("Li", DEPARTMENT, DEADLINE)
    handed = last_event(issue)
    assert type(handed).__name__ == "LeadershipHandedOver"
    assert (handed.previous, handed.leader, handed.reason, handed.meeting_id, handed.timestamp) == (
        LEADER,
        "Li",
        "Zhang was transferred",
        meeting,
        T1,
    )


def test_refuses_to_hand_over_an_item_that_has_no_leader_yet() -> None:
    issue = open_issue()

    with refused(issue, NoLeaderError) as caught:
        issue.hand_over(to="Li", reason="transferred", actor=OFFICER, meeting_id=None)

    assert caught.value.code == "no_leader"
    assert caught.value.message == f"Issue {NUMBER} has no leader yet; assign one first."


@pytest.mark.parametrize("successor", [LEADER, f"  {LEADER} "])
def test_refuses_to_hand_over_to_the_leader_who_already_holds_it(successor: str) -> None:
    issue = issue_in("assigned")

    with refused(issue, SameLeaderError) as caught:
        issue.hand_over(to=successor, reason="transferred", actor=OFFICER, meeting_id=None)

    assert caught.value.code == "same_leader"
    assert NUMBER in caught.value.message
    assert LEADER in caught.value.message
    assert "name a successor" in caught.value.message


@pytest.mark.parametrize(
    ("to", "reason", "field"),
    [("", "transferred", "to"), ("   ", "transferred", "to"), ("Li", " ", "reason")],
)
def test_nobody_can_clear_the_leader_or_hand_over_without_a_reason(to: str, reason: str, field: str) -> None:
    issue = issue_in("assigned")

    with refused(issue, InvalidInputError) as caught:
        issue.hand_over(to=to, reason=reason, actor=OFFICER, meeting_id=None)

    assert caught.value.field == field
    assert issue.leader == LEADER


# -- deadlines ----------------------------------------------------------------------------------


def test_extends_the_deadline_with_a_reason_and_an_approver() -> None:
    issue = issue_in("assigned")

    extend(issue, LATER)

    assert issue.deadline == LATER
    extended = last_event(issue)
    assert type(extended).__name__ == "DeadlineExtended"
    assert (extended.previous, extended.deadline, extended.reason, extended.approver, extended.timestamp) == (
        DEADLINE,
        LATER,
        "Cable delivery late",
        "Chen",
        T1,
    )


@pytest.mark.parametrize("deadline", [DEADLINE, DEADLINE - SECOND], ids=["same", "earlier"])
def test_refuses_an_extension_that_does_not_move_the_deadline_later(deadline: datetime) -> None:
    issue = issue_in("in_progress")

    with refused(issue, DeadlineNotLaterError) as caught:
        extend(issue, deadline)

    assert caught.value.code == "deadline_not_later"
    assert NUMBER in caught.value.message
    assert "2026-04-30 18:00 UTC" in caught.value.message


def test_says_the_current_deadline_in_utc_when_it_was_given_in_another_time_zone() -> None:
    beijing = timezone(timedelta(hours=8))
    issue = assign(open_issue(), deadline=datetime(2026, 4, 30, 18, 0, tzinfo=beijing))

    with refused(issue, DeadlineNotLaterError) as caught:
        extend(issue, datetime(2026, 4, 30, 9, 0, tzinfo=UTC))

    # 18:00 in Beijing is 10:00 UTC: the message must not call Beijing time UTC.
    assert "2026-04-30 10:00 UTC" in caught.value.message


def test_refuses_an_extension_that_is_later_but_already_past() -> None:
    issue = issue_in("assigned")
    now = DEADLINE + timedelta(days=5)

    with refused(issue, DeadlineInPastError) as caught:
        extend(issue, DEADLINE + timedelta(days=1), at=now)

    assert "2026-05-01 18:00" in caught.value.message


def test_refuses_an_extension_whose_deadline_has_no_time_zone_as_bad_input() -> None:
    issue = issue_in("assigned")

    with refused(issue, InvalidInputError) as caught:
        extend(issue, datetime(2026, 6, 30, 18, 0))

    assert caught.value.field == "deadline"


@pytest.mark.parametrize(
    ("reason", "approver", "field"), [("  ", "Chen", "reason"), ("late", "", "approver")]
)
def test_refuses_an_extension_without_a_reason_or_an_approver(reason: str, approver: str, field: str) -> None:
    issue = issue_in("assigned")

    with refused(issue, InvalidInputError) as caught:
        issue.extend_deadline(deadline=LATER, reason=reason, approver=approver, now=T1, actor=OFFICER)

    assert caught.value.field == field


@pytest.mark.parametrize("stage", ["opened", "registered", "resolved"])
def test_refuses_to_extend_the_deadline_of_an_item_nobody_is_working_on(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        extend(issue, LATER)

    assert caught.value.stage == stage
    assert caught.value.message == f"Issue {NUMBER} is {stage}; it cannot have its deadline extended now."


# -- escalation -----------------------------------------------------------------------------


@pytest.mark.parametrize("moment", [DEADLINE - SECOND, DEADLINE], ids=["before", "exactly at the deadline"])
def test_does_not_escalate_an_item_whose_deadline_has_not_passed(moment: datetime) -> None:
    issue = issue_in("in_progress", level="grid")
    before = state_of(issue)
    pending = len(issue.pending_events)

    escalated = escalate(issue, moment)

    assert escalated is False
    assert len(issue.pending_events) == pending
    assert state_of(issue) == before


def test_escalates_an_overdue_item_one_level_with_a_new_deadline_under_the_same_leader() -> None:
    issue = issue_in("assigned", level="grid")
    now = DEADLINE + SECOND

    escalated = escalate(issue, now)

    assert escalated is True
    assert (issue.level, issue.deadline, issue.leader) == ("village", now + timedelta(days=15), LEADER)
    assert issue.escalated_for == [DEADLINE]
    event = last_event(issue)
    assert type(event).__name__ == "Escalated"
    assert (event.from_level, event.to_level, event.for_deadline, event.deadline, event.leader) == (
        "grid",
        "village",
        DEADLINE,
        now + timedelta(days=15),
        LEADER,
    )
    assert event.reason == "deadline 2026-04-30 18:00 UTC passed at grid level"
    assert (event.actor, event.timestamp) == ("scheduler", now)


def test_climbs_the_ladder_grid_village_town_district_then_goes_to_the_standing_committee() -> None:
    issue = issue_in("in_progress", level="grid")
    now = DEADLINE + SECOND
    climbed = []

    for _ in range(3):
        missed = issue.deadline
        assert escalate(issue, now) is True
        climbed.append((issue.level, issue.deadline - now))
        assert issue.escalated_for[-1] == missed
        now = issue.deadline + SECOND
    top_deadline = issue.deadline
    referred = escalate(issue, now)

    assert climbed == [
        ("village", timedelta(days=15)),
        ("town", timedelta(days=30)),
        ("district", timedelta(days=60)),
    ]
    assert referred is True
    assert (issue.level, issue.deadline, issue.on_committee_list) == ("district", top_deadline, True)
    event = last_event(issue)
    assert type(event).__name__ == "ReferredToStandingCommittee"
    assert (event.for_deadline, event.leader, event.timestamp) == (top_deadline, LEADER, now)


def test_escalates_at_most_once_for_the_same_deadline_however_often_the_scheduler_asks() -> None:
    issue = issue_in("assigned", level="grid")
    escalate(issue, DEADLINE + SECOND)
    pending = len(issue.pending_events)
    # The new village deadline has not passed yet, and the grid one was already escalated.
    assert escalate(issue, DEADLINE + SECOND) is False
    assert escalate(issue, DEADLINE + timedelta(days=3)) is False

    assert len(issue.pending_events) == pending
    assert issue.level == "village"


def test_refers_to_the_standing_committee_once_per_deadline_never_twice() -> None:
    issue = issue_in("assigned", level="district")
    assert escalate(issue, DEADLINE + SECOND) is True
    pending = len(issue.pending_events)
    before = state_of(issue)

    again = [escalate(issue, DEADLINE + timedelta(days=d)) for d in (1, 30, 365)]

    assert again == [False, False, False]
    assert len(issue.pending_events) == pending
    assert state_of(issue) == before


def test_a_new_deadline_after_a_referral_can_be_referred_again() -> None:
    issue = issue_in("assigned", level="district")
    escalate(issue, DEADLINE + SECOND)
    extend(issue, LATER, at=DEADLINE + timedelta(days=1))

    referred = escalate(issue, LATER + SECOND)

    assert referred is True
    assert issue.escalated_for == [DEADLINE, LATER]
    assert type(last_event(issue)).__name__ == "ReferredToStandingCommittee"
    assert issue.level == "district"


def test_a_new_deadline_after_an_escalation_can_escalate_again() -> None:
    issue = issue_in("assigned", level="grid")
    escalate(issue, DEADLINE + SECOND)
    village_deadline = issue.deadline
    extend(issue, village_deadline + timedelta(days=5), at=DEADLINE + timedelta(days=2))

    escalated = escalate(issue, village_deadline + timedelta(days=5, seconds=1))

    assert escalated is True
    assert issue.level == "town"
    assert issue.escalated_for == [DEADLINE, village_deadline + timedelta(days=5)]


def test_escalates_with_the_service_levels_it_is_given() -> None:
    issue = issue_in("assigned", level="village")
    now = DEADLINE + SECOND

    escalate(issue, now, ServiceLevels(grid=1, village=2, town=3, district=4))

    assert (issue.level, issue.deadline) == ("town", now + timedelta(days=3))


@pytest.mark.parametrize("stage", ["opened", "registered", "resolved", "closed"])
def test_never_escalates_an_item_nobody_is_working_on(stage: str) -> None:
    issue = issue_in(stage, level="grid")
    pending = len(issue.pending_events)
    before = state_of(issue)

    escalated = escalate(issue, DEADLINE + timedelta(days=400))

    assert escalated is False
    assert len(issue.pending_events) == pending
    assert state_of(issue) == before


@pytest.mark.parametrize(
    ("stage", "moment", "overdue"),
    [
        ("assigned", DEADLINE + SECOND, True),
        ("in_progress", DEADLINE + SECOND, True),
        ("in_progress", DEADLINE, False),
        ("resolved", DEADLINE + SECOND, False),
        ("opened", DEADLINE + SECOND, False),
    ],
)
def test_is_overdue_only_while_worked_on_and_strictly_after_the_deadline(
    stage: str, moment: datetime, overdue: bool
) -> None:
    issue = issue_in(stage)

    assert issue.is_overdue(moment) is overdue


# -- the deadline clock ----------------------------------------------------------------------


def pause(issue: Issue, at: datetime = T1) -> None:
    with event_time(at):
        issue.pause_clock(reason=" Waiting for the power company ", now=at, actor=LEADER)


def resume(issue: Issue, at: datetime) -> None:
    with event_time(at):
        issue.resume_clock(now=at, actor=LEADER)


def test_pauses_the_deadline_clock_while_the_item_waits_on_someone_outside() -> None:
    issue = issue_in("in_progress")

    pause(issue)

    assert (issue.paused_since, issue.pause_reason, issue.deadline) == (
        T1,
        "Waiting for the power company",
        DEADLINE,
    )
    event = last_event(issue)
    assert type(event).__name__ == "ClockPaused"
    assert (event.reason, event.at, event.actor, event.timestamp) == (
        "Waiting for the power company",
        T1,
        LEADER,
        T1,
    )


def test_refuses_to_pause_a_clock_that_is_already_paused() -> None:
    issue = issue_in("assigned")
    pause(issue)

    with refused(issue, ClockStateError) as caught:
        pause(issue, T1 + timedelta(days=1))

    assert caught.value.code == "clock_state"
    assert isinstance(caught.value, RuleBrokenError)
    assert caught.value.message == f"The clock of issue {NUMBER} is already paused."


@pytest.mark.parametrize("stage", ["opened", "registered", "resolved"])
def test_refuses_to_pause_the_clock_of_an_item_nobody_is_working_on(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        pause(issue)

    assert caught.value.message == f"Issue {NUMBER} is {stage}; it cannot have its clock paused now."


def test_refuses_to_pause_the_clock_without_a_reason() -> None:
    issue = issue_in("assigned")

    with refused(issue, InvalidInputError) as caught:
        issue.pause_clock(reason="  ", now=T1, actor=LEADER)

    assert caught.value.field == "reason"


def test_a_paused_item_is_never_overdue_and_never_escalates() -> None:
    issue = issue_in("in_progress", level="grid")
    pause(issue)
    pending = len(issue.pending_events)

    escalated = escalate(issue, DEADLINE + timedelta(days=90))

    assert escalated is False
    assert issue.is_overdue(DEADLINE + timedelta(days=90)) is False
    assert len(issue.pending_events) == pending


def test_resuming_moves_the_deadline_by_exactly_the_time_the_clock_was_paused() -> None:
    issue = issue_in("in_progress")
    pause(issue, T1)
    resumed_at = T1 + timedelta(days=8, hours=3)

    resume(issue, resumed_at)

    moved = DEADLINE + timedelta(days=8, hours=3)
    assert (issue.paused_since, issue.pause_reason, issue.deadline) == (None, None, moved)
    event = last_event(issue)
    assert type(event).__name__ == "ClockResumed"
    assert (event.paused_seconds, event.previous, event.deadline, event.timestamp) == (
        timedelta(days=8, hours=3).total_seconds(),
        DEADLINE,
        moved,
        resumed_at,
    )


def test_a_resumed_item_escalates_only_once_its_moved_deadline_has_passed() -> None:
    issue = issue_in("in_progress", level="grid")
    pause(issue, T1)
    resume(issue, T1 + timedelta(days=10))
    moved = DEADLINE + timedelta(days=10)

    assert escalate(issue, DEADLINE + SECOND) is False
    escalated = escalate(issue, moved + SECOND)

    assert escalated is True
    assert issue.escalated_for == [moved]


def test_resuming_before_the_pause_began_never_moves_the_deadline_earlier() -> None:
    issue = issue_in("in_progress")
    pause(issue, T1)

    resume(issue, T1 - timedelta(hours=1))

    assert issue.deadline == DEADLINE
    assert last_event(issue).paused_seconds == 0


@pytest.mark.parametrize("stage", ["opened", "registered", "assigned", "resolved"])
def test_refuses_to_resume_a_clock_that_is_not_paused(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, ClockStateError) as caught:
        resume(issue, T1)

    assert caught.value.message == f"The clock of issue {NUMBER} is not paused."


def test_reopening_after_the_evaluation_starts_the_clock_again() -> None:
    issue = issue_in("in_progress")
    pause(issue, T1)
    resolve(issue, at=T1)
    evaluate(issue, at=T1, dissatisfied=1)

    conclude(issue, at=T1)

    assert (issue.stage, issue.paused_since, issue.pause_reason) == ("in_progress", None, None)
    assert issue.is_overdue(issue.deadline + SECOND) is True


# -- reminders ------------------------------------------------------------------------------

WEEK = timedelta(days=7)


def remind(issue: Issue, at: datetime, lead: timedelta = WEEK) -> bool:
    with event_time(at):
        return issue.remind_if_due(at, lead, actor="scheduler")


@pytest.mark.parametrize("moment", [DEADLINE - WEEK, DEADLINE - SECOND], ids=["window opens", "last second"])
def test_reminds_the_leader_once_the_deadline_is_within_the_lead_time(moment: datetime) -> None:
    issue = issue_in("in_progress")

    reminded = remind(issue, moment)

    assert reminded is True
    key = f"{DEADLINE.isoformat()}/{int(WEEK.total_seconds())}"
    assert issue.reminded == [key]
    event = last_event(issue)
    assert type(event).__name__ == "ReminderDue"
    assert (event.key, event.for_deadline, event.lead_seconds, event.leader, event.timestamp) == (
        key,
        DEADLINE,
        604800,
        LEADER,
        moment,
    )


@pytest.mark.parametrize(
    "moment",
    [DEADLINE - WEEK - SECOND, DEADLINE, DEADLINE + SECOND],
    ids=["too early", "at deadline", "after"],
)
def test_does_not_remind_outside_the_lead_time_before_the_deadline(moment: datetime) -> None:
    issue = issue_in("in_progress")
    pending = len(issue.pending_events)

    reminded = remind(issue, moment)

    assert reminded is False
    assert (len(issue.pending_events), issue.reminded) == (pending, [])


def test_reminds_once_per_deadline_and_lead_time_however_often_the_scheduler_asks() -> None:
    issue = issue_in("in_progress")
    remind(issue, DEADLINE - WEEK)

    again = [remind(issue, DEADLINE - WEEK), remind(issue, DEADLINE - timedelta(days=1))]
    other_lead = remind(issue, DEADLINE - timedelta(days=1), lead=timedelta(days=2))

    assert again == [False, False]
    assert other_lead is True
    assert len(issue.reminded) == 2


def test_a_new_deadline_earns_a_new_reminder() -> None:
    issue = issue_in("in_progress")
    remind(issue, DEADLINE - WEEK)
    extend(issue, LATER, at=DEADLINE - timedelta(days=2))

    reminded = remind(issue, LATER - timedelta(days=1))

    assert reminded is True
    assert issue.reminded[-1].startswith(LATER.isoformat())


@pytest.mark.parametrize("stage", ["opened", "registered", "resolved", "closed", "paused"])
def test_never_reminds_about_an_item_whose_clock_is_not_running(stage: str) -> None:
    issue = issue_in("in_progress") if stage == "paused" else issue_in(stage)
    if stage == "paused":
        pause(issue)
    pending = len(issue.pending_events)

    reminded = remind(issue, DEADLINE - timedelta(days=1))

    assert reminded is False
    assert len(issue.pending_events) == pending


# -- front-line work -------------------------------------------------------------------------


def test_a_progress_report_moves_the_item_in_progress_and_names_the_leader() -> None:
    issue = issue_in("assigned")

    with event_time(T1):
        issue.report_progress(note=" Cable moved. ", actor="Li Ming")

    assert (issue.stage, issue.last_progress) == ("in_progress", "Cable moved.")
    event = last_event(issue)
    assert type(event).__name__ == "ProgressReported"
    assert (event.note, event.leader, event.actor, event.timestamp) == ("Cable moved.", LEADER, "Li Ming", T1)


def test_later_progress_reports_keep_the_item_in_progress_and_the_last_note() -> None:
    issue = issue_in("in_progress")

    with event_time(T1):
        issue.report_progress(note="Poles up.", actor=LEADER)

    assert (issue.stage, issue.last_progress) == ("in_progress", "Poles up.")


@pytest.mark.parametrize("stage", ["opened", "registered", "resolved"])
def test_refuses_a_progress_report_when_the_item_is_not_being_worked_on(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        issue.report_progress(note="Poles up.", actor=LEADER)

    assert NUMBER in caught.value.message
    assert "cannot take progress reports" in caught.value.message


def test_refuses_an_empty_progress_report() -> None:
    issue = issue_in("assigned")

    with refused(issue, InvalidInputError) as caught:
        issue.report_progress(note="  ", actor=LEADER)

    assert caught.value.field == "note"


def test_asks_other_departments_for_coordination_and_numbers_the_requests() -> None:
    issue = issue_in("assigned")

    with event_time(T1):
        first = issue.request_coordination(department="Power company", request="Move the cable", actor=LEADER)
        second = issue.request_coordination(department="Sanitation", request="Clear the lane", actor=LEADER)

    assert (first, second) == (0, 1)
    assert issue.stage == "in_progress"
    assert issue.coordinations == [
        {"department": "Power company", "request": "Move the cable", "answer": None},
        {"department": "Sanitation", "request": "Clear the lane", "answer": None},
    ]
    event = last_event(issue)
    assert type(event).__name__ == "CoordinationRequested"
    assert (event.index, event.department, event.timestamp) == (1, "Sanitation", T1)


@pytest.mark.parametrize("stage", ["opened", "registered", "resolved"])
def test_refuses_to_ask_for_coordination_when_the_item_is_not_being_worked_on(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        issue.request_coordination(department="Power company", request="Move the cable", actor=LEADER)

    assert "cannot ask for coordination" in caught.value.message


def test_refuses_a_coordination_request_without_a_department() -> None:
    issue = issue_in("assigned")

    with refused(issue, InvalidInputError) as caught:
        issue.request_coordination(department=" ", request="Move the cable", actor=LEADER)

    assert caught.value.field == "department"


def test_records_the_answer_to_a_coordination_request() -> None:
    issue = issue_in("assigned")
    issue.request_coordination(department="Power company", request="Move the cable", actor=LEADER)

    with event_time(T1):
        issue.answer_coordination(index=0, answer=" Moved on April 18. ", actor="Power company")

    assert issue.coordinations[0]["answer"] == "Moved on April 18."
    event = last_event(issue)
    assert type(event).__name__ == "CoordinationAnswered"
    assert (event.index, event.answer, event.timestamp) == (0, "Moved on April 18.", T1)


def test_takes_a_late_coordination_answer_after_the_item_is_resolved() -> None:
    issue = issue_in("assigned")
    issue.request_coordination(department="Power company", request="Move the cable", actor=LEADER)
    resolve(issue)

    issue.answer_coordination(index=0, answer="Done.", actor="Power company")

    assert issue.coordinations[0]["answer"] == "Done."


@pytest.mark.parametrize("index", [-1, 1, 7])
def test_refuses_an_answer_to_a_coordination_request_that_was_never_made(index: int) -> None:
    issue = issue_in("assigned")
    issue.request_coordination(department="Power company", request="Move the cable", actor=LEADER)

    with refused(issue, UnknownCoordinationError) as caught:
        issue.answer_coordination(index=index, answer="Done.", actor="Power company")

    assert caught.value.code == "unknown_coordination"
    assert caught.value.message == f"Issue {NUMBER} has no coordination request number {index}."


def test_refuses_a_second_answer_to_the_same_coordination_request() -> None:
    issue = issue_in("assigned")
    issue.request_coordination(department="Power company", request="Move the cable", actor=LEADER)
    issue.answer_coordination(index=0, answer="Done.", actor="Power company")

    with refused(issue, UnknownCoordinationError) as caught:
        issue.answer_coordination(index=0, answer="Done again.", actor="Power company")

    assert caught.value.message == f"Coordination request 0 of issue {NUMBER} is already answered."


def test_refuses_an_empty_coordination_answer() -> None:
    issue = issue_in("assigned")
    issue.request_coordination(department="Power company", request="Move the cable", actor=LEADER)

    with refused(issue, InvalidInputError) as caught:
        issue.answer_coordination(index=0, answer="", actor="Power company")

    assert caught.value.field == "answer"


@pytest.mark.parametrize("stage", ["assigned", "in_progress", "resolved"])
def test_records_a_representatives_inspection_while_worked_on_or_resolved(stage: str) -> None:
    issue = issue_in(stage)
    before = state_of(issue)

    with event_time(T1):
        issue.record_inspection(inspector=" Rep. Hu ", findings="Lights on.", confirmed=True, actor=OFFICER)

    event = last_event(issue)
    assert type(event).__name__ == "InspectionRecorded"
    assert (event.inspector, event.findings, event.confirmed, event.timestamp) == (
        "Rep. Hu",
        "Lights on.",
        True,
        T1,
    )
    assert issue.stage == before["stage"]


@pytest.mark.parametrize("stage", ["opened", "registered"])
def test_refuses_an_inspection_before_anyone_works_on_the_item(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        issue.record_inspection(inspector="Rep. Hu", findings="Nothing yet.", confirmed=False, actor=OFFICER)

    assert "cannot be inspected" in caught.value.message


def test_refuses_an_inspection_without_findings() -> None:
    issue = issue_in("resolved")

    with refused(issue, InvalidInputError) as caught:
        issue.record_inspection(inspector="Rep. Hu", findings=" ", confirmed=True, actor=OFFICER)

    assert caught.value.field == "findings"


# -- disclosure -----------------------------------------------------------------------------


def test_discloses_exactly_the_chosen_fields_with_the_item_number_and_where() -> None:
    issue = issue_in("assigned")

    with event_time(T1):
        published = issue.disclose(
            fields=["title", "leader", "deadline", "goals"],
            where=" village bulletin board ",
            note=None,
            actor=OFFICER,
        )

    expected = {
        "number": NUMBER,
        "title": "Street lights for the back lanes of grid 4",
        "leader": LEADER,
        "deadline": "2026-04-30T18:00:00+00:00",
        "goals": "lights working and inspected",
    }
    assert published == expected
    event = last_event(issue)
    assert type(event).__name__ == "Disclosed"
    assert (event.published, event.where, event.timestamp) == (expected, "village bulletin board", T1)
    assert issue.disclosures == 1


def test_discloses_a_note_and_joins_several_goals() -> None:
    issue = open_issue()
    with event_time(T0):
        issue.assign_leader(
            leader=LEADER, department=DEPARTMENT, goals=["lights working", "inspected"], measures=["m"],
            deadline=DEADLINE, now=T0, actor=OFFICER, meeting_id=None,
        )  # fmt: skip

    published = issue.disclose(
        fields=["goals"], where="public register", note="Work starts Monday.", actor=OFFICER
    )

    assert published == {
        "number": NUMBER,
        "goals": "lights working; inspected",
        "note": "Work starts Monday.",
    }


def test_discloses_a_note_alone() -> None:
    issue = open_issue()

    published = issue.disclose(
        fields=[], where="public register", note="Heard; analysis on March 14.", actor=OFFICER
    )

    assert published == {"number": NUMBER, "note": "Heard; analysis on March 14."}


def test_leaves_out_chosen_fields_that_have_no_value_yet() -> None:
    issue = issue_in("assigned")

    published = issue.disclose(
        fields=["title", "progress", "resolution"], where="board", note=None, actor=OFFICER
    )

    assert published == {"number": NUMBER, "title": "Street lights for the back lanes of grid 4"}
    assert last_event(issue).published == published


@pytest.mark.parametrize("field", ["description", "opinion_ids", "contact_ref", "Title"])
def test_refuses_to_publish_a_field_that_is_not_on_the_allow_list(field: str) -> None:
    issue = issue_in("assigned", description="Old Li at building 7, phone 139...")

    with refused(issue, InvalidInputError) as caught:
        issue.disclose(fields=["title", field], where="board", note=None, actor=OFFICER)

    assert caught.value.field == "fields"
    assert repr(field) in caught.value.message
    assert "choose from title, area, level" in caught.value.message


def test_refuses_a_disclosure_of_nothing() -> None:
    issue = issue_in("assigned")

    with refused(issue, InvalidInputError) as caught:
        issue.disclose(fields=[], where="board", note=None, actor=OFFICER)

    assert "choose at least one field" in caught.value.message


def test_refuses_a_disclosure_whose_chosen_fields_all_have_no_value_yet() -> None:
    issue = open_issue()

    with refused(issue, NothingToDiscloseError) as caught:
        issue.disclose(fields=["leader", "deadline", "progress"], where="board", note=None, actor=OFFICER)

    assert "none of the chosen fields has a value yet" in caught.value.message


@pytest.mark.parametrize(("where", "note", "field"), [("", None, "where"), ("board", "  ", "note")])
def test_refuses_a_disclosure_with_a_blank_place_or_note(where: str, note: str | None, field: str) -> None:
    issue = issue_in("assigned")

    with refused(issue, InvalidInputError) as caught:
        issue.disclose(fields=["title"], where=where, note=note, actor=OFFICER)

    assert caught.value.field == field


# -- resolution and evaluation ------------------------------------------------------------


def test_a_resolution_report_puts_the_item_before_the_people() -> None:
    issue = issue_in("in_progress")

    with event_time(T1):
        issue.report_resolution(summary=" Lights installed. ", actor="Li Ming")

    assert (issue.stage, issue.resolution, issue.evaluations) == ("resolved", "Lights installed.", {})
    event = last_event(issue)
    assert type(event).__name__ == "ResolutionReported"
    assert (event.summary, event.leader, event.timestamp) == ("Lights installed.", LEADER, T1)


def test_an_assigned_item_can_be_reported_resolved_without_a_progress_report() -> None:
    issue = issue_in("assigned")

    resolve(issue)

    assert issue.stage == "resolved"


@pytest.mark.parametrize("stage", ["opened", "registered", "resolved"])
def test_refuses_a_resolution_report_outside_the_work(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        resolve(issue, at=T1)

    assert caught.value.message == f"Issue {NUMBER} is {stage}; it cannot be reported resolved now."


def test_refuses_a_resolution_report_without_a_summary() -> None:
    issue = issue_in("in_progress")

    with refused(issue, InvalidInputError) as caught:
        issue.report_resolution(summary="", actor=LEADER)

    assert caught.value.field == "summary"


def test_records_each_representatives_verdict_with_the_meeting() -> None:
    issue = issue_in("resolved")
    meeting = uuid4()

    with event_time(T1):
        issue.record_evaluation(
            evaluator=" Rep. Hu ", verdict="basically_satisfied", comment=" one lamp dim ", actor=OFFICER,
            meeting_id=meeting,
        )  # fmt: skip

    assert issue.evaluations == {"Rep. Hu": "basically_satisfied"}
    event = last_event(issue)
    assert type(event).__name__ == "EvaluationRecorded"
    assert (event.evaluator, event.verdict, event.comment, event.meeting_id, event.timestamp) == (
        "Rep. Hu",
        "basically_satisfied",
        "one lamp dim",
        meeting,
        T1,
    )


@pytest.mark.parametrize("again", ["Rep. Hu", "  Rep. Hu  "])
def test_refuses_a_second_verdict_from_the_same_representative_in_one_round(again: str) -> None:
    issue = issue_in("resolved")
    issue.record_evaluation(
        evaluator="Rep. Hu", verdict="satisfied", comment=None, actor=OFFICER, meeting_id=None
    )

    with refused(issue, AlreadyEvaluatedError) as caught:
        issue.record_evaluation(
            evaluator=again, verdict="dissatisfied", comment=None, actor=OFFICER, meeting_id=None
        )

    assert caught.value.code == "already_evaluated"
    assert caught.value.message == f"Rep. Hu has already evaluated issue {NUMBER} in this round."
    assert isinstance(caught.value, RuleBrokenError)


def test_refuses_an_unknown_verdict_and_lists_the_verdicts() -> None:
    issue = issue_in("resolved")

    with refused(issue, InvalidInputError) as caught:
        issue.record_evaluation(
            evaluator="Rep. Hu", verdict="meh", comment=None, actor=OFFICER, meeting_id=None
        )

    assert caught.value.message == "verdict: must be one of satisfied, basically_satisfied, dissatisfied"


@pytest.mark.parametrize("stage", ["opened", "assigned", "in_progress", "registered"])
def test_refuses_a_verdict_before_the_item_is_reported_resolved(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        issue.record_evaluation(
            evaluator="Rep. Hu", verdict="satisfied", comment=None, actor=OFFICER, meeting_id=None
        )

    assert "cannot be evaluated" in caught.value.message


def test_counts_basically_satisfied_as_content_in_the_satisfaction_rate() -> None:
    issue = issue_in("resolved")
    assert issue.satisfaction() == 0.0

    evaluate(issue, satisfied=17, basically=1, dissatisfied=2)

    assert issue.satisfaction() == pytest.approx(0.9)


def test_reopens_under_the_same_leader_when_17_satisfied_1_basically_2_dissatisfied_is_90_percent() -> None:
    issue = evaluate(issue_in("resolved"), satisfied=17, basically=1, dissatisfied=2)
    new_deadline = T1 + timedelta(days=20)

    outcome = conclude(issue, new_deadline=new_deadline)

    assert outcome == "reopened"
    assert (issue.stage, issue.leader, issue.deadline, issue.evaluations, issue.rounds) == (
        "in_progress",
        LEADER,
        new_deadline,
        {},
        1,
    )
    event = last_event(issue)
    assert type(event).__name__ == "Reopened"
    assert event.rate == pytest.approx(0.9)
    assert event.threshold == 0.95
    assert event.counts == {"satisfied": 17, "basically_satisfied": 1, "dissatisfied": 2}
    assert event.reason == "satisfaction 90% is below the target 95%"
    assert (event.leader, event.deadline, event.timestamp) == (LEADER, new_deadline, T1)
    assert issue.outcome == "satisfaction 90% is below the target 95%"


def test_a_reopened_item_without_a_chosen_deadline_gets_its_levels_service_time() -> None:
    issue = evaluate(issue_in("resolved", level="town"), dissatisfied=1)

    conclude(issue, new_deadline=None)

    assert issue.deadline == T1 + timedelta(days=30)


def test_refuses_a_reopening_deadline_in_the_past_and_records_nothing() -> None:
    issue = evaluate(issue_in("resolved"), dissatisfied=1)

    with refused(issue, DeadlineInPastError):
        conclude(issue, new_deadline=T1 - SECOND)


def test_closes_the_item_when_every_representative_is_satisfied() -> None:
    issue = evaluate(issue_in("resolved"), satisfied=19, basically=1)

    outcome = conclude(issue)

    assert outcome == "closed"
    assert (issue.stage, issue.leader, issue.rounds, issue.outcome) == (
        "closed",
        LEADER,
        1,
        "closed with 100% satisfied",
    )
    event = last_event(issue)
    assert type(event).__name__ == "Closed"
    assert (event.rate, event.threshold, event.leader, event.timestamp) == (1.0, 0.95, LEADER, T1)
    assert event.counts == {"satisfied": 19, "basically_satisfied": 1, "dissatisfied": 0}


def test_closes_the_item_at_exactly_the_target_rate() -> None:
    issue = evaluate(issue_in("resolved"), satisfied=19, dissatisfied=1)

    assert conclude(issue) == "closed"


def test_a_reopened_item_is_judged_afresh_and_closes_in_its_second_round() -> None:
    issue = evaluate(issue_in("resolved"), satisfied=17, basically=1, dissatisfied=2)
    conclude(issue)
    resolve(issue, at=T1)
    evaluate(issue, at=T1, satisfied=20)

    outcome = conclude(issue, at=T1 + SECOND)

    assert outcome == "closed"
    assert (issue.rounds, issue.leader, issue.satisfaction()) == (2, LEADER, 1.0)


def test_refuses_to_conclude_a_round_in_which_nobody_has_voted() -> None:
    issue = issue_in("resolved")

    with refused(issue, NoEvaluationsError) as caught:
        conclude(issue)

    assert caught.value.code == "no_evaluations"
    assert caught.value.message == f"Nobody has evaluated issue {NUMBER} yet; record verdicts first."


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.01, 95.0])
def test_refuses_a_target_that_is_not_a_share(threshold: float) -> None:
    issue = evaluate(issue_in("resolved"), satisfied=1)

    with refused(issue, InvalidInputError) as caught:
        issue.conclude_evaluation(
            threshold=threshold, new_deadline=None, levels=LEVELS, now=T1, actor=OFFICER, meeting_id=None
        )

    assert caught.value.field == "threshold"


@pytest.mark.parametrize("stage", ["opened", "registered", "assigned", "in_progress"])
def test_refuses_to_conclude_an_evaluation_of_an_unresolved_item(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        conclude(issue)

    assert "cannot conclude an evaluation" in caught.value.message


# -- fix at once ----------------------------------------------------------------------------


def test_closes_an_immediate_item_fixed_on_the_spot_without_a_meeting() -> None:
    issue = issue_in("resolved", horizon="immediate")

    with event_time(T1):
        issue.close_fixed_at_once(note=" Drain cleared the same day. ", actor="Wang")

    assert (issue.stage, issue.outcome, issue.leader) == ("closed", "Drain cleared the same day.", LEADER)
    event = last_event(issue)
    assert type(event).__name__ == "ClosedAsFixed"
    assert (event.note, event.leader, event.timestamp) == ("Drain cleared the same day.", LEADER, T1)


@pytest.mark.parametrize("horizon", ["near", "mid", "long"])
def test_refuses_to_close_without_an_evaluation_an_item_that_is_not_immediate(horizon: str) -> None:
    issue = issue_in("resolved", horizon=horizon)

    with refused(issue, WrongStageError) as caught:
        issue.close_fixed_at_once(note="Done.", actor=OFFICER)

    assert NUMBER in caught.value.message
    assert f"{horizon}-term item" in caught.value.message
    assert "without an evaluation" in caught.value.message


@pytest.mark.parametrize("stage", ["opened", "assigned", "in_progress"])
def test_refuses_to_close_an_immediate_item_before_it_is_reported_resolved(stage: str) -> None:
    issue = issue_in(stage, horizon="immediate")

    with refused(issue, WrongStageError) as caught:
        issue.close_fixed_at_once(note="Done.", actor=OFFICER)

    assert caught.value.stage == stage


def test_refuses_to_close_as_fixed_without_a_note() -> None:
    issue = issue_in("resolved", horizon="immediate")

    with refused(issue, InvalidInputError) as caught:
        issue.close_fixed_at_once(note=" ", actor=OFFICER)

    assert caught.value.field == "note"


# -- a closed item ------------------------------------------------------------------------

CLOSED_COMMANDS: list[tuple[str, Callable[[Issue], object]]] = [
    ("link_opinion", lambda i: i.link_opinion(uuid4(), actor=OFFICER, meeting_id=None)),
    ("assign_leader", lambda i: assign(i, at=T1, leader="Li", deadline=LATER)),
    ("hand_over", lambda i: i.hand_over(to="Li", reason="transferred", actor=OFFICER, meeting_id=None)),
    ("extend_deadline", lambda i: extend(i, LATER)),
    ("report_progress", lambda i: i.report_progress(note="More.", actor=LEADER)),
    ("request_coordination", lambda i: i.request_coordination(department="D", request="R", actor=LEADER)),
    ("answer_coordination", lambda i: i.answer_coordination(index=0, answer="A", actor=LEADER)),
    (
        "record_inspection",
        lambda i: i.record_inspection(inspector="Hu", findings="F", confirmed=True, actor=OFFICER),
    ),
    ("report_resolution", lambda i: i.report_resolution(summary="S", actor=LEADER)),
    (
        "record_evaluation",
        lambda i: i.record_evaluation(
            evaluator="Hu", verdict="satisfied", comment=None, actor=OFFICER, meeting_id=None
        ),
    ),
    ("conclude_evaluation", lambda i: conclude(i)),
    ("close_fixed_at_once", lambda i: i.close_fixed_at_once(note="N", actor=OFFICER)),
    (
        "register_and_explain",
        lambda i: i.register_and_explain(
            explanation="E", revisit_at=REVISIT, now=T1, actor=OFFICER, meeting_id=None
        ),
    ),
    ("revisit", lambda i: i.revisit(actor=OFFICER, meeting_id=None)),
    ("pause_clock", lambda i: i.pause_clock(reason="Waiting for the power company", now=T1, actor=LEADER)),
    ("resume_clock", lambda i: i.resume_clock(now=T1, actor=LEADER)),
    ("disclose", lambda i: i.disclose(fields=["outcome"], where="board", note=None, actor=OFFICER)),
]


@pytest.mark.parametrize(("action", "command"), CLOSED_COMMANDS, ids=[name for name, _ in CLOSED_COMMANDS])
def test_a_closed_item_refuses_every_command_and_says_only_a_supervisor_can_reopen_it(
    action: str, command: Callable[[Issue], object]
) -> None:
    issue = issue_in("closed", horizon="immediate")

    with refused(issue, IssueClosedError) as caught:
        command(issue)

    assert caught.value.code == "issue_closed"
    assert caught.value.stage == "closed"
    assert isinstance(caught.value, WrongStageError)
    assert caught.value.message.startswith(f"Issue {NUMBER} is closed; it cannot ")
    assert caught.value.message.endswith("Only a supervisor can reopen it.")


def test_a_closed_item_is_never_escalated() -> None:
    issue = issue_in("closed")
    pending = len(issue.pending_events)

    escalated = escalate(issue, DEADLINE + timedelta(days=30))

    assert escalated is False
    assert len(issue.pending_events) == pending


@pytest.mark.parametrize("role", ["officer", "recorder", "public", "scheduler", "Supervisor"])
def test_only_a_supervisor_may_reopen_a_closed_item(role: str) -> None:
    issue = issue_in("closed")

    with refused(issue, NotPermittedError) as caught:
        reopen(issue, role=role)

    assert caught.value.code == "not_permitted"
    assert caught.value.message == f"Only a supervisor can reopen issue {NUMBER}."


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_a_supervisor_reopens_a_closed_item_under_the_same_leader(role: str) -> None:
    issue = issue_in("closed")

    reopen(issue, role=role)

    assert (issue.stage, issue.leader, issue.deadline, issue.evaluations) == (
        "in_progress",
        LEADER,
        LATER,
        {},
    )
    assert issue.rounds == 1  # a supervisor's reopen is not an evaluation round
    event = last_event(issue)
    assert type(event).__name__ == "Reopened"
    assert (event.rate, event.threshold, event.counts) == (None, None, None)
    assert (event.reason, event.leader, event.actor, event.timestamp) == (
        "A lamp is out again",
        LEADER,
        "Sun",
        T1,
    )


def test_a_supervisors_reopened_item_can_be_resolved_and_closed_again() -> None:
    issue = issue_in("closed")
    reopen(issue)
    resolve(issue, at=T1)
    evaluate(issue, at=T1, satisfied=3)

    outcome = conclude(issue, at=T1)

    assert (outcome, issue.stage, issue.rounds) == ("closed", "closed", 2)


@pytest.mark.parametrize("stage", ["opened", "registered", "assigned", "in_progress", "resolved"])
def test_refuses_to_reopen_an_item_that_is_not_closed(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        reopen(issue)

    assert caught.value.code == "wrong_stage"
    assert "cannot be reopened" in caught.value.message


def test_refuses_a_supervisors_reopen_with_a_past_deadline_or_no_reason() -> None:
    issue = issue_in("closed")

    with refused(issue, DeadlineInPastError):
        reopen(issue, deadline=T1)
    with refused(issue, InvalidInputError) as caught:
        issue.reopen(reason="  ", deadline=LATER, now=T1, actor="Sun", role="supervisor")

    assert caught.value.field == "reason"


# -- register and explain ---------------------------------------------------------------------


def test_registers_and_explains_an_item_that_cannot_be_solved_now() -> None:
    issue = open_issue()
    meeting = uuid4()

    with event_time(T1):
        issue.register_and_explain(
            explanation=" No bus line at this level. ",
            revisit_at=REVISIT,
            now=T1,
            actor=OFFICER,
            meeting_id=meeting,
        )

    assert (issue.stage, issue.explanation, issue.revisit_at) == (
        "registered",
        "No bus line at this level.",
        REVISIT,
    )
    event = last_event(issue)
    assert type(event).__name__ == "RegisteredAndExplained"
    assert (event.revisit_at, event.meeting_id, event.timestamp) == (REVISIT, meeting, T1)


def test_refuses_to_register_with_a_revisit_date_in_the_past_or_no_explanation() -> None:
    issue = open_issue()

    with refused(issue, DeadlineInPastError):
        issue.register_and_explain(explanation="E", revisit_at=T1, now=T1, actor=OFFICER, meeting_id=None)
    with refused(issue, InvalidInputError) as caught:
        issue.register_and_explain(explanation="", revisit_at=REVISIT, now=T1, actor=OFFICER, meeting_id=None)

    assert caught.value.field == "explanation"


@pytest.mark.parametrize("stage", ["registered", "assigned", "in_progress", "resolved"])
def test_refuses_to_register_an_item_that_is_not_freshly_opened(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        issue.register_and_explain(
            explanation="E", revisit_at=REVISIT, now=T1, actor=OFFICER, meeting_id=None
        )

    assert "cannot be registered and explained" in caught.value.message


def test_a_revisited_item_comes_back_to_analysis_and_can_then_be_assigned() -> None:
    issue = issue_in("registered")
    meeting = uuid4()

    with event_time(T1):
        issue.revisit(actor=OFFICER, meeting_id=meeting)
    assign(issue, at=T1)

    revisited = issue.pending_events[-2]
    assert type(revisited).__name__ == "Revisited"
    assert (revisited.meeting_id, revisited.timestamp) == (meeting, T1)
    assert (issue.stage, issue.leader) == ("assigned", LEADER)


@pytest.mark.parametrize("stage", ["opened", "assigned", "in_progress", "resolved"])
def test_refuses_to_revisit_an_item_that_is_not_on_the_register(stage: str) -> None:
    issue = issue_in(stage)

    with refused(issue, WrongStageError) as caught:
        issue.revisit(actor=OFFICER, meeting_id=None)

    assert caught.value.message == f"Issue {NUMBER} is {stage.replace('_', ' ')}; it cannot be revisited now."


# -- the whole life -----------------------------------------------------------------------


def test_the_dark_lane_replays_to_the_same_state_as_the_live_item() -> None:
    issue = issue_in("assigned", level="village")
    with event_time(T1):
        issue.disclose(fields=["title", "leader", "deadline"], where="board", note=None, actor=OFFICER)
        issue.request_coordination(department="Power company", request="Move the cable", actor=LEADER)
        issue.answer_coordination(index=0, answer="Moved.", actor="Power company")
    pause(issue, T1)
    resume(issue, T1 + timedelta(days=2))
    remind(issue, DEADLINE - timedelta(days=1))
    escalate(issue, DEADLINE + timedelta(days=2, seconds=1))
    with event_time(DEADLINE + timedelta(days=6)):
        issue.hand_over(to="Li", reason="Zhang was transferred", actor=OFFICER, meeting_id=None)
    resolve(issue, at=DEADLINE + timedelta(days=25))
    evaluate(issue, at=DEADLINE + timedelta(days=40), satisfied=17, basically=1, dissatisfied=2)
    conclude(issue, at=DEADLINE + timedelta(days=40))
    resolve(issue, at=DEADLINE + timedelta(days=70))
    evaluate(issue, at=DEADLINE + timedelta(days=80), satisfied=20)
    conclude(issue, at=DEADLINE + timedelta(days=80))

    rebuilt = replay(issue.collect_events())

    assert isinstance(rebuilt, Issue)
    assert (rebuilt.stage, rebuilt.leader, rebuilt.level, rebuilt.rounds) == ("closed", "Li", "town", 2)
    assert (rebuilt.escalated_for, len(rebuilt.reminded)) == ([DEADLINE + timedelta(days=2)], 1)
    assert state_of(rebuilt) == state_of(issue)
    assert rebuilt.modified_on == DEADLINE + timedelta(days=80)


def test_replay_never_reruns_the_rules_so_old_deadlines_replay_fine() -> None:
    issue = issue_in("assigned")
    events = issue.collect_events()

    # Replayed long after the deadline passed: a rule re-run would refuse the assignment.
    with event_time(DEADLINE + timedelta(days=365)):
        rebuilt = replay(events)

    assert (rebuilt.deadline, rebuilt.stage) == (DEADLINE, "assigned")


def test_an_item_opened_before_items_carried_a_unit_still_replays() -> None:
    issue = issue_in("assigned")
    opened, assigned = issue.collect_events()

    rebuilt = replay([stored_before(opened, "unit"), assigned])

    assert (rebuilt.number, rebuilt.unit, rebuilt.leader) == (NUMBER, None, LEADER)
