"""`iso()`: the one text form of every time in the views, sortable as text."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from projections.store import from_iso, iso

BEIJING = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC), "2026-03-01T08:00:00.123456Z"),
        (datetime(2026, 3, 1, 8, 0, tzinfo=UTC), "2026-03-01T08:00:00.000000Z"),
        (datetime(2026, 3, 1, 8, 0, 0, 5, tzinfo=BEIJING), "2026-03-01T00:00:00.000005Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05.000000Z"),
    ],
)
def test_iso_writes_utc_with_six_fraction_digits_and_reads_back(moment: datetime, text: str) -> None:
    assert iso(moment) == text
    assert from_iso(text) == moment


def test_iso_takes_a_naive_time_as_local_time_as_astimezone_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # In a zone other than UTC, so that reading it as UTC would fail
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        assert iso(datetime(2026, 3, 1, 8, 0)) == "2026-03-01T00:00:00.000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()
    assert iso(None) is None
