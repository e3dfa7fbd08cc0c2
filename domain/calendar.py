"""Working days: weekends and public holidays off, adjusted working days on.

The domain gets the calendar as plain sets of dates; where they come from (the `holidays`
package plus a local override file) is the composition root's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are worked: Monday to Friday, minus `holidays`, plus `workdays` (adjusted weekends)."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The moment `days` working days after `start`, at the same time of day.

        Counting starts on the day after `start`; a deadline never lands on a day off.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        moment = start
        remaining = days
        while remaining > 0:
            moment += timedelta(days=1)
            if self.is_working_day(moment.date()):
                remaining -= 1
        return moment


WEEKENDS_ONLY = WorkCalendar()
