"""Working-day arithmetic against China's calendar: holidays, adjusted working days, year ends;
the override file; the duty periods. Reads only the small CSV files it names (no store)."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.settings import Settings, parse_leads
from api.storage import service_levels
from domain.calendar import WEEKENDS_ONLY, WorkCalendar
from domain.issue import ServiceLevels
from scheduler.calendar import SHIPPED, HolidayFileError, read_overrides, work_calendar
from scheduler.duties import DUTIES, current, every_half_year, every_two_months, on_the_14th_and_28th, specs

CHINA = work_calendar()


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


# -- working days across holidays, adjusted working days and year ends ----------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # an ordinary week: Friday + 1 working day is Monday
        ("2026-03-06", 1, "2026-03-09"),
        # National Day: 1-7 October off; Saturday 10 October is worked
        ("2026-09-30", 1, "2026-10-08"),
        ("2026-09-30", 3, "2026-10-10"),
        ("2026-09-30", 4, "2026-10-12"),
        # Spring Festival: Saturday 14 February is worked, 15-23 February off, Saturday 28th worked
        ("2026-02-13", 1, "2026-02-14"),
        ("2026-02-13", 2, "2026-02-24"),
        ("2026-02-24", 3, "2026-02-27"),
        ("2026-02-24", 4, "2026-02-28"),
        ("2026-02-24", 5, "2026-03-02"),
        # the year ends: New Year 2026 is 1-3 January, Sunday 4 January is worked
        ("2025-12-31", 1, "2026-01-04"),
        ("2025-12-31", 2, "2026-01-05"),
        # ... and New Year's Day 2027 is a Friday, so the next working day is Monday 4 January
        ("2026-12-31", 1, "2027-01-04"),
        # Labour Day: 1-5 May off, Saturday 9 May worked
        ("2026-04-30", 1, "2026-05-06"),
        ("2026-04-30", 4, "2026-05-09"),
        # zero days is the start itself
        ("2026-10-01", 0, "2026-10-01"),
    ],
)
def test_counts_working_days_across_holidays_adjusted_days_and_year_ends(
    start: str, days: int, expected: str
) -> None:
    # Given China's calendar, when `days` working days are added to a moment
    result = CHINA.add_working_days(at(start), days)

    # Then the deadline lands on the expected day, at the same time of day
    assert result == at(expected)


def test_a_grid_item_assigned_before_national_day_gets_seven_working_days() -> None:
    # Given service levels in working days against China's calendar
    levels = ServiceLevels(working_days=True, calendar=CHINA)

    # When an item arrives at grid level on Wednesday 30 September 2026
    deadline = levels.deadline_for("grid", at("2026-09-30"))

    # Then its 7 working days skip the whole holiday and count the adjusted Saturday
    # (8, 9, 10 (Sat), 12, 13, 14, 15 October)
    assert deadline == at("2026-10-15")
    # ...where calendar days would have given 7 October
    assert ServiceLevels().deadline_for("grid", at("2026-09-30")) == at("2026-10-07")


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)).map(
        lambda moment: moment.replace(tzinfo=UTC)
    ),
    days=st.integers(min_value=0, max_value=80),
)
def test_a_working_day_deadline_counts_exactly_the_working_days_after_the_start(
    start: datetime, days: int
) -> None:
    # When working days are added to any moment
    result = CHINA.add_working_days(start, days)

    # Then the result keeps the time of day, lands on a working day (unless zero were added),
    # and exactly `days` working days lie after the start's day up to and including the result's day
    assert result.timetz() == start.timetz()
    if days:
        assert CHINA.is_working_day(result.date())
    between = [start.date() + timedelta(n) for n in range(1, (result.date() - start.date()).days + 1)]
    assert sum(CHINA.is_working_day(d) for d in between) == days


def test_the_calendar_agrees_with_the_holidays_package_for_2026() -> None:
    # Given the `holidays` package's calendar for China
    package = holidays.country_holidays("CN", years=2026)

    # Then every day of 2026 is a working day in ours exactly when it is in the package
    days = [date(2026, 1, 1) + timedelta(n) for n in range(365)]
    differing = [d for d in days if CHINA.is_working_day(d) != package.is_working_day(d)]
    assert differing == []
    # ...including the six weekend workdays of the State Council's arrangement
    assert sorted(d for d in days if d.weekday() >= 5 and CHINA.is_working_day(d)) == [
        date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
        date(2026, 9, 20), date(2026, 10, 10),
    ]  # fmt: skip


def test_the_shipped_file_lists_the_official_2026_arrangement_and_marks_2027_as_an_assumption() -> None:
    # When the shipped override file is read
    rows = read_overrides(SHIPPED)
    header = SHIPPED.read_text(encoding="utf-8")

    # Then it has 2026's days off and worked weekends, each row's weekday as its name says
    in_2026 = [r for r in rows if r.day.year == 2026]
    assert {r.day for r in in_2026 if r.kind == "workday"} == {
        date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
        date(2026, 9, 20), date(2026, 10, 10),
    }  # fmt: skip
    assert all(r.day.weekday() >= 5 for r in in_2026 if r.kind == "workday")
    assert all(r.day.weekday() >= 5 for r in rows if "(weekend)" in r.name)
    assert all(r.day.weekday() < 5 for r in rows if "in lieu" in r.name)
    assert len([r for r in in_2026 if r.kind == "holiday"]) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    # ...and 2027's rows are the 13 statutory days, each marked an assumption, as the header says
    in_2027 = [r for r in rows if r.day.year == 2027]
    assert len(in_2027) == 13
    assert all(r.kind == "holiday" and "assumption" in r.name for r in in_2027)
    assert "2026 -- OFFICIAL" in header
    assert "2027 -- ASSUMPTION" in header


# -- the override file --------------------------------------------------------------------


def test_an_override_file_adds_days_off_and_worked_weekends_and_wins_over_the_package(tmp_path: Path) -> None:
    # Given a local file: a town's own day off on a Wednesday, a worked Saturday, and a day the
    # package thinks is off (National Day 2026) declared worked
    path = tmp_path / "local.csv"
    path.write_text(
        "# our town\ndate,kind,name\n2026-03-11,holiday,Town fair\n2026-03-14,workday,Make-up day\n"
        "2026-10-02,workday\n"
    )

    # When the calendar is built with it
    calendar = work_calendar(path)

    # Then the file wins
    assert not calendar.is_working_day(date(2026, 3, 11))
    assert calendar.is_working_day(date(2026, 3, 14))
    assert calendar.is_working_day(date(2026, 10, 2))
    assert calendar.add_working_days(at("2026-03-10"), 1) == at("2026-03-12")
    # ...and the rest of the package's calendar stays
    assert not calendar.is_working_day(date(2026, 10, 1))


def test_an_edited_override_file_is_read_again(tmp_path: Path) -> None:
    # Given a calendar built from a file
    path = tmp_path / "local.csv"
    path.write_text("2026-03-11,holiday\n")
    assert not work_calendar(path).is_working_day(date(2026, 3, 11))

    # When the file is edited
    path.write_text("2026-03-12,holiday\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))

    # Then the next calendar follows it
    calendar = work_calendar(path)
    assert calendar.is_working_day(date(2026, 3, 11))
    assert not calendar.is_working_day(date(2026, 3, 12))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("2026-13-01,holiday\n", "line 1: '2026-13-01' is not a date"),
        ("# comment\n\n2026-03-01,vacation\n", "line 3: kind must be holiday or workday"),
        ("2026-03-01\n", "line 1: expected date,kind[,name]"),
        ("2026-03-01,holiday,a,b\n", "line 1: expected date,kind[,name]"),
    ],
)
def test_refuses_an_override_file_with_a_bad_line_naming_the_line(
    tmp_path: Path, content: str, problem: str
) -> None:
    # Given a file with one bad line
    path = tmp_path / "bad.csv"
    path.write_text(content)

    # Then building the calendar stops with the line and what is wrong
    with pytest.raises(HolidayFileError, match=re.escape(problem)):
        work_calendar(path)


def test_refuses_a_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(HolidayFileError, match="cannot read the holiday file"):
        work_calendar(tmp_path / "missing.csv")


def test_the_settings_choose_the_file_the_service_days_and_calendar_days(tmp_path: Path) -> None:
    # Given settings naming a local file and a 3-day grid level
    path = tmp_path / "local.csv"
    path.write_text("2026-03-11,holiday\n")
    levels = service_levels(Settings(data_dir=tmp_path, holidays_file=path, service_days_grid=3))

    # Then the grid deadline counts 3 working days, skipping the local day off
    assert levels.deadline_for("grid", at("2026-03-09")) == at("2026-03-13")
    # ...and with working days off, the service levels count calendar days
    plain = service_levels(Settings(data_dir=tmp_path, working_days=False))
    assert plain.deadline_for("village", at("2026-09-30")) == at("2026-10-15")
    assert plain.calendar == WEEKENDS_ONLY


def test_the_default_settings_count_working_days_against_the_shipped_calendar(tmp_path: Path) -> None:
    levels = service_levels(Settings(data_dir=tmp_path))
    assert (levels.grid, levels.village, levels.town, levels.district) == (7, 15, 30, 60)
    assert levels.working_days
    assert levels.calendar == CHINA


def test_the_environment_names_the_holiday_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.csv"
    path.write_text("2026-03-11,holiday\n")
    monkeypatch.setenv("CASELINE_HOLIDAYS_FILE", str(path))
    assert not service_levels(Settings(data_dir=tmp_path)).calendar.is_working_day(date(2026, 3, 11))


def test_an_empty_calendar_counts_weekdays_only() -> None:
    calendar = WorkCalendar()
    assert calendar.add_working_days(at("2026-10-01"), 1) == at("2026-10-02")


# -- settings of the scheduler ----------------------------------------------------------------


def test_reads_reminder_lead_times_longest_first() -> None:
    assert parse_leads("1d, 3d,4h,30m,1d") == (
        timedelta(days=3), timedelta(days=1), timedelta(hours=4), timedelta(minutes=30),
    )  # fmt: skip


@pytest.mark.parametrize("text", ["3", "0d", "3w", "-1d", "1.5d"])
def test_refuses_a_malformed_reminder_lead_time(text: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reminder lead"):
        Settings(data_dir=tmp_path, reminder_leads=text)


def test_refuses_supervisors_of_an_unknown_level(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CASELINE_SUPERVISORS"):
        Settings(data_dir=tmp_path, supervisors={"province": ["a@example.org"]})


# -- when the recurring duties fall due -----------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-01-31", ("2026-01/02", "2026-01-01", "2026-03-01")),
        ("2026-03-01", ("2026-03/04", "2026-03-01", "2026-05-01")),
        ("2026-12-31", ("2026-11/12", "2026-11-01", "2027-01-01")),
    ],
)
def test_the_analysis_meeting_falls_due_every_two_months(day: str, expected: tuple[str, str, str]) -> None:
    period, start, end = every_two_months(date.fromisoformat(day))
    assert (period, start.isoformat(), end.isoformat()) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-03-13", ("2026-02-28", "2026-02-28", "2026-03-14")),
        ("2026-03-14", ("2026-03-14", "2026-03-14", "2026-03-28")),
        ("2026-03-31", ("2026-03-28", "2026-03-28", "2026-04-14")),
        ("2026-12-28", ("2026-12-28", "2026-12-28", "2027-01-14")),
        ("2027-01-05", ("2026-12-28", "2026-12-28", "2027-01-14")),
    ],
)
def test_the_feedback_cycle_runs_from_the_14th_to_the_28th_and_on(
    day: str, expected: tuple[str, str, str]
) -> None:
    period, start, end = on_the_14th_and_28th(date.fromisoformat(day))
    assert (period, start.isoformat(), end.isoformat()) == expected


def test_the_evaluation_meeting_falls_due_every_half_year() -> None:
    assert every_half_year(date(2026, 6, 30))[0] == "2026-H1"
    assert every_half_year(date(2026, 7, 1))[1:] == (date(2026, 7, 1), date(2027, 1, 1))


def test_duty_days_start_at_midnight_in_the_duty_time_zone() -> None:
    # Given the feedback cycle, in China's time zone
    from zoneinfo import ZoneInfo

    cycle = specs("feedback_cycle")[0]
    china = ZoneInfo("Asia/Shanghai")

    # When it is 15:59 UTC on 13 March (23:59 in Beijing), then 16:00 UTC (midnight of the 14th)
    before = current(cycle, datetime(2026, 3, 13, 15, 59, tzinfo=UTC), china)
    after = current(cycle, datetime(2026, 3, 13, 16, 0, tzinfo=UTC), china)

    # Then the 14th's cycle begins at Beijing's midnight, and is due at the 28th's
    assert before.period == "2026-02-28"
    assert (after.period, after.starts) == ("2026-03-14", datetime(2026, 3, 13, 16, 0, tzinfo=UTC))
    assert after.due_by == datetime(2026, 3, 27, 16, 0, tzinfo=UTC)


def test_chooses_duties_by_name() -> None:
    assert specs("all") == DUTIES
    assert [s.kind.value for s in specs("evaluation_meeting, analysis_meeting")] == [
        "evaluation_meeting", "analysis_meeting",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown duties"):
        specs("picnic")
