"""The shared checks and vocabulary: text, lists, choices, deadlines, levels, contacts, clocks, errors."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

import domain.errors as errors
from domain.calendar import WorkCalendar
from domain.clock import FakeClock, SystemClock, current_event_time, event_time, require_aware
from domain.contacts import Contact, MemoryContacts
from domain.errors import CaselineError, DeadlineInPastError, InvalidInputError, RuleBrokenError
from domain.issue import ServiceLevels
from domain.rules import (
    DISCLOSABLE_FIELDS,
    MAX_LIST,
    MAX_NAME,
    MAX_TEXT,
    Actor,
    Area,
    Level,
    Role,
    choice,
    future,
    optional_text,
    text,
    texts,
)
from tests.builders import T0

BEIJING = timezone(timedelta(hours=8))

# -- text -------------------------------------------------------------------------------------


def test_text_strips_surrounding_whitespace() -> None:
    assert text("  Street lights \n", field="title") == "Street lights"


@pytest.mark.parametrize("value", ["", " ", "\t\n  "], ids=["empty", "space", "whitespace"])
def test_text_refuses_empty_or_whitespace_only_and_names_the_field(value: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        text(value, field="title")

    assert caught.value.code == "invalid_input"
    assert caught.value.field == "title"
    assert caught.value.message == "title: must not be empty"


def test_text_accepts_exactly_the_limit() -> None:
    assert text("x" * 10, field="title", limit=10) == "x" * 10


def test_text_refuses_one_character_over_the_limit() -> None:
    with pytest.raises(InvalidInputError) as caught:
        text("x" * 11, field="title", limit=10)

    assert caught.value.message == "title: must be at most 10 characters"


def test_text_measures_the_limit_after_stripping() -> None:
    assert text("   " + "x" * 10 + "   ", field="title", limit=10) == "x" * 10


def test_text_has_a_default_limit_for_free_text() -> None:
    assert len(text("x" * MAX_TEXT, field="note")) == MAX_TEXT
    with pytest.raises(InvalidInputError):
        text("x" * (MAX_TEXT + 1), field="note")


@pytest.mark.parametrize("value", [None, 42, ["a"], b"bytes"])
def test_text_refuses_what_is_not_text(value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        text(value, field="note")  # type: ignore[arg-type]

    assert caught.value.message == "note: must be text"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_optional_text_takes_none_and_blank_as_not_given(value: str | None) -> None:
    assert optional_text(value, field="description") is None


def test_optional_text_strips_and_still_enforces_the_limit() -> None:
    assert optional_text(" x ", field="place", limit=1) == "x"
    with pytest.raises(InvalidInputError) as caught:
        optional_text("xy", field="place", limit=1)

    assert caught.value.field == "place"


# -- lists of text ----------------------------------------------------------------------------


def test_texts_strips_every_entry() -> None:
    assert texts([" a ", "b "], field="goals") == ["a", "b"]


def test_texts_refuses_an_empty_list() -> None:
    with pytest.raises(InvalidInputError) as caught:
        texts([], field="goals")

    assert caught.value.message == "goals: must list at least one entry"


def test_texts_accepts_exactly_the_largest_list() -> None:
    assert len(texts(["g"] * MAX_LIST, field="goals")) == MAX_LIST


def test_texts_refuses_one_entry_over_the_largest_list() -> None:
    with pytest.raises(InvalidInputError) as caught:
        texts(["g"] * (MAX_LIST + 1), field="goals")

    assert caught.value.message == f"goals: must list at most {MAX_LIST} entries"


@pytest.mark.parametrize(
    ("entries", "problem"), [(["ok", " "], "must not be empty"), (["ok", "xyz"], "at most 2")]
)
def test_texts_refuses_a_blank_or_oversized_entry(entries: list[str], problem: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        texts(entries, field="measures", limit=2)

    assert caught.value.field == "measures"
    assert problem in caught.value.message


# -- choices ----------------------------------------------------------------------------------


def test_choice_returns_the_member_named() -> None:
    assert choice("security", Area, field="area") is Area.SECURITY


@pytest.mark.parametrize("value", ["roads", "Security", " security", "", None])
def test_choice_refuses_anything_else_and_lists_the_choices(value: str | None) -> None:
    with pytest.raises(InvalidInputError) as caught:
        choice(value, Area, field="area")  # type: ignore[arg-type]

    assert caught.value.message == (
        "area: must be one of development, environment, security, livelihood, culture, conduct"
    )
    assert caught.value.__cause__ is None


# -- deadlines --------------------------------------------------------------------------------


def test_future_returns_a_deadline_after_now() -> None:
    assert future(T0 + timedelta(microseconds=1), T0) == T0 + timedelta(microseconds=1)


@pytest.mark.parametrize("deadline", [T0, T0 - timedelta(days=1), datetime(1970, 1, 1, tzinfo=UTC)])
def test_future_refuses_a_deadline_at_or_before_now_and_says_when(deadline: datetime) -> None:
    with pytest.raises(DeadlineInPastError) as caught:
        future(deadline, T0)

    assert caught.value.code == "deadline_in_past"
    assert isinstance(caught.value, RuleBrokenError)
    assert caught.value.message == f"The deadline {deadline:%Y-%m-%d %H:%M} UTC has already passed."


def test_future_refuses_a_naive_deadline_as_bad_input() -> None:
    with pytest.raises(InvalidInputError) as caught:
        future(datetime(2026, 4, 30, 18, 0), T0)

    assert caught.value.message == "deadline: must carry a time zone"


def test_future_compares_moments_not_wall_times_across_time_zones() -> None:
    # 17:00 in Beijing is 09:00 UTC: the same moment as now, so not in the future.
    with pytest.raises(DeadlineInPastError):
        future(datetime(2026, 3, 3, 17, 0, tzinfo=BEIJING), T0)
    assert future(datetime(2026, 3, 3, 17, 1, tzinfo=BEIJING), T0) > T0


def test_a_past_deadline_given_in_another_time_zone_is_reported_in_utc() -> None:
    with pytest.raises(DeadlineInPastError) as caught:
        future(datetime(2026, 3, 1, 9, 0, tzinfo=BEIJING), T0)

    # 09:00 in Beijing is 01:00 UTC; the message labels its time UTC, so it must be UTC.
    assert caught.value.message == "The deadline 2026-03-01 01:00 UTC has already passed."


# -- levels and service times -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "above"),
    [
        (Level.GRID, Level.VILLAGE),
        (Level.VILLAGE, Level.TOWN),
        (Level.TOWN, Level.DISTRICT),
        (Level.DISTRICT, None),
    ],
)
def test_each_level_knows_the_one_above_and_the_district_is_the_top(
    level: Level, above: Level | None
) -> None:
    assert level.above() is above


@pytest.mark.parametrize(("level", "days"), [("grid", 7), ("village", 15), ("town", 30), ("district", 60)])
def test_the_default_service_levels_give_each_level_its_days(level: str, days: int) -> None:
    assert ServiceLevels().deadline_for(level, T0) == T0 + timedelta(days=days)


def test_service_levels_can_be_set_per_level_and_accept_a_level_member() -> None:
    levels = ServiceLevels(grid=1, village=2, town=3, district=4)

    deadlines = [levels.deadline_for(level, T0) - T0 for level in Level]

    assert deadlines == [timedelta(days=d) for d in (1, 2, 3, 4)]


def test_service_levels_count_calendar_days_from_the_moment_of_arrival() -> None:
    arrival = datetime(2026, 12, 28, 23, 30, tzinfo=UTC)

    assert ServiceLevels().deadline_for("grid", arrival) == datetime(2027, 1, 4, 23, 30, tzinfo=UTC)


def test_service_levels_in_working_days_skip_weekends_and_holidays_but_not_adjusted_workdays() -> None:
    friday = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    calendar = WorkCalendar(holidays=frozenset({date(2026, 3, 9)}), workdays=frozenset({date(2026, 3, 8)}))

    plain = ServiceLevels(grid=2, working_days=True).deadline_for("grid", friday)
    local = ServiceLevels(grid=2, working_days=True, calendar=calendar).deadline_for("grid", friday)

    assert plain == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # Monday, Tuesday
    assert local == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # the worked Sunday, then Tuesday


# -- vocabulary ---------------------------------------------------------------------------------


def test_the_public_may_never_be_shown_free_text_or_personal_data() -> None:
    assert "description" not in DISCLOSABLE_FIELDS
    assert not {"contact_ref", "name", "phone", "address", "opinion_ids", "text"} & set(DISCLOSABLE_FIELDS)


def test_an_actor_is_an_officer_unless_told_and_must_have_a_name() -> None:
    assert Actor("Wang").role is Role.OFFICER
    with pytest.raises(InvalidInputError) as caught:
        Actor("  ", role=Role.SUPERVISOR)

    assert caught.value.field == "actor"


# -- contacts -----------------------------------------------------------------------------------


def test_a_contact_keeps_personal_data_out_of_its_repr_and_str() -> None:
    contact = Contact(name="Old Li", phone="13900000000", address="Building 7")

    shown = [repr(contact), str(contact), f"{contact}", repr([contact]), repr({"who": contact})]

    assert shown[0] == "Contact(<redacted>)"
    for rendering in shown:
        assert "Old Li" not in rendering
        assert "13900000000" not in rendering
        assert "Building 7" not in rendering


@pytest.mark.parametrize("kwargs", [{"name": "Old Li"}, {"phone": "139"}, {"address": "Building 7"}])
def test_a_contact_needs_just_one_way_to_reach_the_reporter(kwargs: dict[str, str]) -> None:
    assert Contact(**kwargs) == Contact(**kwargs)


def test_a_contact_with_no_way_to_reach_anyone_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        Contact()

    assert caught.value.message == "contact: give a name, a phone or an address, or no contact"


def test_a_contact_of_only_blanks_is_refused_like_an_empty_one() -> None:
    with pytest.raises(InvalidInputError) as caught:
        Contact(name="   ", phone="", address="\t")

    assert caught.value.field == "contact"


def test_a_contact_field_may_be_exactly_at_its_limit_but_not_over() -> None:
    limit = MAX_NAME * 2

    assert Contact(address="a" * limit).address == "a" * limit
    with pytest.raises(InvalidInputError) as caught:
        Contact(name="Old Li", address="a" * (limit + 1))

    assert caught.value.field == "contact address"
    assert "a" * 20 not in caught.value.message


def test_a_contact_store_in_memory_keeps_the_first_contact_and_erases_on_request() -> None:
    store = MemoryContacts()
    ref = uuid4()
    store.put(ref, Contact(name="Old Li"))
    store.put(ref, Contact(name="Someone else"))

    first = store.get(ref)
    erased = [store.erase(ref), store.erase(ref)]

    assert first == Contact(name="Old Li")
    assert erased == [True, False]
    assert store.get(ref) is None


# -- clocks and event time ----------------------------------------------------------------------


def test_a_fake_clock_stands_still_until_told_to_move() -> None:
    clock = FakeClock(T0)
    assert clock.now() == clock.now() == T0

    clock.advance(timedelta(hours=3))
    assert clock.now() == T0 + timedelta(hours=3)
    clock.set(datetime(2026, 5, 1, tzinfo=UTC))

    assert clock.now() == datetime(2026, 5, 1, tzinfo=UTC)


def test_a_fake_clock_speaks_utc_whatever_zone_it_was_set_in() -> None:
    clock = FakeClock(datetime(2026, 3, 3, 17, 0, tzinfo=BEIJING))

    assert clock.now().tzinfo is UTC
    assert clock.now() == T0


def test_a_fake_clock_refuses_to_start_at_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="time zone"):
        FakeClock(datetime(2026, 3, 3, 9, 0))


def test_a_fake_clock_refuses_to_be_set_to_a_naive_moment_and_keeps_its_time() -> None:
    clock = FakeClock(T0)

    with pytest.raises(ValueError, match="time zone"):
        clock.set(datetime(2026, 5, 1, 9, 0))

    assert clock.now() == T0


def test_the_system_clock_tells_aware_utc_time() -> None:
    before = datetime.now(tz=UTC)

    now = SystemClock().now()

    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(tz=UTC)


def test_require_aware_converts_to_utc_and_refuses_naive() -> None:
    assert require_aware(datetime(2026, 3, 3, 17, 0, tzinfo=BEIJING)) == T0
    assert require_aware(datetime(2026, 3, 3, 17, 0, tzinfo=BEIJING)).tzinfo is UTC
    with pytest.raises(ValueError, match="time zone"):
        require_aware(datetime(2026, 3, 3, 9, 0))


def test_event_time_stamps_the_block_and_restores_the_outer_moment_afterwards() -> None:
    later = T0 + timedelta(days=1)

    with event_time(T0):
        outer = current_event_time()
        with event_time(later):
            inner = current_event_time()
        restored = current_event_time()

    assert (outer, inner, restored) == (T0, later, T0)


def test_event_time_is_the_wall_clock_outside_any_block() -> None:
    before = datetime.now(tz=UTC)

    moment = current_event_time()

    assert before <= moment <= datetime.now(tz=UTC)


def test_event_time_refuses_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="time zone"), event_time(datetime(2026, 3, 3, 9, 0)):
        pass  # pragma: no cover


# -- the error tree -----------------------------------------------------------------------------

ERRORS = sorted(
    (cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, CaselineError)),
    key=lambda cls: cls.__name__,
)


def test_every_error_has_its_own_stable_code() -> None:
    codes = [cls.code for cls in ERRORS]

    assert len(set(codes)) == len(codes)
    assert all(code and code == code.lower() and " " not in code for code in codes)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_says_when_it_is_raised_and_appears_in_the_tree(cls: type[CaselineError]) -> None:
    assert (cls.__doc__ or "").startswith("Raised ")
    assert cls.__name__.endswith("Error")
    assert cls.__name__ in (errors.__doc__ or "")
