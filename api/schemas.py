"""Request and response schemas, one per use; never the stored events (those outlive the API).

Every model forbids unknown fields (mass assignment answers 422) and bounds every string,
number and list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from domain.rules import (
    DISCLOSABLE_FIELDS,
    MAX_LIST,
    MAX_NAME,
    MAX_TEXT,
    MAX_TITLE,
    Area,
    Channel,
    Horizon,
    Kind,
    Level,
    MeetingKind,
    Role,
    Route,
    Verdict,
)
from projections.open311 import RECORDER

# Text must hold a character that is not white space: the domain strips and refuses blanks, so
# the schema says so too (a "\r" is not a note). Spelled out because engines disagree on \s:
# Python's strip also drops \x1c-\x1f, pydantic's (Rust) and Python's drop \x85, which
# ECMAScript's \s (what clients validate with) lacks; the class excludes all of them.
NOT_BLANK = r"[^\s\x1c-\x1f\x85\ufeff]"
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=NOT_BLANK)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE, pattern=NOT_BLANK)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=NOT_BLANK)]
Place = Annotated[str, Field(min_length=1, max_length=2 * MAX_NAME, pattern=NOT_BLANK)]
# Strict: JSON `false` is not a longitude, nor `"yes"` a boolean.
Latitude = Annotated[float, Field(ge=-90, le=90, strict=True)]
Longitude = Annotated[float, Field(ge=-180, le=180, strict=True)]
Disclosable = Literal[
    "title", "area", "level", "leader", "department", "goals", "measures", "deadline", "progress",
    "resolution", "outcome",
]  # fmt: skip
assert set(get_args(Disclosable)) == set(DISCLOSABLE_FIELDS), "keep in step with domain.rules"
Texts = Annotated[list[Text], Field(min_length=1, max_length=MAX_LIST)]
Names = Annotated[list[Name], Field(min_length=1, max_length=MAX_LIST)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ContactIn(Strict):
    """A reporter's contact: personal data, stored outside the log, shown to supervisors only."""

    name: Name | None = None
    phone: Annotated[str, Field(min_length=1, max_length=40, pattern=NOT_BLANK)] | None = None
    address: Place | None = None


class OpinionCreate(Strict):
    kind: Kind
    area: Area
    channel: Channel
    unit: Name
    text: Text
    recorder: Name | None = Field(
        None,
        description=f"Who recorded it (default: the caller); '{RECORDER}' is reserved for that channel.",
        json_schema_extra={"not": {"const": RECORDER}},
    )

    @field_validator("recorder")
    @classmethod
    def _not_reserved(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() == RECORDER:
            raise ValueError(f"'{RECORDER}' is reserved for requests that came through Open311")
        return value

    place: Place | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    contact: ContactIn | None = None


class PublicOpinionCreate(Strict):
    """What anyone may submit through the public form: no recorder, channel fixed to online."""

    kind: Kind
    area: Area
    unit: Name
    text: Text
    place: Place | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    contact: ContactIn | None = None


class RouteRequest(Strict):
    route: Route
    reason: Text
    meeting_id: UUID | None = None


class AnswerRequest(Strict):
    feedback: Text
    by: Name | None = None


class IssueCreate(Strict):
    title: Title
    area: Area
    level: Level
    horizon: Horizon
    description: Text | None = None
    unit: Name | None = None
    opinion_ids: Annotated[list[UUID], Field(max_length=MAX_LIST)] = []
    meeting_id: UUID | None = None


class MergeRequest(Strict):
    opinion_ids: Annotated[list[UUID], Field(min_length=1, max_length=MAX_LIST)]
    meeting_id: UUID | None = None


class AssignLeaderRequest(Strict):
    leader: Name
    department: Name
    goals: Texts
    measures: Texts
    deadline: AwareDatetime
    meeting_id: UUID | None = None


class HandOverRequest(Strict):
    to: Name
    reason: Text
    meeting_id: UUID | None = None


class ExtendDeadlineRequest(Strict):
    deadline: AwareDatetime
    reason: Text
    approver: Name


class NoteRequest(Strict):
    note: Text


class ReasonRequest(Strict):
    reason: Text


class CoordinationRequest(Strict):
    department: Name
    request: Text


class CoordinationAnswer(Strict):
    answer: Text


class InspectionRequest(Strict):
    inspector: Name
    findings: Text
    confirmed: Annotated[bool, Field(strict=True)]


class DiscloseRequest(Strict):
    fields: Annotated[list[Disclosable], Field(max_length=len(DISCLOSABLE_FIELDS))] = []
    where: Name
    note: Text | None = None


class ResolutionRequest(Strict):
    summary: Text


class EvaluationRequest(Strict):
    evaluator: Name
    verdict: Verdict
    comment: Text | None = None
    meeting_id: UUID | None = None


class ConcludeRequest(Strict):
    new_deadline: AwareDatetime | None = None
    meeting_id: UUID | None = None


class ReopenRequest(Strict):
    reason: Text
    deadline: AwareDatetime


class RegisterRequest(Strict):
    explanation: Text
    revisit_at: AwareDatetime
    meeting_id: UUID | None = None


class MeetingRef(Strict):
    meeting_id: UUID | None = None


class Empty(Strict):
    pass


class MeetingCreate(Strict):
    kind: MeetingKind
    unit: Name
    held_at: AwareDatetime
    attendees: Names
    title: Title


class DecisionRequest(Strict):
    decision: Text
    issue: Annotated[str, Field(min_length=1, max_length=40, pattern=NOT_BLANK)] | None = None


class AccountCreate(Strict):
    # Passwords are taken exactly as typed: no stripping of leading or trailing spaces.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    name: Name
    role: Role
    department: Name | None = None
    password: Annotated[str, Field(min_length=12, max_length=200)] | None = None


class CommandAnswer(BaseModel):
    """What every command answers; `position` lets a query wait for the views to include it."""

    id: UUID
    version: int
    number: str | None = None
    position: int | None = None
    changed: bool
    detail: dict[str, Any] = {}


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ErrorBody(BaseModel):
    """Every error: a stable code and a message a clerk can read."""

    code: str
    message: str


class Problem(BaseModel):
    """One field a request got wrong: where (`loc`), what (`msg`) and the kind of problem (`type`)."""

    type: str
    loc: list[str | int]
    msg: str


class InvalidBody(ErrorBody):
    """A 422: the request (or a value the domain refuses) is invalid; `detail` lists the fields."""

    detail: list[Problem] = []


class IssuePublic(BaseModel):
    """An issue's state as officers and supervisors see it."""

    id: UUID
    number: str
    version: int
    title: str
    area: str
    level: str
    horizon: str
    unit: str | None
    stage: str
    leader: str | None
    department: str | None
    goals: list[str]
    measures: list[str]
    deadline: datetime | None
    paused: bool
    on_committee_list: bool
    opinion_ids: list[UUID]
    coordinations: list[dict[str, str | None]]
    last_progress: str | None
    resolution: str | None
    evaluations: int
    satisfaction: float | None
    outcome: str | None
    explanation: str | None
    revisit_at: datetime | None
    updated_at: datetime


class OpinionPublic(BaseModel):
    id: UUID
    kind: str
    area: str
    channel: str
    unit: str
    place: str | None
    text: str
    recorder: str
    route: str | None
    issue_id: UUID | None
    answers: list[str]
    contact: ContactIn | None = None


class EventOut(BaseModel):
    version: int
    at: datetime
    event: str
    fields: dict[str, Any]


class Paged(BaseModel):
    rows: list[dict[str, Any]]
    total: int
    counts: dict[str, int] = {}
    page: int
    page_size: int
