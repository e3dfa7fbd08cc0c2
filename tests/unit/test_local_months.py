"""The satisfaction report's months in a town's time zone, as UTC bounds the views can compare."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from projections.queries import local_months


def test_months_in_beijing_begin_at_16_00_utc_the_day_before() -> None:
    months = local_months(
        datetime(2026, 11, 30, 17, tzinfo=UTC), datetime(2027, 1, 5, tzinfo=UTC), ZoneInfo("Asia/Shanghai")
    )
    assert months == [
        ("2026-12", "2026-11-30T16:00:00.000000Z", "2026-12-31T16:00:00.000000Z"),
        ("2027-01", "2026-12-31T16:00:00.000000Z", "2027-01-31T16:00:00.000000Z"),
    ]


def test_months_follow_a_change_of_summer_time() -> None:
    # Berlin: +01:00 in March until the 29th, +02:00 from then to late October
    months = local_months(
        datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC), ZoneInfo("Europe/Berlin")
    )
    assert months == [
        ("2026-03", "2026-02-28T23:00:00.000000Z", "2026-03-31T22:00:00.000000Z"),
        ("2026-04", "2026-03-31T22:00:00.000000Z", "2026-04-30T22:00:00.000000Z"),
    ]


def test_no_rounds_no_months() -> None:
    assert local_months(None, None, UTC) == []
