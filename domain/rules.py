"""The vocabulary of the domain (DOMAIN.md) and the checks shared by the aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from domain.errors import DeadlineInPastError, InvalidInputError

MAX_TITLE = 200
MAX_TEXT = 4000
MAX_NAME = 120
MAX_LIST = 200


class Kind(StrEnum):
    """The four things a visit log must always record, plus suggestions."""

    OPINION = "opinion"
    SUGGESTION = "suggestion"
    DIFFICULTY = "difficulty"
    DISPUTE = "dispute"
    DISASTER = "disaster"


class Area(StrEnum):
    """The six areas of satisfaction."""

    DEVELOPMENT = "development"
    ENVIRONMENT = "environment"
    SECURITY = "security"
    LIVELIHOOD = "livelihood"
    CULTURE = "culture"
    CONDUCT = "conduct"


class Channel(StrEnum):
    """How a voice reached the recorder."""

    HOUSEHOLD_VISIT = "household_visit"
    DOWN_VISIT = "down_visit"
    RECEPTION = "reception"
    HOTLINE = "hotline"
    ONLINE = "online"
    PROPOSAL = "proposal"
    SURVEY = "survey"


class Route(StrEnum):
    """What the analysis decided to do with an opinion."""

    FIX_AT_ONCE = "fix_at_once"
    COORDINATE = "coordinate"
    REGISTER_AND_EXPLAIN = "register_and_explain"


class Level(StrEnum):
    """The ladder an overdue issue climbs, lowest first."""

    GRID = "grid"
    VILLAGE = "village"
    TOWN = "town"
    DISTRICT = "district"

    def above(self) -> Level | None:
        """The next level up, or None at the top."""
        ladder = list(Level)
        index = ladder.index(self)
        return ladder[index + 1] if index + 1 < len(ladder) else None


class Horizon(StrEnum):
    """When an item can be solved."""

    IMMEDIATE = "immediate"
    NEAR = "near"
    MID = "mid"
    LONG = "long"


class Stage(StrEnum):
    """Where an issue is in its life; forward only, except reopen and revisit."""

    OPENED = "opened"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REGISTERED = "registered"


class Verdict(StrEnum):
    """A representative's evaluation of how an item was handled."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


class MeetingKind(StrEnum):
    """The meetings that move items along."""

    ANALYSIS = "analysis"
    ASSIGNMENT = "assignment"
    EVALUATION = "evaluation"
    HEARING = "hearing"


class Role(StrEnum):
    """Who may do what."""

    PUBLIC = "public"
    RECORDER = "recorder"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    SCHEDULER = "scheduler"


DISCLOSABLE_FIELDS = (
    "title",
    "area",
    "level",
    "leader",
    "department",
    "goals",
    "measures",
    "deadline",
    "progress",
    "resolution",
    "outcome",
)


@dataclass(frozen=True)
class Actor:
    """Who issues a command, and in which role."""

    name: str
    role: Role = Role.OFFICER

    def __post_init__(self) -> None:
        text(self.name, field="actor", limit=MAX_NAME)


E = TypeVar("E", bound=StrEnum)


def text(value: str, *, field: str, limit: int = MAX_TEXT) -> str:
    """Return `value` stripped, refusing empty or oversized text."""
    if not isinstance(value, str):
        raise InvalidInputError(field, "must be text")
    stripped = value.strip()
    if not stripped:
        raise InvalidInputError(field, "must not be empty")
    if len(stripped) > limit:
        raise InvalidInputError(field, f"must be at most {limit} characters")
    return stripped


def optional_text(value: str | None, *, field: str, limit: int = MAX_TEXT) -> str | None:
    """Like `text`, but None and blank mean "not given"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return text(value, field=field, limit=limit)


def texts(values: list[str], *, field: str, limit: int = MAX_TEXT) -> list[str]:
    """A bounded, non-empty list of non-empty texts."""
    if not values:
        raise InvalidInputError(field, "must list at least one entry")
    if len(values) > MAX_LIST:
        raise InvalidInputError(field, f"must list at most {MAX_LIST} entries")
    return [text(v, field=field, limit=limit) for v in values]


def choice(value: str, enum: type[E], *, field: str) -> E:
    """Return the enum member named by `value`, or say which values are allowed."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInputError(field, f"must be one of {allowed}") from None


def future(deadline: datetime, now: datetime, *, field: str = "deadline") -> datetime:
    """Refuse a deadline (or another future moment) that is not after `now`."""
    if deadline.tzinfo is None:
        raise InvalidInputError(field, "must carry a time zone")
    if deadline <= now:
        raise DeadlineInPastError(deadline)
    return deadline.astimezone(UTC)  # one zone in the log, whatever zone the client wrote
