"""The Open311 read model: one row per request submitted through Open311, and the public
state of every issue, so `GET requests` is one indexed query instead of two aggregate loads
per row.

Why a view of its own rather than composing the board, the feedback tracker and the
register: Open311 filters by status and pages in SQL, and status depends on the opinion
(route, answers, merged issue) *and* its issue's stage; the feedback tracker drops answered
opinions' detail and the board has no opinion rows, so a join over them would still need the
request's location and media, which no other view keeps. Keeping it here also keeps the
public surface narrow and auditable: every column below is either something the submitter
sent to an endpoint whose specification says it is published (location, `media_url`, and
only when the gateway marked them publishable) or a field an officer *disclosed* (title,
department, deadline, notes — read from `Issue.Disclosed` exactly like the register).
Nothing else — no opinion text, no contact, no attribute answers — is ever stored here.

How the gateway talks to this view without a store of its own: `api/open311.py` records the
opinion with `recorder="open311"` and ends its (private) text with one line,
`[open311] {"details": …, "listed": …, "media_url": …, "address_id": …}` (JSON, so it is
always a single line however the description and attributes above it are written). Only
that line is parsed; the text itself is never kept. A missing or malformed line fails safe:
the request is neither listed before triage nor shows location or media.

Tokens are derived from the opinion id (`token_for`), so no table maps them either: the
view stores the token beside the id it came from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.store import ViewDB, iso
from projections.view import Names, Rows, View, ViewState, topic

RECORDER = "open311"
CHANNEL = "online"
MARKER = "[open311] "
MAX_PAGE_SIZE = 1000

REQUESTS = """
CREATE TABLE IF NOT EXISTS {open311_requests} (
    opinion_id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    service_code TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    listed INTEGER NOT NULL,
    route TEXT,
    answers INTEGER NOT NULL DEFAULT 0,
    issue_id TEXT,
    address TEXT,
    address_id TEXT,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    media_url TEXT
)"""

ISSUES = """
CREATE TABLE IF NOT EXISTS {open311_issues} (
    issue_id TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    stage_at TEXT NOT NULL,
    title TEXT,
    department TEXT,
    deadline TEXT,
    notes TEXT,
    disclosed_at TEXT
)"""

INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_open311_token ON {open311_requests} (token)",
    "CREATE INDEX IF NOT EXISTS ix_open311_recorded ON {open311_requests} (recorded_at)",
    "CREATE INDEX IF NOT EXISTS ix_open311_issue ON {open311_requests} (issue_id)",
]

# Which disclosed field explains the state best, most telling first.
NOTE_FIELDS = ("outcome", "resolution", "progress", "note")


def service_code(kind: str, area: str) -> str:
    """The stable Open311 service code of a kind of voice in an area, e.g. `difficulty-security`."""
    return f"{kind}-{area}"


def token_for(opinion_id: UUID) -> str:
    """The Open311 token of a request: derived from its opinion id, so nothing needs storing."""
    return hashlib.sha256(b"caseline/open311/token/" + opinion_id.bytes).hexdigest()[:32]


def trailer(*, listed: bool, details: bool, media_url: str | None, address_id: str | None) -> str:
    """The last line the gateway appends to an Open311 opinion's text (see the module docstring)."""
    fields = {"address_id": address_id, "details": details, "listed": listed, "media_url": media_url}
    return MARKER + json.dumps(fields, sort_keys=True, ensure_ascii=True)


def read_trailer(text: str) -> dict[str, Any]:
    """The gateway's fields from an opinion's text; the fail-safe defaults when absent or malformed."""
    safe: dict[str, Any] = {"listed": False, "details": False, "media_url": None, "address_id": None}
    last = text.rsplit("\n", 1)[-1]
    if not last.startswith(MARKER):
        return safe
    try:
        found = json.loads(last[len(MARKER) :])
    except ValueError:
        return safe
    if not isinstance(found, dict):
        return safe
    out = dict(safe)
    for flag in ("listed", "details"):
        out[flag] = found.get(flag) is True
    for name in ("media_url", "address_id"):
        value = found.get(name)
        out[name] = value if isinstance(value, str) and value else None
    return out


# -- handlers ---------------------------------------------------------------------------------


REQUEST_COLUMNS = (
    "opinion_id", "token", "service_code", "recorded_at", "updated_at", "listed", "route", "answers",
    "issue_id", "address", "address_id", "latitude", "longitude", "media_url",
)  # fmt: skip
ISSUE_COLUMNS = ("issue_id", "stage", "stage_at", "title", "department", "deadline", "notes", "disclosed_at")


class State(ViewState):
    """Open311 requests (keyed by opinion) and issues' public state (keyed by issue)."""

    def __init__(self, t: Names) -> None:
        self.requests = Rows(t["open311_requests"], "opinion_id", REQUEST_COLUMNS, "Opinion")
        self.issues = Rows(t["open311_issues"], "issue_id", ISSUE_COLUMNS, "Issue")
        self.rows = (self.requests, self.issues)


def recorded(state: State, event: Any, key: str) -> None:
    if event.recorder != RECORDER or event.channel != CHANNEL:
        return
    fields = read_trailer(event.text)
    details = fields["details"]
    at = iso(event.timestamp)
    state.requests.add(
        {
            "opinion_id": key, "token": token_for(event.originator_id),
            "service_code": service_code(event.kind, event.area), "recorded_at": at, "updated_at": at,
            "listed": 1 if fields["listed"] else 0, "route": None, "answers": 0, "issue_id": None,
            "address": event.place if details else None,
            "address_id": fields["address_id"] if details else None,
            "latitude": event.latitude if details else None,
            "longitude": event.longitude if details else None,
            "media_url": fields["media_url"] if details else None,
        }
    )  # fmt: skip


# Most opinions do not come through Open311 and have no row here: each handler looks first, before
# formatting a time or an id for a row that is not there.


def routed(state: State, event: Any, key: str) -> None:
    if state.requests.get(key) is not None:
        state.requests.change(key, route=event.route, updated_at=iso(event.timestamp))


def merged(state: State, event: Any, key: str) -> None:
    if state.requests.get(key) is not None:
        state.requests.change(key, issue_id=str(event.issue_id), updated_at=iso(event.timestamp))


def answered(state: State, event: Any, key: str) -> None:
    row = state.requests.get(key)
    if row is not None:
        state.requests.change(key, answers=row["answers"] + 1, updated_at=iso(event.timestamp))


def issue_opened(state: State, event: Any, key: str) -> None:
    if state.issues.get(key) is None:
        state.issues.add(
            {
                "issue_id": key, "stage": "opened", "stage_at": iso(event.timestamp), "title": None,
                "department": None, "deadline": None, "notes": None, "disclosed_at": None,
            }
        )  # fmt: skip


def stage(value: str) -> Any:
    """A handler that moves the issue to `value` (only the moves that open or close requests)."""

    def handler(state: State, event: Any, key: str) -> None:
        state.issues.change(key, stage=value, stage_at=iso(event.timestamp))

    return handler


def disclosed(state: State, event: Any, key: str) -> None:
    """Only what the disclosure published: later disclosures update the fields they publish."""
    published: dict[str, str] = event.published
    values: dict[str, Any] = {"disclosed_at": iso(event.timestamp)}
    for column in ("title", "department", "deadline"):
        if column in published:
            values[column] = published[column]
    note = next((published[name] for name in NOTE_FIELDS if name in published), None)
    if note is not None:
        values["notes"] = note
    state.issues.change(key, **values)


VIEW = View(
    name="open311",
    tables={"open311_requests": REQUESTS, "open311_issues": ISSUES},
    state=State,
    indexes=INDEXES,
    handlers={
        topic("Opinion", "Recorded"): recorded,
        topic("Opinion", "Routed"): routed,
        topic("Opinion", "Merged"): merged,
        topic("Opinion", "Answered"): answered,
        topic("Issue", "Opened"): issue_opened,
        topic("Issue", "Closed"): stage("closed"),
        topic("Issue", "ClosedAsFixed"): stage("closed"),
        topic("Issue", "Reopened"): stage("in_progress"),
        topic("Issue", "RegisteredAndExplained"): stage("registered"),
        topic("Issue", "Revisited"): stage("opened"),
        topic("Issue", "Disclosed"): disclosed,
    },
)


# -- queries ----------------------------------------------------------------------------------

# The status mapping (docs/open311.md): a request merged into an issue follows the issue —
# closed when the issue is closed, or registered-and-explained and the reporter has heard the
# explanation; a request not merged is closed once it is routed "fix at once" or "register
# and explain" and its reporter has been answered. Everything else is open.
STATUS_SQL = """
CASE
    WHEN o.issue_id IS NOT NULL THEN
        CASE WHEN i.stage = 'closed' OR (i.stage = 'registered' AND o.answers > 0)
             THEN 'closed' ELSE 'open' END
    WHEN o.route IN ('fix_at_once', 'register_and_explain') AND o.answers > 0 THEN 'closed'
    ELSE 'open'
END"""

# Listed: public at once (a key-holder's request to a realtime service), or triaged since.
LISTED_SQL = "(o.listed = 1 OR o.route IS NOT NULL OR o.issue_id IS NOT NULL)"

COLUMNS = (
    "service_request_id", "token", "service_code", "requested_at", "updated_at", "address", "address_id",
    "latitude", "longitude", "media_url", "status", "stage_at", "title", "department", "deadline", "notes",
    "disclosed_at", "listed",
)  # fmt: skip

SELECT = f"""
SELECT o.opinion_id, o.token, o.service_code, o.recorded_at, o.updated_at, o.address, o.address_id,
       o.latitude, o.longitude, o.media_url, {STATUS_SQL} AS status, i.stage_at, i.title, i.department,
       i.deadline, i.notes, i.disclosed_at, {LISTED_SQL} AS listed
FROM open311_requests o LEFT JOIN open311_issues i ON i.issue_id = o.issue_id"""


@dataclass(frozen=True)
class RequestFilter:
    """GET requests' filters, already validated; None means "any"."""

    ids: tuple[str, ...] | None = None
    codes: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None


def _rows(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        found = dict(zip(COLUMNS, row, strict=True))
        found["listed"] = bool(found["listed"])
        out.append(found)
    return out


def find_requests(
    db: ViewDB, where: RequestFilter, *, page: int = 1, page_size: int = MAX_PAGE_SIZE
) -> list[dict[str, Any]]:
    """Listed requests matching the filter, newest first (ids break ties), one page of them."""
    clauses = [LISTED_SQL]
    params: list[Any] = []
    if where.ids is not None:
        clauses.append(f"o.opinion_id IN ({', '.join('?' for _ in where.ids)})")
        params += where.ids
    if where.codes is not None:
        clauses.append(f"o.service_code IN ({', '.join('?' for _ in where.codes)})")
        params += where.codes
    if where.start is not None:
        clauses.append("o.recorded_at >= ?")
        params.append(iso(where.start))
    if where.end is not None:
        clauses.append("o.recorded_at <= ?")
        params.append(iso(where.end))
    if where.statuses is not None:
        clauses.append(f"({STATUS_SQL}) IN ({', '.join('?' for _ in where.statuses)})")
        params += where.statuses
    page = max(1, page)
    page_size = min(max(1, page_size), MAX_PAGE_SIZE)
    with db.read() as tx:
        rows = tx.fetchall(
            f"{SELECT} WHERE {' AND '.join(clauses)} "
            "ORDER BY o.recorded_at DESC, o.opinion_id LIMIT ? OFFSET ?",
            [*params, page_size, (page - 1) * page_size],
        )
    return _rows(rows)


def request_by_token(db: ViewDB, token: str) -> dict[str, Any] | None:
    """The request a token was given for, listed or not (the caller decides what to reveal)."""
    with db.read() as tx:
        rows = tx.fetchall(f"{SELECT} WHERE o.token = ?", [token])
    found = _rows(rows)
    return found[0] if found else None
