"""Meetings: hold one, then work through it.

- analysis: select voices not merged yet, merge them into a new or an existing item, and
  route them (fix at once, coordinate, register and explain);
- assignment: give each opened item its leader, department, goals, measures and deadline,
  and disclose the assignment;
- evaluation: enter the representatives' verdicts on each resolved item, see the rate
  against the target, and conclude (close, or reopen under the same leader).

Every command carries the meeting's id (so the audit trail says where it was decided) and
goes through the JSON API's endpoint for it, handed the item as this page loaded it: a form
loads its item once, however many commands it runs on it (a copy gone stale costs a retry).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from api import schemas
from api.cli import originators
from api.deps import SUPERVISORS, wait_for
from api.errors import status_for
from api.pages.issue import ACTIONS, ENDPOINTS, act
from api.pages.web import (
    FormDep,
    Page,
    PageDep,
    PageError,
    PageRoute,
    fields,
    idempotency_key,
    problem,
    refill,
)
from api.routes.issues import open_issue
from api.routes.meetings import hold_meeting, record_decision
from api.routes.opinions import route_opinion
from api.routes.views import board as api_board
from domain.errors import CaselineError
from domain.meeting import Meeting
from domain.rules import Area, Horizon, Level, MeetingKind, Route, Stage, Verdict
from projections import queries

router = APIRouter(route_class=PageRoute, include_in_schema=False)
MEETING_HELD = "caseline:Meeting.Held"
LISTED = 30
VERDICT_ROWS = 5


def _label(page: Page, meeting: Meeting) -> str:
    return page.t(
        "{kind} of {unit}, {day}", kind=page.t.label("meeting", meeting.kind), unit=meeting.unit,
        day=page.day(meeting.held_at),
    )  # fmt: skip


def _list(page: Page, status: int = 200, **context: Any) -> Response:
    page.require(*SUPERVISORS)
    ids = originators(page.svc.workflow, (MEETING_HELD,))[MEETING_HELD][-LISTED:]
    meetings = sorted((page.svc.workflow.get_meeting(i) for i in ids), key=lambda m: m.held_at, reverse=True)
    values = context.pop("values", {})
    return page.render(
        "meetings.html", status, meetings=meetings, kinds=list(MeetingKind), values=values,
        label_of=lambda m: _label(page, m),
        now_local=page.now().astimezone(page.zone).strftime("%Y-%m-%dT%H:%M"),
        **context,
    )  # fmt: skip


@router.get("/meetings")
def meetings(page: PageDep) -> Response:
    return _list(page)


@router.post("/meetings")
def hold(page: PageDep, form: FormDep) -> Response:
    who = page.require(*SUPERVISORS)
    page.check(form)
    data = fields(form, schemas.MeetingCreate, lists={"attendees": "lines"})
    values = refill(form)
    try:
        if "held_at" in data:
            data["held_at"] = page.local_input(data["held_at"])
        body = schemas.MeetingCreate.model_validate(data)
        answer = hold_meeting(body, page.svc, who, idempotency_key(form))
    except ValueError as error:  # pydantic's ValidationError is a ValueError too
        message = (
            problem(page, error) if isinstance(error, ValidationError) else page.t("Check the date and time.")
        )
        return _list(page, 422, values=values, error=message)
    except CaselineError as error:
        return _list(page, status_for(error), values=values, error=page.refusal(error))
    return page.redirect(f"/meetings/{answer['id']}")


def _unmerged(page: Page) -> list[dict[str, Any]]:
    """Voices not merged into an item and not answered yet (the feedback tracker), with their text."""
    rows = queries.unanswered(page.svc.projector.db, now=page.now(), unmerged=True, limit=500)
    found = []
    for row in rows:
        opinion = page.svc.workflow.get_opinion(UUID(row["opinion_id"]))
        found.append({**row, "text": opinion.text, "place": opinion.place, "channel": opinion.channel})
    return found


def _items(page: Page, stage: Stage) -> list[dict[str, Any]]:
    found = api_board(
        page.svc, page.who, stage=stage, area=None, level=None, leader=None, department=None, overdue=None,
        on_committee=None, text=None, sort="number", descending=False, page=1, page_size=100, wait=None,
    )  # fmt: skip
    rows: list[dict[str, Any]] = found["rows"]
    return rows


def _workspace(page: Page, meeting_id: UUID, status: int = 200, **context: Any) -> Response:
    page.require(*SUPERVISORS)
    meeting = page.svc.workflow.get_meeting(meeting_id)
    extra: dict[str, Any] = {}
    if meeting.kind == MeetingKind.ANALYSIS:
        extra["opinions"] = _unmerged(page)
    elif meeting.kind == MeetingKind.ASSIGNMENT:
        extra["items"] = _items(page, Stage.OPENED)
    elif meeting.kind == MeetingKind.EVALUATION:
        items = []
        for row in _items(page, Stage.RESOLVED):
            issue = page.svc.workflow.get_issue(row["number"])
            verdicts = list(issue.evaluations.values())
            items.append(
                {
                    **row, "votes": len(verdicts),
                    "counts": {v.value: verdicts.count(v.value) for v in Verdict},
                    "rate": issue.satisfaction() if verdicts else None,
                }
            )  # fmt: skip
        extra["items"] = items
    return page.render(
        "meeting.html", status, meeting=meeting, title_label=_label(page, meeting),
        areas=list(Area), levels=list(Level), horizons=list(Horizon), routes=list(Route),
        verdicts=list(Verdict), rows=range(VERDICT_ROWS), target=page.svc.settings.satisfaction_target,
        failed=context.pop("failed", ""), values=context.pop("values", {}), **extra, **context,
    )  # fmt: skip


DONE = {
    "merge": "Merged into the item",
    "route": "Routed",
    "assign": "Assigned",
    "evaluate": "Verdicts recorded",
    "conclude": "Concluded",
    "decision": "Decision recorded",
}


@router.get("/meetings/{meeting_id}")
def workspace(
    meeting_id: UUID,
    page: PageDep,
    done: Annotated[str | None, Query(max_length=40)] = None,
    wait: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    note: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    page.require(*SUPERVISORS)
    wait_for(page.svc, wait)
    flash = None
    if done in DONE:
        flash = page.t(DONE[done]) + (f" ({note})" if note else "") + "."
    return _workspace(page, meeting_id, flash=flash)


def _back(page: Page, meeting_id: UUID, what: str, answer: dict[str, object], note: str = "") -> Response:
    position = answer.get("position")
    wait = f"&wait={position}" if isinstance(position, int) else ""
    extra = f"&note={quote(note)}" if note else ""
    return page.redirect(f"/meetings/{meeting_id}?done={what}{wait}{extra}")


def _refused(page: Page, meeting_id: UUID, what: str, form: FormData, error: Exception) -> Response:
    values = refill(form)
    if isinstance(error, ValidationError):
        status, message = 422, problem(page, error)
    elif isinstance(error, CaselineError):
        status, message = status_for(error), page.refusal(error)
    else:
        status, message = 422, page.t("Check the date.")
    return _workspace(page, meeting_id, status, error=message, failed=what, values=values)


@router.post("/meetings/{meeting_id}/merge")
def merge(meeting_id: UUID, page: PageDep, form: FormDep) -> Response:
    """Merge the selected voices into a new item or an existing one, and route them."""
    who = page.require(*SUPERVISORS)
    page.check(form)
    page.svc.workflow.get_meeting(meeting_id)
    key = idempotency_key(form)
    selected = form.getlist("opinion_ids")
    try:
        if not selected:
            raise PageError(422, page.t("Select at least one voice."))
        route_body = None
        if form.get("route"):
            route_data = {
                "route": form.get("route"),
                "reason": form.get("reason") or "",
                "meeting_id": meeting_id,
            }
            route_body = schemas.RouteRequest.model_validate(route_data)
        if form.get("target") == "existing":
            merge_body = schemas.MergeRequest.model_validate(
                {"opinion_ids": selected, "meeting_id": meeting_id}
            )
            issue = page.svc.workflow.get_issue(str(form.get("number") or "").strip()[:40] or "-")
            answer = ENDPOINTS["/api/issues/{ref}/opinions"](
                ref=issue, svc=page.svc, who=who, body=merge_body, key=key
            )
        else:
            data = fields(form, schemas.IssueCreate)
            data.update({"opinion_ids": selected, "meeting_id": meeting_id})
            answer = open_issue(schemas.IssueCreate.model_validate(data), page.svc, who, key)
        number = answer.get("number")  # the item merged into (routing answers carry no number)
        if route_body is not None:
            for opinion_id in selected:
                answer = route_opinion(
                    UUID(str(opinion_id)),
                    route_body,
                    page.svc,
                    who,
                    f"{key}/route/{opinion_id}" if key else None,
                )
    except PageError as error:
        return _workspace(page, meeting_id, error.status, error=error.message, failed="merge")
    except (ValidationError, CaselineError, ValueError) as error:
        return _refused(page, meeting_id, "merge", form, error)
    return _back(page, meeting_id, "merge", answer, str(number or ""))


@router.post("/meetings/{meeting_id}/route/{opinion_id}")
def route(meeting_id: UUID, opinion_id: UUID, page: PageDep, form: FormDep) -> Response:
    who = page.require(*SUPERVISORS)
    page.check(form)
    try:
        data = fields(form, schemas.RouteRequest)
        data["meeting_id"] = meeting_id
        answer = route_opinion(
            opinion_id, schemas.RouteRequest.model_validate(data), page.svc, who, idempotency_key(form)
        )
    except (ValidationError, CaselineError) as error:
        return _refused(page, meeting_id, f"route-{opinion_id}", form, error)
    return _back(page, meeting_id, "route", answer)


@router.post("/meetings/{meeting_id}/assign/{ref}")
def assign(meeting_id: UUID, ref: str, page: PageDep, form: FormDep) -> Response:
    """Assign the item's leader at this meeting and, if asked, disclose the assignment."""
    page.require(*SUPERVISORS)
    page.check(form)
    issue = page.svc.workflow.get_issue(ref[:40])
    try:
        answer = act(page, issue, ACTIONS["assign"], form, meeting_id=meeting_id)
        if form.get("disclose"):
            disclosure = ACTIONS["disclosures"].body(page, form)
            endpoint = ENDPOINTS["/api/issues/{ref}/disclosures"]
            key = idempotency_key(form, "/disclose")
            answer = endpoint(ref=issue, svc=page.svc, who=page.who, body=disclosure, key=key)
    except (ValidationError, CaselineError) as error:
        return _refused(page, meeting_id, f"assign-{issue.number}", form, error)
    return _back(page, meeting_id, "assign", answer, issue.number)


@router.post("/meetings/{meeting_id}/evaluate/{ref}")
def evaluate(meeting_id: UUID, ref: str, page: PageDep, form: FormDep) -> Response:
    """Record the verdicts entered (one row per representative); each is its own command."""
    who = page.require(*SUPERVISORS)
    page.check(form)
    issue = page.svc.workflow.get_issue(ref[:40])
    endpoint = ENDPOINTS["/api/issues/{ref}/evaluations"]
    answer: dict[str, object] = {}
    recorded = 0
    try:
        for row in range(VERDICT_ROWS):
            evaluator = str(form.get(f"evaluator_{row}") or "").strip()
            if not evaluator:
                continue
            data = {
                "evaluator": evaluator,
                "verdict": form.get(f"verdict_{row}") or "",
                "comment": str(form.get(f"comment_{row}") or "").strip() or None,
                "meeting_id": meeting_id,
            }
            body = schemas.EvaluationRequest.model_validate(data)
            key = idempotency_key(form, f"/{row}")
            answer = endpoint(ref=issue, svc=page.svc, who=who, body=body, key=key)
            recorded += 1
        if not recorded:
            raise PageError(422, page.t("Enter at least one evaluator and verdict."))
    except PageError as error:
        return _workspace(
            page, meeting_id, error.status, error=error.message, failed=f"evaluate-{issue.number}"
        )
    except (ValidationError, CaselineError) as error:
        return _refused(page, meeting_id, f"evaluate-{issue.number}", form, error)
    return _back(page, meeting_id, "evaluate", answer, f"{issue.number}: {recorded}")


@router.post("/meetings/{meeting_id}/conclude/{ref}")
def conclude(meeting_id: UUID, ref: str, page: PageDep, form: FormDep) -> Response:
    page.require(*SUPERVISORS)
    page.check(form)
    issue = page.svc.workflow.get_issue(ref[:40])
    try:
        answer = act(page, issue, ACTIONS["conclusion"], form, meeting_id=meeting_id)
    except (ValidationError, CaselineError) as error:
        return _refused(page, meeting_id, f"conclude-{issue.number}", form, error)
    detail = answer.get("detail")
    outcome = detail.get("outcome") if isinstance(detail, dict) else None
    return _back(page, meeting_id, "conclude", answer, f"{issue.number}: {page.t(str(outcome or ''))}")


@router.post("/meetings/{meeting_id}/decisions")
def decide(meeting_id: UUID, page: PageDep, form: FormDep) -> Response:
    who = page.require(*SUPERVISORS)
    page.check(form)
    try:
        body = schemas.DecisionRequest.model_validate(fields(form, schemas.DecisionRequest))
        answer = record_decision(meeting_id, body, page.svc, who, idempotency_key(form))
    except (ValidationError, CaselineError) as error:
        return _refused(page, meeting_id, "decision", form, error)
    return _back(page, meeting_id, "decision", answer)
