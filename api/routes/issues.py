"""Issues: open, read, replay, and every action on an item, each with its own request schema."""

# No `from __future__ import annotations` here: the action endpoints are built by a factory
# and FastAPI must see their request models as real classes, not strings.

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import AwareDatetime, BaseModel

from api import schemas
from api.deps import (
    STAFF,
    SUPERVISORS,
    IdempotencyKey,
    PrincipalDep,
    Services,
    ServicesDep,
    Supervisor,
    answer,
    command,
    reachable_issue,
    run_command,
)
from api.errors import ERROR_RESPONSES
from api.security import Principal
from domain.errors import NotPermittedError
from domain.issue import Issue
from domain.rules import Role
from domain.workflow import IssueRef, Result, Workflow
from projections.audit import trail

router = APIRouter(prefix="/api/issues", tags=["issues"], responses=ERROR_RESPONSES)
RefPath = Annotated[str, Path(min_length=1, max_length=40, description="Issue number (2026-0041) or id")]


def issue_public(issue: Issue) -> dict[str, Any]:
    return {
        "id": issue.id, "number": issue.number, "version": issue.version, "title": issue.title,
        "area": issue.area, "level": issue.level, "horizon": issue.horizon, "unit": issue.unit,
        "stage": issue.stage, "leader": issue.leader, "department": issue.department, "goals": issue.goals,
        "measures": issue.measures, "deadline": issue.deadline, "paused": issue.paused_since is not None,
        "on_committee_list": issue.on_committee_list, "opinion_ids": issue.opinion_ids,
        "coordinations": issue.coordinations, "last_progress": issue.last_progress,
        "resolution": issue.resolution, "evaluations": len(issue.evaluations),
        "satisfaction": issue.satisfaction() if issue.evaluations else None, "outcome": issue.outcome,
        "explanation": issue.explanation, "revisit_at": issue.revisit_at, "updated_at": issue.modified_on,
    }  # fmt: skip


@command(router.post("", status_code=201, response_model=schemas.CommandAnswer, summary="Open an item"))
def open_issue(
    body: schemas.IssueCreate, svc: ServicesDep, who: Supervisor, key: IdempotencyKey = None
) -> dict[str, object]:
    """Open a rectification item, merging the given opinions; it gets a number like 2026-0041."""
    result = svc.workflow.open_issue(
        who.actor, title=body.title, area=body.area, level=body.level, horizon=body.horizon,
        description=body.description, unit=body.unit, opinion_ids=body.opinion_ids,
        meeting_id=body.meeting_id, key=key,
    )  # fmt: skip
    return answer(result)


@router.get("/{ref}", response_model=schemas.IssuePublic, summary="An item as it stands")
def get_issue(
    ref: RefPath,
    svc: ServicesDep,
    who: PrincipalDep,
    at: Annotated[AwareDatetime | None, Query(description="State as of this moment")] = None,
    version: Annotated[int | None, Query(ge=1, le=1_000_000, description="State as of this version")] = None,
) -> dict[str, Any]:
    """The item now, or (supervisors' replay) as of a moment or a version."""
    issue = reachable_issue(svc, who, ref)
    if at is not None or version is not None:
        issue = svc.workflow.issue_at(issue.id, version=version, at=at)
    return issue_public(issue)


@router.get("/{ref}/history", response_model=list[schemas.EventOut], summary="Every event of an item")
def history(ref: RefPath, svc: ServicesDep, who: PrincipalDep) -> list[dict[str, Any]]:
    """The full, immutable history, oldest first."""
    issue = reachable_issue(svc, who, ref)
    base = {"originator_id", "originator_version", "timestamp", "originator_topic"}
    return [
        {
            "version": e.originator_version,
            "at": e.timestamp,
            "event": type(e).__name__,
            "fields": {k: v for k, v in vars(e).items() if k not in base},
        }
        for e in svc.workflow.history(issue.id)
    ]


Call = Callable[[Workflow, Principal, IssueRef, Any, str | None], Result]


# Each action's work, run synchronously: the JSON endpoints run them through `run_command`, the HTML
# pages call them with the issue their own reach check loaded (or its number), so that it is loaded
# once per request.
ACTION_CALLS: dict[str, Callable[..., dict[str, object]]] = {}


def _action(
    path: str,
    model: type[BaseModel],
    roles: tuple[Role, ...],
    call: Call,
    summary: str,
) -> None:
    """Register `POST /api/issues/{ref}/<path>` for one action."""

    def perform(
        ref: str | Issue, svc: Services, who: Principal, body: BaseModel, key: str | None
    ) -> dict[str, object]:
        issue = reachable_issue(svc, who, ref)
        if who.role not in roles:
            raise NotPermittedError(f"Your role may not {summary.lower()} on issue {issue.number}.")
        # The command acts on the issue just loaded for the reach check, instead of loading it again.
        return answer(call(svc.workflow, who, issue, body, key))

    async def endpoint(
        ref: RefPath,
        svc: ServicesDep,
        who: PrincipalDep,
        body: Annotated[model, Body()],  # type: ignore[valid-type]
        key: IdempotencyKey = None,
    ) -> dict[str, object]:
        # The reach check and the command together, on the loop or in one hand-off to the thread
        # pool (a plain `def` endpoint takes a second one, to validate its answer).
        return await run_command(svc, perform, ref, svc, who, body, key)

    name = path.replace("-", "_").replace("/", "_").replace("{", "").replace("}", "")
    endpoint.__name__ = perform.__name__ = name
    ACTION_CALLS[f"/api/issues/{{ref}}/{path}"] = perform
    router.post(f"/{{ref}}/{path}", response_model=schemas.CommandAnswer, summary=summary)(endpoint)


_action(
    "opinions",
    schemas.MergeRequest,
    SUPERVISORS,
    lambda wf, who, ref, b, k: wf.merge_opinions(
        who.actor, ref, b.opinion_ids, meeting_id=b.meeting_id, key=k
    ),
    "Merge opinions",
)
_action(
    "assign",
    schemas.AssignLeaderRequest,
    SUPERVISORS,
    lambda wf, who, ref, b, k: wf.assign_leader(
        who.actor,
        ref,
        leader=b.leader,
        department=b.department,
        goals=b.goals,
        measures=b.measures,
        deadline=b.deadline,
        meeting_id=b.meeting_id,
        key=k,
    ),
    "Assign the leader",
)
_action(
    "hand-over",
    schemas.HandOverRequest,
    STAFF,
    lambda wf, who, ref, b, k: wf.hand_over(
        who.actor, ref, to=b.to, reason=b.reason, meeting_id=b.meeting_id, key=k
    ),
    "Hand over",
)
_action(
    "extend-deadline",
    schemas.ExtendDeadlineRequest,
    SUPERVISORS,
    lambda wf, who, ref, b, k: wf.extend_deadline(
        who.actor, ref, deadline=b.deadline, reason=b.reason, approver=b.approver, key=k
    ),
    "Extend the deadline",
)
_action(
    "progress",
    schemas.NoteRequest,
    STAFF,
    lambda wf, who, ref, b, k: wf.report_progress(who.actor, ref, note=b.note, key=k),
    "Report progress",
)
_action(
    "coordination",
    schemas.CoordinationRequest,
    STAFF,
    lambda wf, who, ref, b, k: wf.request_coordination(
        who.actor, ref, department=b.department, request=b.request, key=k
    ),
    "Ask for coordination",
)
_action(
    "inspections",
    schemas.InspectionRequest,
    STAFF,
    lambda wf, who, ref, b, k: wf.record_inspection(
        who.actor, ref, inspector=b.inspector, findings=b.findings, confirmed=b.confirmed, key=k
    ),
    "Record an inspection",
)
_action(
    "disclosures",
    schemas.DiscloseRequest,
    STAFF,
    lambda wf, who, ref, b, k: wf.disclose(
        who.actor, ref, fields=b.fields, where=b.where, note=b.note, key=k
    ),
    "Disclose",
)
_action(
    "resolution",
    schemas.ResolutionRequest,
    STAFF,
    lambda wf, who, ref, b, k: wf.report_resolution(who.actor, ref, summary=b.summary, key=k),
    "Report the resolution",
)
_action(
    "pause",
    schemas.ReasonRequest,
    STAFF,
    lambda wf, who, ref, b, k: wf.pause_clock(who.actor, ref, reason=b.reason, key=k),
    "Pause the clock",
)
_action(
    "resume",
    schemas.Empty,
    STAFF,
    lambda wf, who, ref, b, k: wf.resume_clock(who.actor, ref, key=k),
    "Resume the clock",
)
_action(
    "evaluations",
    schemas.EvaluationRequest,
    SUPERVISORS,
    lambda wf, who, ref, b, k: wf.record_evaluation(
        who.actor,
        ref,
        evaluator=b.evaluator,
        verdict=b.verdict,
        comment=b.comment,
        meeting_id=b.meeting_id,
        key=k,
    ),
    "Record an evaluation",
)
_action(
    "conclusion",
    schemas.ConcludeRequest,
    SUPERVISORS,
    lambda wf, who, ref, b, k: wf.conclude_evaluation(
        who.actor, ref, new_deadline=b.new_deadline, meeting_id=b.meeting_id, key=k
    ),
    "Conclude the evaluation",
)
_action(
    "close-fixed",
    schemas.NoteRequest,
    STAFF,
    lambda wf, who, ref, b, k: wf.close_fixed_at_once(who.actor, ref, note=b.note, key=k),
    "Close as fixed at once",
)
_action(
    "reopen",
    schemas.ReopenRequest,
    SUPERVISORS,
    lambda wf, who, ref, b, k: wf.reopen(who.actor, ref, reason=b.reason, deadline=b.deadline, key=k),
    "Reopen",
)
_action(
    "register-and-explain",
    schemas.RegisterRequest,
    SUPERVISORS,
    lambda wf, who, ref, b, k: wf.register_and_explain(
        who.actor, ref, explanation=b.explanation, revisit_at=b.revisit_at, meeting_id=b.meeting_id, key=k
    ),
    "Register and explain",
)
_action(
    "revisit",
    schemas.MeetingRef,
    SUPERVISORS,
    lambda wf, who, ref, b, k: wf.revisit(who.actor, ref, meeting_id=b.meeting_id, key=k),
    "Revisit",
)


@command(
    router.post(
        "/{ref}/coordination/{index}/answer",
        response_model=schemas.CommandAnswer,
        summary="Answer coordination",
    )
)
def answer_coordination(
    ref: RefPath,
    index: Annotated[int, Path(ge=0, le=10_000)],
    body: schemas.CoordinationAnswer,
    svc: ServicesDep,
    who: PrincipalDep,
    key: IdempotencyKey = None,
) -> dict[str, object]:
    """Record the other department's answer to a coordination request."""
    return answer_coordination_on(ref, index, body, svc, who, key)


def answer_coordination_on(
    ref: str | Issue,
    index: int,
    body: schemas.CoordinationAnswer,
    svc: Services,
    who: Principal,
    key: str | None,
) -> dict[str, object]:
    """`answer_coordination`'s work, for an issue named or already loaded (as the item page has)."""
    issue = reachable_issue(svc, who, ref)
    if who.role not in STAFF:
        raise NotPermittedError(f"Your role may not answer coordination on issue {issue.number}.")
    return answer(
        svc.workflow.answer_coordination(who.actor, issue, index=index, answer=body.answer, key=key)
    )


@router.get("/{ref}/audit", summary="The audit trail of an item")
def audit(ref: RefPath, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """Every event with actor, time, meeting and leader; the leader chain; missed deadlines. Read
    from the event log itself, so it includes every write already answered."""
    issue = reachable_issue(svc, who, ref)
    return trail(svc.workflow.history(issue.id))
