"""The Meeting aggregate: who met, when, and the decisions they took."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest

from domain.clock import event_time
from domain.errors import InvalidInputError
from domain.meeting import Meeting
from domain.rules import MAX_LIST, MAX_NAME, MAX_TITLE
from tests.builders import OFFICER, T0, hold_meeting, refused, replay, state_of

HELD = datetime(2026, 3, 20, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _steps_without_their_own_moment_happen_at_t0() -> Iterator[None]:
    """Stamp events of steps not given a moment with T0, so no event ever carries the wall clock."""
    with event_time(T0):
        yield


def test_records_a_meeting_with_its_kind_unit_time_attendees_and_title() -> None:
    meeting = hold_meeting(
        at=T0, kind="assignment", unit=" village 3 ", held_at=HELD, attendees=[" Zhang ", "Li"],
        title=" Assignment meeting, March ",
    )  # fmt: skip

    assert (meeting.kind, meeting.unit, meeting.held_at, meeting.attendees, meeting.title) == (
        "assignment",
        "village 3",
        HELD,
        ["Zhang", "Li"],
        "Assignment meeting, March",
    )
    assert meeting.decisions == []
    held = meeting.pending_events[-1]
    assert type(held).__name__ == "Held"
    assert (held.timestamp, held.actor) == (T0, OFFICER)


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("analysis", "analysis meeting of village 3, 2026-03-20"),
        ("assignment", "assignment meeting of village 3, 2026-03-20"),
        ("evaluation", "evaluation meeting of village 3, 2026-03-20"),
        ("hearing", "hearing meeting of village 3, 2026-03-20"),
    ],
)
def test_names_itself_for_the_audit_trail_by_kind_unit_and_day(kind: str, label: str) -> None:
    meeting = hold_meeting(kind=kind, held_at=HELD)

    assert meeting.label() == label


def test_keeps_a_meeting_time_given_in_another_time_zone() -> None:
    beijing = timezone(timedelta(hours=8))

    meeting = hold_meeting(held_at=datetime(2026, 3, 20, 22, 0, tzinfo=beijing))

    assert meeting.held_at == datetime(2026, 3, 20, 14, 0, tzinfo=UTC)


def test_accepts_exactly_the_largest_list_of_attendees() -> None:
    meeting = hold_meeting(attendees=[f"representative {n}" for n in range(MAX_LIST)])

    assert len(meeting.attendees) == MAX_LIST


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"held_at": datetime(2026, 3, 20, 14, 0)}, "held_at", "must carry a time zone"),
        ({"kind": "party"}, "kind", "must be one of analysis, assignment, evaluation, hearing"),
        ({"unit": ""}, "unit", "must not be empty"),
        ({"attendees": []}, "attendees", "must list at least one entry"),
        ({"attendees": ["Zhang", "  "]}, "attendees", "must not be empty"),
        ({"attendees": ["a" * (MAX_NAME + 1)]}, "attendees", f"at most {MAX_NAME} characters"),
        ({"attendees": ["a"] * (MAX_LIST + 1)}, "attendees", f"at most {MAX_LIST} entries"),
        ({"title": "  "}, "title", "must not be empty"),
        ({"title": "t" * (MAX_TITLE + 1)}, "title", f"at most {MAX_TITLE} characters"),
    ],
)
def test_refuses_a_meeting_with_a_bad_value_and_says_which(
    changes: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        hold_meeting(**changes)

    assert caught.value.code == "invalid_input"
    assert caught.value.field == field
    assert problem in caught.value.message


def test_records_decisions_in_order_about_an_issue_or_about_none() -> None:
    meeting = hold_meeting()
    issue_id = uuid4()
    later = T0 + timedelta(hours=2)

    with event_time(later):
        meeting.decide(" Zhang leads the street lights item. ", issue_id=issue_id, actor=OFFICER)
        meeting.decide("Next meeting in May.", issue_id=None, actor=OFFICER)

    assert meeting.decisions == [
        {"decision": "Zhang leads the street lights item.", "issue_id": str(issue_id)},
        {"decision": "Next meeting in May.", "issue_id": None},
    ]
    decided = meeting.pending_events[-2]
    assert type(decided).__name__ == "DecisionRecorded"
    assert (decided.decision, decided.issue_id, decided.timestamp) == (
        "Zhang leads the street lights item.",
        issue_id,
        later,
    )


@pytest.mark.parametrize("decision", ["", "   ", "d" * 4001])
def test_refuses_an_empty_or_oversized_decision(decision: str) -> None:
    meeting = hold_meeting()

    with refused(meeting, InvalidInputError) as caught:
        meeting.decide(decision, issue_id=None, actor=OFFICER)

    assert caught.value.field == "decision"


def test_replays_a_meeting_to_the_same_state() -> None:
    meeting = hold_meeting()
    meeting.decide("Zhang leads.", issue_id=uuid4(), actor=OFFICER)

    rebuilt = replay(meeting.collect_events())

    assert isinstance(rebuilt, Meeting)
    assert state_of(rebuilt) == state_of(meeting)
