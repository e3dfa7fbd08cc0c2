"""The Opinion aggregate: one voice, recorded, routed, merged into an issue and answered."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.clock import event_time
from domain.errors import InvalidInputError, OpinionAlreadyMergedError, RuleBrokenError
from domain.opinion import Opinion
from domain.rules import MAX_NAME, MAX_TEXT
from tests.builders import OFFICER, T0, record_opinion, refused, replay, state_of, stored_before

T1 = T0 + timedelta(days=11)


@pytest.fixture(autouse=True)
def _steps_without_their_own_moment_happen_at_t0() -> Iterator[None]:
    """Stamp events of steps not given a moment with T0, so no event ever carries the wall clock."""
    with event_time(T0):
        yield


def last_event(opinion: Opinion) -> Any:
    return opinion.pending_events[-1]


# -- recording ------------------------------------------------------------------------------


def test_records_a_voice_with_its_place_and_only_an_opaque_contact_reference() -> None:
    contact_ref = uuid4()

    opinion = record_opinion(
        at=T0, unit=" grid 4 ", place=" behind building 7 ", latitude=27.7, longitude=106.9,
        contact_ref=contact_ref, text_="  The lane has no street light.  ", recorder=" Wang ",
    )  # fmt: skip

    assert (opinion.kind, opinion.area, opinion.channel) == ("difficulty", "security", "household_visit")
    assert (opinion.unit, opinion.place, opinion.latitude, opinion.longitude) == (
        "grid 4",
        "behind building 7",
        27.7,
        106.9,
    )
    assert (opinion.text, opinion.recorder, opinion.contact_ref) == (
        "The lane has no street light.",
        "Wang",
        contact_ref,
    )
    assert (opinion.route, opinion.issue_id, opinion.answers, opinion.answered) == (None, None, [], False)
    recorded = last_event(opinion)
    assert type(recorded).__name__ == "Recorded"
    assert (recorded.timestamp, recorded.actor, recorded.contact_ref) == (T0, OFFICER, contact_ref)
    assert not {"name", "phone", "address", "contact"} & set(vars(recorded))


def test_records_a_voice_without_place_location_or_contact() -> None:
    opinion = record_opinion(place="   ")

    assert (opinion.place, opinion.latitude, opinion.longitude, opinion.contact_ref) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(("latitude", "longitude"), [(-90.0, -180.0), (90.0, 180.0), (0.0, 0.0)])
def test_accepts_coordinates_on_the_edges_of_the_globe(latitude: float, longitude: float) -> None:
    opinion = record_opinion(latitude=latitude, longitude=longitude)

    assert (opinion.latitude, opinion.longitude) == (latitude, longitude)


@pytest.mark.parametrize(
    ("latitude", "longitude", "field"),
    [
        (27.7, None, "location"),
        (None, 106.9, "location"),
        (90.0001, 0.0, "latitude"),
        (-90.5, 0.0, "latitude"),
        (math.nan, 0.0, "latitude"),
        (0.0, 180.0001, "longitude"),
        (0.0, -181.0, "longitude"),
    ],
)
def test_refuses_a_location_that_is_half_given_or_off_the_globe(
    latitude: float | None, longitude: float | None, field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        record_opinion(latitude=latitude, longitude=longitude)

    assert caught.value.field == field
    assert caught.value.code == "invalid_input"


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"kind": "complaint"}, "kind", "must be one of opinion, suggestion, difficulty, dispute, disaster"),
        ({"area": "roads"}, "area", "must be one of development"),
        ({"channel": "email"}, "channel", "must be one of household_visit, down_visit"),
        ({"unit": "  "}, "unit", "must not be empty"),
        ({"unit": "u" * (MAX_NAME + 1)}, "unit", f"at most {MAX_NAME} characters"),
        ({"place": "p" * (MAX_NAME * 2 + 1)}, "place", f"at most {MAX_NAME * 2} characters"),
        ({"text_": ""}, "text", "must not be empty"),
        ({"text_": "x" * (MAX_TEXT + 1)}, "text", f"at most {MAX_TEXT} characters"),
        ({"recorder": " "}, "recorder", "must not be empty"),
    ],
)
def test_refuses_a_voice_with_a_bad_value_and_says_which(
    changes: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        record_opinion(**changes)

    assert caught.value.field == field
    assert problem in caught.value.message


def test_records_a_voice_whose_text_is_exactly_at_the_limit() -> None:
    opinion = record_opinion(text_="x" * MAX_TEXT)

    assert len(opinion.text) == MAX_TEXT


# -- routing --------------------------------------------------------------------------------


def test_routes_a_voice_with_the_reason_and_the_meeting_that_decided() -> None:
    opinion = record_opinion()
    meeting = uuid4()

    with event_time(T1):
        opinion.route_to(
            "coordinate", " The power company must move a cable. ", actor=OFFICER, meeting_id=meeting
        )

    assert (opinion.route, opinion.route_reason) == ("coordinate", "The power company must move a cable.")
    routed = last_event(opinion)
    assert type(routed).__name__ == "Routed"
    assert (routed.route, routed.meeting_id, routed.timestamp) == ("coordinate", meeting, T1)


def test_records_nothing_when_the_same_route_and_reason_are_given_again() -> None:
    opinion = record_opinion()
    opinion.route_to("fix_at_once", "Crew on site", actor=OFFICER, meeting_id=None)
    pending = len(opinion.pending_events)

    opinion.route_to("fix_at_once", "  Crew on site ", actor=OFFICER, meeting_id=None)

    assert len(opinion.pending_events) == pending


@pytest.mark.parametrize(
    ("route", "reason"),
    [("fix_at_once", "Crew delayed a day"), ("register_and_explain", "Crew on site")],
    ids=["new reason", "new route"],
)
def test_records_a_change_of_route_or_of_reason(route: str, reason: str) -> None:
    opinion = record_opinion()
    opinion.route_to("fix_at_once", "Crew on site", actor=OFFICER, meeting_id=None)

    opinion.route_to(route, reason, actor=OFFICER, meeting_id=None)

    assert (opinion.route, opinion.route_reason) == (route, reason)
    assert len(opinion.pending_events) == 3


@pytest.mark.parametrize(
    ("route", "reason", "field"), [("ignore", "no time", "route"), ("coordinate", "  ", "reason")]
)
def test_refuses_an_unknown_route_or_a_route_without_a_reason(route: str, reason: str, field: str) -> None:
    opinion = record_opinion()

    with refused(opinion, InvalidInputError) as caught:
        opinion.route_to(route, reason, actor=OFFICER, meeting_id=None)

    assert caught.value.field == field


# -- merging --------------------------------------------------------------------------------


def test_merges_a_voice_into_an_issue() -> None:
    opinion = record_opinion()
    issue_id, meeting = uuid4(), uuid4()

    with event_time(T1):
        opinion.merge_into(issue_id, "2026-0001", actor=OFFICER, meeting_id=meeting)

    assert opinion.issue_id == issue_id
    merged = last_event(opinion)
    assert type(merged).__name__ == "Merged"
    assert (merged.issue_id, merged.meeting_id, merged.timestamp) == (issue_id, meeting, T1)


def test_records_nothing_when_merged_into_the_same_issue_again() -> None:
    opinion = record_opinion()
    issue_id = uuid4()
    opinion.merge_into(issue_id, "2026-0001", actor=OFFICER, meeting_id=None)
    before = state_of(opinion)
    pending = len(opinion.pending_events)

    opinion.merge_into(issue_id, "2026-0001", actor=OFFICER, meeting_id=None)

    assert len(opinion.pending_events) == pending
    assert state_of(opinion) == before


def test_refuses_to_merge_a_voice_that_already_belongs_to_another_issue() -> None:
    opinion = record_opinion()
    first = uuid4()
    opinion.merge_into(first, "2026-0001", actor=OFFICER, meeting_id=None)

    with refused(opinion, OpinionAlreadyMergedError) as caught:
        opinion.merge_into(uuid4(), "2026-0002", actor=OFFICER, meeting_id=None)

    assert caught.value.code == "opinion_already_merged"
    assert isinstance(caught.value, RuleBrokenError)
    assert opinion.issue_id == first
    # The clerk must learn where the voice already is, not be told it is in the issue they asked for.
    assert "already merged into issue 2026-0002" not in caught.value.message
    assert "2026-0001" in caught.value.message


# -- answering ------------------------------------------------------------------------------


def test_records_the_feedback_the_reporter_received() -> None:
    opinion = record_opinion()

    with event_time(T1):
        opinion.answer(" Lights are being installed by April 30. ", by=" Zhang ", actor=OFFICER)

    assert opinion.answered is True
    assert opinion.answers == ["Lights are being installed by April 30."]
    answered = last_event(opinion)
    assert type(answered).__name__ == "Answered"
    assert (answered.by, answered.timestamp) == ("Zhang", T1)


def test_keeps_every_answer_in_order() -> None:
    opinion = record_opinion()
    opinion.answer("Heard; analysis on March 14.", by="Wang", actor=OFFICER)

    opinion.answer("Lights installed.", by="Li", actor=OFFICER)

    assert opinion.answers == ["Heard; analysis on March 14.", "Lights installed."]


@pytest.mark.parametrize(
    ("feedback", "by", "field"),
    [("", "Wang", "feedback"), ("   ", "Wang", "feedback"), ("Done.", " ", "by"), ("Done.", "w" * 121, "by")],
)
def test_refuses_an_empty_answer_or_one_from_nobody(feedback: str, by: str, field: str) -> None:
    opinion = record_opinion()

    with refused(opinion, InvalidInputError) as caught:
        opinion.answer(feedback, by=by, actor=OFFICER)

    assert caught.value.field == field
    assert opinion.answered is False


def test_replays_a_voice_to_the_same_state() -> None:
    opinion = record_opinion(contact_ref=uuid4())
    opinion.route_to("coordinate", "Needs the power company", actor=OFFICER, meeting_id=None)
    opinion.merge_into(uuid4(), "2026-0001", actor=OFFICER, meeting_id=None)
    opinion.answer("Lights installed.", by="Li", actor=OFFICER)

    rebuilt = replay(opinion.collect_events())

    assert isinstance(rebuilt, Opinion)
    assert state_of(rebuilt) == state_of(opinion)
    assert rebuilt.modified_on == T0  # steps given no moment of their own are stamped T0


def test_a_voice_merged_before_merges_kept_the_issue_number_still_replays_and_stays_merged() -> None:
    opinion = record_opinion()
    issue_id = uuid4()
    with event_time(T1):
        opinion.merge_into(issue_id, "2026-0001", actor=OFFICER, meeting_id=None)
    recorded, merged = opinion.collect_events()

    rebuilt = replay([recorded, stored_before(merged, "issue_number")])

    assert rebuilt.issue_id == issue_id
    with refused(rebuilt, OpinionAlreadyMergedError) as caught:
        rebuilt.merge_into(uuid4(), "2026-0002", actor=OFFICER, meeting_id=None)
    assert str(issue_id) in caught.value.message
