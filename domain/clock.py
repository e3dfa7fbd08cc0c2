"""Time as an injected dependency.

The domain never calls `datetime.now()`. The application service reads its clock once
per command and publishes that moment through `event_time`, which the aggregates' event
base class uses for every timestamp; tests and the demo use `FakeClock` to move time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol

_command_time: ContextVar[datetime | None] = ContextVar("caseline_command_time", default=None)


class Clock(Protocol):
    """Anything that can say what time it is (timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(tz=UTC)


class FakeClock:
    """A clock that only moves when told to: for tests, benches and the demo."""

    def __init__(self, start: datetime) -> None:
        self._now = require_aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = require_aware(moment)

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta


def require_aware(moment: datetime) -> datetime:
    """Return `moment` in UTC, refusing naive datetimes (they are ambiguous)."""
    if moment.tzinfo is None:
        raise ValueError("datetimes must carry a time zone")
    return moment.astimezone(UTC)


@contextmanager
def event_time(moment: datetime) -> Iterator[None]:
    """Stamp every event created inside the block with `moment`."""
    token = _command_time.set(require_aware(moment))
    try:
        yield
    finally:
        _command_time.reset(token)


def current_event_time() -> datetime:
    """The moment of the command being executed, or the wall clock outside one."""
    moment = _command_time.get()
    return moment if moment is not None else datetime.now(tz=UTC)
