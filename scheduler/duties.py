"""When the recurring duties of DOMAIN.md fall due: the configuration of `raise_recurring_duties`.

- the analysis meeting, every two months per unit (Jiaxing): periods January-February,
  March-April, ..., raised on the first day of the period, due by its end;
- the feedback cycle on the 14th and the 28th of each month (Zunyi): collect, report, handle,
  feed back; raised on the day, due by the next cycle, listing the unanswered opinions;
- the evaluation meeting, every half year: raised on 1 January and 1 July, due by the half's end.

Days are counted in the duty time zone (`CASELINE_DUTY_TIMEZONE`, Asia/Shanghai by default):
the 14th starts at midnight in China, not in UTC. Only the newest occurrence of a duty is
raised: after a scheduler was down, the duty it missed is raised when it comes back, unless a
newer occurrence of the same duty has replaced it meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo

from domain.duty import DutyKind

Rule = Callable[[date], tuple[str, date, date]]


def _first_of_month(year: int, month: int) -> date:
    """The first day of a month, months past December rolling into the next year."""
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def every_two_months(day: date) -> tuple[str, date, date]:
    """The two-month period holding `day`: ("2026-03/04", 1 March, 1 May)."""
    first = day.month - (day.month - 1) % 2
    return (
        f"{day.year}-{first:02d}/{first + 1:02d}",
        date(day.year, first, 1),
        _first_of_month(day.year, first + 2),
    )


def on_the_14th_and_28th(day: date) -> tuple[str, date, date]:
    """The cycle holding `day`, from the newest 14th or 28th to the next: ("2026-03-14", 14 Mar, 28 Mar)."""
    if day.day >= 28:
        return (
            day.replace(day=28).isoformat(),
            day.replace(day=28),
            _first_of_month(day.year, day.month + 1).replace(day=14),
        )
    if day.day >= 14:
        return day.replace(day=14).isoformat(), day.replace(day=14), day.replace(day=28)
    start = _first_of_month(day.year, day.month - 1).replace(day=28)
    return start.isoformat(), start, day.replace(day=14)


def every_half_year(day: date) -> tuple[str, date, date]:
    """The half year holding `day`: ("2026-H1", 1 January, 1 July)."""
    if day.month <= 6:
        return f"{day.year}-H1", date(day.year, 1, 1), date(day.year, 7, 1)
    return f"{day.year}-H2", date(day.year, 7, 1), date(day.year + 1, 1, 1)


@dataclass(frozen=True)
class DutySpec:
    """A recurring duty and the rule that says which period is current on a given day."""

    kind: DutyKind
    rule: Rule


@dataclass(frozen=True)
class Occurrence:
    """One period of a duty: its key, when it began and when it is due (both UTC)."""

    kind: DutyKind
    period: str
    starts: datetime
    due_by: datetime


DUTIES: tuple[DutySpec, ...] = (
    DutySpec(DutyKind.ANALYSIS_MEETING, every_two_months),
    DutySpec(DutyKind.FEEDBACK_CYCLE, on_the_14th_and_28th),
    DutySpec(DutyKind.EVALUATION_MEETING, every_half_year),
)


def current(spec: DutySpec, now: datetime, zone: tzinfo) -> Occurrence:
    """The newest occurrence of the duty that has begun at `now`, days counted in `zone`."""
    period, start, end = spec.rule(now.astimezone(zone).date())

    def moment(day: date) -> datetime:
        return datetime.combine(day, time(0), zone).astimezone(UTC)

    return Occurrence(spec.kind, period, moment(start), moment(end))


def specs(kinds: str) -> tuple[DutySpec, ...]:
    """The duties named in a comma-separated list (all of them for "all")."""
    names = list(dict.fromkeys(k.strip() for k in kinds.split(",") if k.strip()))
    if names == ["all"]:
        return DUTIES
    by_name = {spec.kind.value: spec for spec in DUTIES}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown duties {', '.join(unknown)}; choose from {', '.join(by_name)}")
    return tuple(by_name[n] for n in names)
