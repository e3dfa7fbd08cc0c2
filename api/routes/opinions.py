"""Opinions: recorded by recorders, submitted by the public, routed, answered, contact erased."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request

from api import schemas
from api.deps import (
    SUPERVISORS,
    IdempotencyKey,
    PrincipalDep,
    Recorder,
    Services,
    ServicesDep,
    Staff,
    Supervisor,
    answer,
    command,
    unauthorised,
    within_reach,
)
from api.errors import ERROR_RESPONSES
from api.security import ANONYMOUS, Principal
from domain.contacts import Contact
from domain.errors import OpinionNotFoundError
from domain.issue import Issue
from domain.opinion import Opinion
from domain.rules import Actor, Channel, Role

router = APIRouter(prefix="/api", tags=["opinions"], responses=ERROR_RESPONSES)


def _contact(body: schemas.ContactIn | None) -> Contact | None:
    if body is None or not (body.name or body.phone or body.address):
        return None
    return Contact(name=body.name, phone=body.phone, address=body.address)


def reachable_opinion(
    svc: Services, who: Principal, opinion_id: UUID, *, issue: Issue | None = None
) -> Opinion:
    """Supervisors see every opinion; recorders those they recorded; officers those of items they reach.

    `issue` is an item the caller has already loaded (an item page, for its own reach check): if the
    opinion is merged into it, an officer's reach is checked on that copy, not on the item loaded again."""
    if who is ANONYMOUS:
        raise unauthorised("Sign in first.")
    opinion = svc.workflow.get_opinion(opinion_id)
    if who.role in SUPERVISORS or (who.role == Role.RECORDER and opinion.recorder == who.name):
        return opinion
    issue_id = opinion.issue_id
    if who.role == Role.OFFICER and issue_id is not None:
        merged_into = (
            issue if issue is not None and issue.id == issue_id else svc.workflow.get_issue(issue_id)
        )
        if within_reach(who, merged_into):
            return opinion
    raise OpinionNotFoundError(opinion_id)


@command(
    router.post(
        "/opinions", status_code=201, response_model=schemas.CommandAnswer, summary="Record an opinion"
    )
)
def record_opinion(
    body: schemas.OpinionCreate, svc: ServicesDep, who: Recorder, key: IdempotencyKey = None
) -> dict[str, object]:
    """A recorder writes down what a household said (the visit log)."""
    result = svc.workflow.record_opinion(
        who.actor, kind=body.kind, area=body.area, channel=body.channel, unit=body.unit, text=body.text,
        recorder=body.recorder, place=body.place, latitude=body.latitude, longitude=body.longitude,
        contact=_contact(body.contact), key=key,
    )  # fmt: skip
    return answer(result)


@command(
    router.post(
        "/public/opinions",
        status_code=201,
        response_model=schemas.CommandAnswer,
        summary="Submit an issue as a member of the public",
    )
)
def submit_public_opinion(
    body: schemas.PublicOpinionCreate, request: Request, svc: ServicesDep, key: IdempotencyKey = None
) -> dict[str, object]:
    """Anyone may submit; it lands in the feedback tracker awaiting triage. Rate limited per client."""
    client = request.client.host if request.client else "unknown"
    if not svc.limiter.allow("public", client, svc.settings.public_submissions_per_minute):
        raise HTTPException(
            429, detail={"code": "rate_limited", "message": "Too many submissions; wait a minute."}
        )
    result = svc.workflow.record_opinion(
        Actor("public", role=Role.PUBLIC), kind=body.kind, area=body.area, channel=Channel.ONLINE,
        unit=body.unit, text=body.text, recorder="online", place=body.place, latitude=body.latitude,
        longitude=body.longitude, contact=_contact(body.contact), key=key,
    )  # fmt: skip
    return answer(result)


@router.get("/opinions/{opinion_id}", response_model=schemas.OpinionPublic, summary="An opinion")
def get_opinion(opinion_id: UUID, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """The opinion; the reporter's contact only for supervisors."""
    opinion = reachable_opinion(svc, who, opinion_id)
    contact = svc.workflow.contact(opinion.id) if who.role in SUPERVISORS else None
    return {
        "id": opinion.id, "kind": opinion.kind, "area": opinion.area, "channel": opinion.channel,
        "unit": opinion.unit, "place": opinion.place, "text": opinion.text, "recorder": opinion.recorder,
        "route": opinion.route, "issue_id": opinion.issue_id, "answers": opinion.answers,
        "contact": None if contact is None else
        {"name": contact.name, "phone": contact.phone, "address": contact.address},
    }  # fmt: skip


@command(
    router.post(
        "/opinions/{opinion_id}/route", response_model=schemas.CommandAnswer, summary="Route an opinion"
    )
)
def route_opinion(
    opinion_id: UUID,
    body: schemas.RouteRequest,
    svc: ServicesDep,
    who: Supervisor,
    key: IdempotencyKey = None,
) -> dict[str, object]:
    """Fix at once, coordinate, or register and explain (analysis meeting)."""
    result = svc.workflow.route_opinion(
        who.actor, opinion_id, route=body.route, reason=body.reason, meeting_id=body.meeting_id, key=key
    )
    return answer(result)


@command(
    router.post(
        "/opinions/{opinion_id}/answers", response_model=schemas.CommandAnswer, summary="Answer a reporter"
    )
)
def answer_opinion(
    opinion_id: UUID,
    body: schemas.AnswerRequest,
    svc: ServicesDep,
    who: Staff,
    key: IdempotencyKey = None,
) -> dict[str, object]:
    """Record the feedback the reporter received."""
    return answer_opinion_on(opinion_id, body, svc, who, key)


def answer_opinion_on(
    opinion_id: UUID,
    body: schemas.AnswerRequest,
    svc: Services,
    who: Principal,
    key: str | None,
    issue: Issue | None = None,
) -> dict[str, object]:
    """`answer_opinion`'s work, for a caller who is staff, given (as the item page has) the item it
    has already loaded. The opinion loaded for the reach check is the one answered: neither it nor
    its item is loaded twice, and a copy gone stale meanwhile costs the command a retry."""
    opinion = reachable_opinion(svc, who, opinion_id, issue=issue)
    return answer(
        svc.workflow.answer_opinion(who.actor, opinion, feedback=body.feedback, by=body.by, key=key)
    )


@router.delete("/opinions/{opinion_id}/contact", status_code=204, summary="Erase a reporter's contact")
def erase_contact(opinion_id: UUID, svc: ServicesDep, who: Supervisor) -> None:
    """Erase personal data on request; the event log keeps only an opaque reference."""
    svc.workflow.erase_contact(who.actor, opinion_id)
