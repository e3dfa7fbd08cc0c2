"""Meetings: analysis, assignment, evaluation and hearings; commands taken there carry their id."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from api import schemas
from api.deps import IdempotencyKey, ServicesDep, Staff, Supervisor, answer, command
from api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/meetings", tags=["meetings"], responses=ERROR_RESPONSES)


@command(router.post("", status_code=201, response_model=schemas.CommandAnswer, summary="Record a meeting"))
def hold_meeting(
    body: schemas.MeetingCreate, svc: ServicesDep, who: Supervisor, key: IdempotencyKey = None
) -> dict[str, object]:
    """Record that a meeting took place, with its unit, date and attendees."""
    result = svc.workflow.hold_meeting(
        who.actor, kind=body.kind, unit=body.unit, held_at=body.held_at, attendees=body.attendees,
        title=body.title, key=key,
    )  # fmt: skip
    return answer(result)


@router.get("/{meeting_id}", summary="A meeting and its decisions")
def get_meeting(meeting_id: UUID, svc: ServicesDep, who: Staff) -> dict[str, Any]:
    meeting = svc.workflow.get_meeting(meeting_id)
    return {
        "id": meeting.id, "kind": meeting.kind, "unit": meeting.unit, "held_at": meeting.held_at,
        "attendees": meeting.attendees, "title": meeting.title, "decisions": meeting.decisions,
        "label": meeting.label(),
    }  # fmt: skip


@command(
    router.post("/{meeting_id}/decisions", response_model=schemas.CommandAnswer, summary="Record a decision")
)
def record_decision(
    meeting_id: UUID,
    body: schemas.DecisionRequest,
    svc: ServicesDep,
    who: Supervisor,
    key: IdempotencyKey = None,
) -> dict[str, object]:
    result = svc.workflow.record_decision(
        who.actor, meeting_id, decision=body.decision, issue=body.issue, key=key
    )
    return answer(result)
