"""The working-day calendar of China: the `holidays` package, corrected by a local file.

The `holidays` package knows the State Council's arrangements it has been taught (for 2026
the substituted days off and the weekend workdays) and computes the statutory holidays of
later years. A small CSV file (`date,kind[,name]`, kind `holiday` or `workday`) corrects or
extends it locally and wins over it; `scheduler/data/holidays_cn.csv` is shipped as the
example and `CASELINE_HOLIDAYS_FILE` names another. The result is the domain's plain
`WorkCalendar`: the domain never sees where the days came from.

    HolidayFileError    raised when the override file cannot be read or has a bad line
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import holidays

from domain.calendar import WorkCalendar

SHIPPED = Path(__file__).with_name("data") / "holidays_cn.csv"
YEARS = range(2000, 2051)
KINDS = ("holiday", "workday")


class HolidayFileError(ValueError):
    """Raised when the holiday override file cannot be read or has a line that is not `date,kind[,name]`."""


@dataclass(frozen=True)
class Override:
    """One day the local file declares off (`holiday`) or worked (`workday`)."""

    day: date
    kind: str
    name: str


def read_overrides(path: Path) -> list[Override]:
    """The rows of an override file, in file order; an optional `date,kind,name` header is skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise HolidayFileError(f"cannot read the holiday file {path}: {error.strerror}") from None
    rows: list[Override] = []
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    lines = [(n, line) for n, line in lines if not line.lstrip().startswith("#")]
    for (number, _), fields in zip(lines, csv.reader(line for _, line in lines), strict=True):
        cells = [cell.strip() for cell in fields]
        if [c.lower() for c in cells[:2]] == ["date", "kind"]:
            continue
        if len(cells) not in (2, 3):
            raise HolidayFileError(f"{path}, line {number}: expected date,kind[,name]")
        try:
            day = date.fromisoformat(cells[0])
        except ValueError:
            raise HolidayFileError(
                f"{path}, line {number}: {cells[0]!r} is not a date (YYYY-MM-DD)"
            ) from None
        kind = cells[1].lower()
        if kind not in KINDS:
            raise HolidayFileError(
                f"{path}, line {number}: kind must be holiday or workday, not {cells[1]!r}"
            )
        rows.append(Override(day, kind, cells[2] if len(cells) == 3 else ""))
    return rows


def work_calendar(overrides: Path | None = None, *, years: range = YEARS) -> WorkCalendar:
    """China's working days for `years`, with the rows of `overrides` (default: the shipped file) on top."""
    path = overrides or SHIPPED
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as error:
        raise HolidayFileError(f"cannot read the holiday file {path}: {error.strerror}") from None
    return _cached(path.resolve(), stamp, years.start, years.stop)


@lru_cache(maxsize=8)
def _cached(path: Path, stamp: int, first: int, stop: int) -> WorkCalendar:
    # `stamp` is part of the key only, so an edited file is read again.
    china = holidays.country_holidays("CN", years=range(first, stop))
    days_off = set(china)
    workdays = set(china.weekend_workdays)
    for row in read_overrides(path):
        if row.kind == "holiday":
            days_off.add(row.day)
            workdays.discard(row.day)
        else:
            workdays.add(row.day)
            days_off.discard(row.day)
    return WorkCalendar(holidays=frozenset(days_off), workdays=frozenset(workdays))
