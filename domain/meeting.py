"""Analysis, assignment and evaluation meetings, and proposal hearings."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from domain.base import CaselineAggregate
from domain.errors import InvalidInputError
from domain.rules import MAX_NAME, MAX_TITLE, MeetingKind, choice, text, texts


class Meeting(CaselineAggregate):
    """A meeting that took decisions; commands issued there carry its id."""

    TOPIC = "caseline:Meeting"

    class Created(CaselineAggregate.Created):
        TOPIC = "caseline:Meeting.Created"

    @classmethod
    def hold(
        cls,
        *,
        id: UUID,
        kind: str,
        unit: str,
        held_at: datetime,
        attendees: list[str],
        title: str,
        actor: str,
    ) -> Meeting:
        """Record that a meeting took place."""
        if held_at.tzinfo is None:
            raise InvalidInputError("held_at", "must carry a time zone")
        return cls(
            id=id,
            kind=choice(kind, MeetingKind, field="kind").value,
            unit=text(unit, field="unit", limit=MAX_NAME),
            held_at=held_at,
            attendees=texts(attendees, field="attendees", limit=MAX_NAME),
            title=text(title, field="title", limit=MAX_TITLE),
            actor=actor,
        )

    @event("Held", topic="caseline:Meeting.Held")
    def __init__(
        self,
        *,
        id: UUID,  # set by the library before __init__ runs
        kind: str,
        unit: str,
        held_at: datetime,
        attendees: list[str],
        title: str,
        actor: str,
    ) -> None:
        self.kind = kind
        self.unit = unit
        self.held_at = held_at
        self.attendees = attendees
        self.title = title
        self.decisions: list[dict[str, str | None]] = []

    def label(self) -> str:
        """How the audit trail names this meeting."""
        return f"{self.kind} meeting of {self.unit}, {self.held_at:%Y-%m-%d}"

    def decide(self, decision: str, *, issue_id: UUID | None, actor: str) -> None:
        """Record a decision taken at the meeting."""
        self._decided(decision=text(decision, field="decision"), issue_id=issue_id, actor=actor)

    @event("DecisionRecorded", topic="caseline:Meeting.DecisionRecorded")
    def _decided(self, decision: str, issue_id: UUID | None, actor: str) -> None:
        self.decisions.append({"decision": decision, "issue_id": str(issue_id) if issue_id else None})
