"""The base every Caseline aggregate shares: event timestamps from the command's clock."""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate

from domain.clock import current_event_time


class CaselineAggregate(Aggregate):
    """An aggregate whose events are stamped with the moment of the command, not the wall clock."""

    class Event(Aggregate.Event):
        @staticmethod
        def create_timestamp() -> datetime:
            return current_event_time()
