"""The issue page (summary, leader chain, timeline, linked opinions, the forms this person may
use now) and the supervisors' replay of an item as of any moment, two moments side by side.

Forms post to `/issues/{ref}/do/{action}`; the page validates the form with the JSON API's
request schema and calls the JSON API's own endpoint for that action, so reach, roles and
the workflow call are the API's. Which forms are shown is derived from the role (the same
role tuples the API checks) and the stage; the domain still decides, and a refusal comes
back as the page with the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from api import schemas
from api.deps import STAFF, SUPERVISORS, reachable_issue, wait_for
from api.errors import status_for
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
from api.routes import issues as api_issues
from api.routes.opinions import answer_opinion_on
from domain.base import CaselineAggregate
from domain.errors import CaselineError
from domain.issue import WORKING, Issue
from domain.rules import DISCLOSABLE_FIELDS, Horizon, Role, Stage, Verdict
from projections.audit import trail

router = APIRouter(route_class=PageRoute, include_in_schema=False)
ENDPOINTS: dict[str, Callable[..., dict[str, object]]] = api_issues.ACTION_CALLS


@dataclass(frozen=True)
class Action:
    """A form on the issue page: the JSON API action it posts to, who may use it and when."""

    name: str
    title: str
    roles: tuple[Role, ...]
    when: Callable[[Issue], bool]
    model: type[BaseModel]
    lists: dict[str, str] = field(default_factory=dict)
    dates: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()

    def body(self, page: Page, form: FormData, **extra: Any) -> BaseModel:
        data = fields(form, self.model, lists=self.lists)
        for name in self.dates:
            if name in data:
                try:
                    data[name] = page.end_of_day(data[name])
                except ValueError:
                    data[name] = "?"
        for name in self.flags:
            data[name] = form.get(name) in ("1", "on", "yes", "true")
        data.update({k: v for k, v in extra.items() if v is not None and k in self.model.model_fields})
        return self.model.model_validate(data)


def _working(issue: Issue) -> bool:
    return issue.stage in WORKING


def _not_closed(issue: Issue) -> bool:
    return issue.stage != Stage.CLOSED


ACTIONS = {
    a.name: a
    for a in (
        Action("progress", "Report progress", STAFF, _working, schemas.NoteRequest),
        Action("resolution", "Report the resolution", STAFF, _working, schemas.ResolutionRequest),
        Action("coordination", "Ask another department", STAFF, _working, schemas.CoordinationRequest),
        Action(
            "inspections",
            "Record an inspection",
            STAFF,
            lambda i: i.stage in (*WORKING, Stage.RESOLVED),
            schemas.InspectionRequest,
            flags=("confirmed",),
        ),
        Action(
            "hand-over",
            "Hand over to a successor",
            STAFF,
            lambda i: i.leader is not None and _not_closed(i),
            schemas.HandOverRequest,
        ),
        Action(
            "pause",
            "Pause the clock",
            STAFF,
            lambda i: _working(i) and i.paused_since is None,
            schemas.ReasonRequest,
        ),
        Action(
            "resume",
            "Resume the clock",
            STAFF,
            lambda i: i.paused_since is not None and _not_closed(i),
            schemas.Empty,
        ),
        Action(
            "close-fixed",
            "Close as fixed at once",
            STAFF,
            lambda i: i.stage == Stage.RESOLVED and i.horizon == Horizon.IMMEDIATE,
            schemas.NoteRequest,
        ),
        Action(
            "disclosures",
            "Publish on the register",
            STAFF,
            _not_closed,
            schemas.DiscloseRequest,
            lists={"fields": "many"},
        ),
        Action(
            "assign",
            "Assign the leader",
            SUPERVISORS,
            lambda i: i.stage == Stage.OPENED and i.leader is None,
            schemas.AssignLeaderRequest,
            lists={"goals": "lines", "measures": "lines"},
            dates=("deadline",),
        ),
        Action(
            "register-and-explain",
            "Register and explain",
            SUPERVISORS,
            lambda i: i.stage == Stage.OPENED,
            schemas.RegisterRequest,
            dates=("revisit_at",),
        ),
        Action("revisit", "Revisit", SUPERVISORS, lambda i: i.stage == Stage.REGISTERED, schemas.MeetingRef),
        Action(
            "extend-deadline",
            "Extend the deadline",
            SUPERVISORS,
            _working,
            schemas.ExtendDeadlineRequest,
            dates=("deadline",),
        ),
        Action(
            "evaluations",
            "Record a verdict",
            SUPERVISORS,
            lambda i: i.stage == Stage.RESOLVED,
            schemas.EvaluationRequest,
        ),
        Action(
            "conclusion",
            "Conclude the evaluation",
            SUPERVISORS,
            lambda i: i.stage == Stage.RESOLVED and bool(i.evaluations),
            schemas.ConcludeRequest,
            dates=("new_deadline",),
        ),
        Action(
            "reopen",
            "Reopen",
            SUPERVISORS,
            lambda i: i.stage == Stage.CLOSED,
            schemas.ReopenRequest,
            dates=("deadline",),
        ),
    )
}


def act(page: Page, issue: Issue, action: Action, form: FormData, **extra: Any) -> dict[str, object]:
    """Validate the form with the API's schema and run the API's endpoint for `action` on `issue`,
    as loaded (not loaded again; a copy gone stale meanwhile costs the command a retry)."""
    body = action.body(page, form, **extra)
    endpoint = ENDPOINTS[f"/api/issues/{{ref}}/{action.name}"]
    return endpoint(ref=issue, svc=page.svc, who=page.who, body=body, key=idempotency_key(form))


# -- reading --------------------------------------------------------------------------------

SKIP = {"opinion_ids", "opinion_id", "number", "key", "lead_seconds", "index", "threshold", "paused_seconds"}
MOMENTS = {"deadline", "for_deadline", "previous", "revisit_at", "new_deadline"}


def describe(page: Page, event: dict[str, Any]) -> list[tuple[str, str]]:
    """The fields of a timeline event worth reading, labelled, in this language."""
    out: list[tuple[str, str]] = []
    for key, value in event["detail"].items():
        if key in SKIP or value in (None, [], {}, ""):
            continue
        if key == "published" and isinstance(value, dict):
            names = [page.t.label("field", k) for k in value if k != "number"]
            out.append((page.t.label("field", "fields"), ", ".join(names)))
        elif key in MOMENTS and isinstance(value, str) and value[:4].isdigit():
            out.append((page.t.label("field", key), page.day(value)))
        elif key in ("area", "level", "from_level", "to_level", "horizon", "verdict"):
            kind = "level" if key.endswith("level") else key
            out.append((page.t.label("field", key), page.t.label(kind, value)))
        elif key == "rate" and isinstance(value, int | float):
            out.append((page.t("Satisfaction"), f"{value:.0%}"))
        elif key == "counts" and isinstance(value, dict):
            out.append(
                (page.t("Votes"), ", ".join(f"{page.t.label('verdict', k)} {n}" for k, n in value.items()))
            )
        elif key == "confirmed":
            out.append((page.t.label("field", key), page.t("yes") if value else page.t("no")))
        elif isinstance(value, list):
            out.append((page.t.label("field", key), "; ".join(str(v) for v in value)))
        else:
            out.append((page.t.label("field", key), str(value)))
    return out


def meeting_label(page: Page, meeting_id: str, cache: dict[str, str]) -> str:
    if meeting_id not in cache:
        try:
            meeting = page.svc.workflow.get_meeting(UUID(meeting_id))
            cache[meeting_id] = page.t(
                "{kind} of {unit}, {day}",
                kind=page.t.label("meeting", meeting.kind),
                unit=meeting.unit,
                day=page.day(meeting.held_at),
            )
        except (CaselineError, ValueError):
            cache[meeting_id] = meeting_id[:8]
    return cache[meeting_id]


def opinions_of(page: Page, issue: Issue) -> list[dict[str, Any]]:
    """The voices merged into the item, whether each reporter heard back; contacts for supervisors."""
    found = []
    supervisor = page.who.role in SUPERVISORS
    for opinion_id in issue.opinion_ids[:200]:
        opinion = page.svc.workflow.get_opinion(opinion_id)
        contact = page.svc.workflow.contact(opinion.id) if supervisor else None
        found.append(
            {
                "id": str(opinion.id), "kind": opinion.kind, "channel": opinion.channel, "unit": opinion.unit,
                "place": opinion.place, "text": opinion.text, "recorder": opinion.recorder,
                "route": opinion.route, "answers": opinion.answers, "answered": opinion.answered,
                "recorded": opinion.created_on, "contact": contact,
            }
        )  # fmt: skip
    return found


def issue_page(page: Page, ref: str, status: int = 200, **context: Any) -> Response:
    who = page.require(*STAFF)
    issue = reachable_issue(page.svc, who, ref)
    history = trail(page.svc.workflow.history(issue.id))
    labels: dict[str, str] = {}
    events = [
        {
            **row,
            "meeting": meeting_label(page, row["meeting_id"], labels) if row["meeting_id"] else "",
            "facts": describe(page, row),
        }
        for row in history["events"]
    ]
    actions = [a for a in ACTIONS.values() if who.role in a.roles and a.when(issue)]
    return page.render(
        "issue.html",
        status,
        issue=issue,
        overdue=issue.is_overdue(page.now()),
        events=events,
        leaders=history["leaders"],
        missed=history["missed_deadlines"],
        opinions=opinions_of(page, issue),
        actions=actions,
        names={a.name for a in actions},
        answer_opinions=who.role in STAFF,  # the outcome is fed back after closing too
        disclosable=DISCLOSABLE_FIELDS,
        verdicts=list(Verdict),
        rate=issue.satisfaction() if issue.evaluations else None,
        target=page.svc.settings.satisfaction_target,
        failed=context.pop("failed", ""),
        values=context.pop("values", {}),
        **context,
    )


DONE = {name: a.title for name, a in ACTIONS.items()} | {
    "answer": "Answer the reporter",
    "coordination-answer": "Answer the coordination request",
}


@router.get("/issues/{ref}")
def show(
    ref: str,
    page: PageDep,
    done: Annotated[str | None, Query(max_length=40)] = None,
    wait: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    page.require(*STAFF)
    wait_for(page.svc, wait)
    flash = page.t("Saved: {what}.", what=page.t(DONE[done])) if done in DONE else None
    return issue_page(page, ref[:40], flash=flash)


def _submit(
    page: Page, number: str, what: str, form: FormData, command: Callable[[], dict[str, object]]
) -> Response:
    """Run a form's command and go to the item's timeline; a refusal (a value the API's schema
    rejects, or a rule of the domain) comes back as the item's page with the message and the form
    filled in again."""
    try:
        answer = command()
    except ValidationError as error:
        status, message = 422, problem(page, error)
    except CaselineError as error:
        status, message = status_for(error), page.refusal(error)
    else:
        position = answer.get("position")
        wait = f"&wait={position}" if isinstance(position, int) else ""
        return page.redirect(f"/issues/{number}?done={what}{wait}#timeline")
    return issue_page(page, number, status, error=message, failed=what, values=refill(form))


@router.post("/issues/{ref}/do/{name}")
def do(ref: str, name: str, page: PageDep, form: FormDep) -> Response:
    who = page.require(*STAFF)
    page.check(form)
    action = ACTIONS.get(name)
    if action is None:
        raise PageError(404, page.t("There is no such action."))
    issue = reachable_issue(page.svc, who, ref[:40])
    return _submit(page, issue.number, name, form, lambda: act(page, issue, action, form))


@router.post("/issues/{ref}/opinions/{opinion_id}/answer")
def answer(ref: str, opinion_id: UUID, page: PageDep, form: FormDep) -> Response:
    """Record the feedback a reporter received (the JSON API's answer endpoint)."""
    who = page.require(*STAFF)
    page.check(form)
    issue = reachable_issue(page.svc, who, ref[:40])

    def command() -> dict[str, object]:
        body = schemas.AnswerRequest.model_validate(fields(form, schemas.AnswerRequest))
        return answer_opinion_on(opinion_id, body, page.svc, who, idempotency_key(form), issue)

    return _submit(page, issue.number, "answer", form, command)


@router.post("/issues/{ref}/coordination/{index}/answer")
def answer_coordination(ref: str, index: int, page: PageDep, form: FormDep) -> Response:
    who = page.require(*STAFF)
    page.check(form)
    issue = reachable_issue(page.svc, who, ref[:40])

    def command() -> dict[str, object]:
        body = schemas.CoordinationAnswer.model_validate(fields(form, schemas.CoordinationAnswer))
        return api_issues.answer_coordination_on(issue, index, body, page.svc, who, idempotency_key(form))

    return _submit(page, issue.number, "coordination-answer", form, command)


# -- replay ---------------------------------------------------------------------------------

FACT_TITLES = {
    "stage": "Stage", "level": "Level", "leader": "Leader", "department": "Department",
    "deadline": "Deadline",
    "overdue": "Overdue", "committee": "On the standing committee's list", "paused": "Clock paused",
    "progress": "Last progress", "resolution": "Resolution", "evaluations": "Verdicts this round",
    "outcome": "Outcome", "opinions": "Voices merged",
}  # fmt: skip
FACTS = tuple(FACT_TITLES)


def facts(page: Page, issue: Issue, moment: datetime) -> dict[str, str]:
    """What a supervisor compares between two moments, as displayed."""
    t = page.t
    return {
        "stage": t.label("stage", issue.stage),
        "level": t.label("level", issue.level),
        "leader": issue.leader or "—",
        "department": issue.department or "—",
        "deadline": page.day(issue.deadline) or "—",
        "overdue": t("yes") if issue.is_overdue(moment) else t("no"),
        "committee": t("yes") if issue.on_committee_list else t("no"),
        "paused": t("yes") if issue.paused_since is not None else t("no"),
        "progress": issue.last_progress or "—",
        "resolution": issue.resolution or "—",
        "evaluations": (
            f"{len(issue.evaluations)} ({issue.satisfaction():.0%})" if issue.evaluations else "0"
        ),
        "outcome": issue.outcome or "—",
        "opinions": str(len(issue.opinion_ids)),
    }


def _moment(
    page: Page, issue: Issue, history: list[CaselineAggregate.Event], version: int | None, at: str | None
) -> dict[str, Any]:
    latest = len(history)
    try:
        if at:
            try:
                moment = page.local_input(at)
            except ValueError:
                return {"error": page.t("That moment cannot be read; use the date and time picker.")}
            state = page.svc.workflow.issue_at(issue.id, at=moment, history=history)
        else:
            chosen = min(max(1, version or latest), latest)
            state = page.svc.workflow.issue_at(issue.id, version=chosen, history=history)
            moment = history[chosen - 1].timestamp
    except CaselineError as error:
        return {"error": page.refusal(error)}
    return {"version": state.version, "moment": moment, "facts": facts(page, state, moment), "at": at or ""}


@router.get("/issues/{ref}/replay")
def replay(
    ref: str,
    page: PageDep,
    a: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    at_a: Annotated[str | None, Query(max_length=40)] = None,
    compare: Annotated[str | None, Query(max_length=5)] = None,
    b: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    at_b: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The item as it stood at a version or a moment; with `compare`, two moments side by side."""
    who = page.require(*SUPERVISORS)
    # One read of the item's events: its state now (for the reach check) and at each moment are
    # folded from them.
    history = page.svc.workflow.history(ref[:40])
    issue = reachable_issue(page.svc, who, page.svc.workflow.issue_at(ref[:40], history=history))
    first = _moment(page, issue, history, a, at_a)
    second = _moment(page, issue, history, b or 1, at_b) if compare else None
    changed = set()
    if second and "facts" in first and "facts" in second:
        changed = {k for k in FACTS if first["facts"][k] != second["facts"][k]}
    return page.render(
        "replay.html",
        issue=issue,
        history=[
            {"version": e.originator_version, "at": e.timestamp, "event": type(e).__name__} for e in history
        ],
        latest=len(history),
        first=first,
        second=second,
        compare=bool(compare),
        facts_order=FACTS,
        fact_titles=FACT_TITLES,
        changed=changed,
        a=first.get("version", a or len(history)),
        b=second.get("version", b or 1) if second else (b or 1),
    )
