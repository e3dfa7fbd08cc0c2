"""Recurring duties (DOMAIN.md): the analysis meeting every two months, the 14th/28th feedback
cycle, the half-yearly evaluation meeting.

A duty falls due once per (kind, unit, period). Its id is derived from those three (uuid5), so
however many schedulers raise it, and however often, the log holds it once: the second writer
loses the insert, reloads, and finds it raised.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import CaselineAggregate
from domain.errors import InvalidInputError
from domain.rules import MAX_LIST, MAX_NAME, choice, text, texts

DUTY_NAMESPACE = UUID("0b9d3c1e-5a47-4f0c-8e2d-6a1f7c3b9e42")
MAX_PERIOD = 40
MAX_LISTED = 1000


class DutyKind(StrEnum):
    """The recurring duties of a unit."""

    ANALYSIS_MEETING = "analysis_meeting"
    FEEDBACK_CYCLE = "feedback_cycle"
    EVALUATION_MEETING = "evaluation_meeting"


class Duty(CaselineAggregate):
    """One recurring duty of one unit for one period, raised once whoever raises it."""

    TOPIC = "caseline:Duty"

    class Created(CaselineAggregate.Created):
        TOPIC = "caseline:Duty.Created"

    @staticmethod
    def id_for(kind: str, unit: str, period: str) -> UUID:
        """The one id a duty of this kind, unit and period can have."""
        return uuid5(DUTY_NAMESPACE, f"duty/{kind}/{unit}/{period}")

    @classmethod
    def raise_for(
        cls,
        *,
        kind: str,
        unit: str,
        period: str,
        due_by: datetime,
        recipients: list[str],
        unanswered: dict[str, list[str]],
        actor: str,
    ) -> Duty:
        """Raise the duty: who must act, by when, and (for the feedback cycle) which opinions wait
        for an answer, by recorder (opaque ids only: the texts and contacts stay where they are)."""
        kind = choice(kind, DutyKind, field="kind").value
        unit = text(unit, field="unit", limit=MAX_NAME)
        period = text(period, field="period", limit=MAX_PERIOD)
        if due_by.tzinfo is None:
            raise InvalidInputError("due_by", "must carry a time zone")
        listed = {
            text(recorder, field="recorder", limit=MAX_NAME): [str(UUID(str(o))) for o in ids]
            for recorder, ids in unanswered.items()
        }
        if len(listed) > MAX_LIST or sum(len(ids) for ids in listed.values()) > MAX_LISTED:
            raise InvalidInputError(
                "unanswered", f"list at most {MAX_LISTED} opinions of {MAX_LIST} recorders"
            )
        return cls(
            id=cls.id_for(kind, unit, period),
            kind=kind,
            unit=unit,
            period=period,
            due_by=due_by,
            recipients=list(dict.fromkeys(texts(recipients, field="recipients", limit=MAX_NAME))),
            unanswered=listed,
            actor=actor,
        )

    @event("Raised", topic="caseline:Duty.Raised")
    def __init__(
        self,
        *,
        id: UUID,  # set by the library before __init__ runs
        kind: str,
        unit: str,
        period: str,
        due_by: datetime,
        recipients: list[str],
        unanswered: dict[str, list[str]],
        actor: str,
    ) -> None:
        self.kind = kind
        self.unit = unit
        self.period = period
        self.due_by = due_by
        self.recipients = list(recipients)
        self.unanswered = {recorder: list(ids) for recorder, ids in unanswered.items()}
