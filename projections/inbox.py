"""The inbox: one row per notification, for the person or group who must act on it.

| event                              | recipients                                      | kind       |
|------------------------------------|-------------------------------------------------|------------|
| Issue.ReminderDue                  | the leader                                      | reminder   |
| Issue.Escalated                    | `supervisors/<new level>`, and the leader       | escalation |
| Issue.ReferredToStandingCommittee  | `standing-committee`, and the leader            | committee  |
| Duty.Raised                        | `unit/<unit>`, and each recorder nudged         | duty       |

A row's key is the event's (originator id, version) plus the recipient, so a notification
exists once per event and recipient however often the view is rebuilt, and e-mail delivery
can be made idempotent per row. Messages are built from issue numbers, levels, deadlines and
officials' names only: never a resident's name, contact or words (the events carry none).
The view keeps its own issue id -> number map, so it reads no other view's tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.errors import utc_text
from projections.store import ViewDB, from_iso, iso
from projections.view import Appends, Names, Rows, View, ViewState, chunks, topic

INBOX = """
CREATE TABLE IF NOT EXISTS {inbox} (
    key TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_version INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    issue_id TEXT,
    number TEXT,
    for_deadline TEXT,
    lead_seconds INTEGER,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL
)"""

ISSUES = """
CREATE TABLE IF NOT EXISTS {inbox_issues} (
    issue_id TEXT PRIMARY KEY,
    number TEXT NOT NULL
)"""

INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_inbox_recipient ON {inbox} (recipient, created_at)",
    "CREATE INDEX IF NOT EXISTS ix_inbox_created ON {inbox} (created_at)",
    "CREATE INDEX IF NOT EXISTS ix_inbox_issue ON {inbox} (issue_id, kind, for_deadline)",
    "CREATE INDEX IF NOT EXISTS ix_inbox_event ON {inbox} (event_id)",
]

COLUMNS = (
    "key", "event_id", "event_version", "recipient", "kind", "issue_id", "number", "for_deadline",
    "lead_seconds", "message", "created_at",
)  # fmt: skip
SUPERVISORS = "supervisors/"
COMMITTEE = "standing-committee"
UNIT = "unit/"


def _lead(seconds: int) -> str:
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


class State(ViewState):
    """Issue numbers (for the messages) and the notifications."""

    def __init__(self, t: Names) -> None:
        self.issues = Rows(t["inbox_issues"], "issue_id", ("issue_id", "number"), "Issue")
        self.inbox = Appends(t["inbox"], COLUMNS, ignore="key")
        self.rows = (self.issues,)
        self.appends = (self.inbox,)

    def number(self, issue_id: str) -> str | None:
        row = self.issues.get(issue_id)
        return None if row is None else str(row["number"])

    def notify(
        self,
        event: Any,
        event_id: str,
        recipient: str,
        kind: str,
        message: str,
        *,
        issue_id: str | None = None,
        number: str | None = None,
        for_deadline: datetime | None = None,
        lead_seconds: int | None = None,
    ) -> None:
        self.inbox.add(
            (
                f"{event_id}/{event.originator_version}/{recipient}", event_id, event.originator_version,
                recipient, kind, issue_id, number, iso(for_deadline), lead_seconds, message,
                iso(event.timestamp),
            )
        )  # fmt: skip


def opened(state: State, event: Any, key: str) -> None:
    if state.issues.get(key) is None:
        state.issues.add({"issue_id": key, "number": event.number})


def reminder_due(state: State, event: Any, key: str) -> None:
    number = state.number(key)
    message = (
        f"Reminder: issue {number} you lead is due {utc_text(event.for_deadline)} "
        f"({_lead(event.lead_seconds)} before the deadline)."
    )
    state.notify(
        event, key, event.leader, "reminder", message, issue_id=key, number=number,
        for_deadline=event.for_deadline, lead_seconds=event.lead_seconds,
    )  # fmt: skip


def escalated(state: State, event: Any, key: str) -> None:
    number = state.number(key)
    missed = utc_text(event.for_deadline)
    new = utc_text(event.deadline)
    to_supervisors = (
        f"Issue {number} escalated from {event.from_level} to {event.to_level} level: its deadline {missed} "
        f"passed. New deadline {new}; {event.leader} stays the accountable leader."
    )
    to_leader = (
        f"Issue {number} you lead escalated from {event.from_level} to {event.to_level} level: its deadline "
        f"{missed} passed. New deadline {new}; you stay accountable."
    )
    common: dict[str, Any] = {"issue_id": key, "number": number, "for_deadline": event.for_deadline}
    state.notify(event, key, f"{SUPERVISORS}{event.to_level}", "escalation", to_supervisors, **common)
    state.notify(event, key, event.leader, "escalation", to_leader, **common)


def referred(state: State, event: Any, key: str) -> None:
    number = state.number(key)
    missed = utc_text(event.for_deadline)
    to_committee = (
        f"Issue {number} is on the standing committee's list: its deadline {missed} passed at the top "
        f"level. {event.leader} stays the accountable leader."
    )
    to_leader = (
        f"Issue {number} you lead went to the standing committee's list: its deadline {missed} passed "
        "at the top level."
    )
    common: dict[str, Any] = {"issue_id": key, "number": number, "for_deadline": event.for_deadline}
    state.notify(event, key, COMMITTEE, "committee", to_committee, **common)
    state.notify(event, key, event.leader, "committee", to_leader, **common)


DUTY_TITLES = {
    "analysis_meeting": "Hold the analysis meeting",
    "feedback_cycle": "Run the feedback cycle (collect, report, handle, feed back)",
    "evaluation_meeting": "Hold the evaluation meeting",
}


def duty_raised(state: State, event: Any, key: str) -> None:
    title = DUTY_TITLES.get(event.kind, event.kind)
    due = utc_text(event.due_by)
    waiting = sum(len(ids) for ids in event.unanswered.values())
    for recipient in event.recipients:
        if recipient in event.unanswered:
            count = len(event.unanswered[recipient])
            message = (
                f"Feedback cycle {event.period} of {event.unit}: {count} opinion{'s' if count != 1 else ''} "
                f"you recorded {'are' if count != 1 else 'is'} still unanswered; answer by {due}."
            )
        else:
            message = f"{title} of {event.unit} for {event.period}, by {due}."
            if event.kind == "feedback_cycle":
                message += f" {waiting} opinion{'s' if waiting != 1 else ''} still unanswered."
        state.notify(event, key, recipient, "duty", message, for_deadline=event.due_by)


VIEW = View(
    name="inbox",
    tables={"inbox": INBOX, "inbox_issues": ISSUES},
    state=State,
    indexes=INDEXES,
    handlers={
        topic("Issue", "Opened"): opened,
        topic("Issue", "ReminderDue"): reminder_due,
        topic("Issue", "Escalated"): escalated,
        topic("Issue", "ReferredToStandingCommittee"): referred,
        topic("Duty", "Raised"): duty_raised,
    },
)


# -- queries ----------------------------------------------------------------------------------


def _rows(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def inbox(db: ViewDB, recipient: str, *, limit: int = 50, before: str | None = None) -> list[dict[str, Any]]:
    """A recipient's notifications, newest first; page with `before` (the last row's created_at)."""
    clause, params = ("AND created_at < ?", [before]) if before else ("", [])
    with db.read() as tx:
        rows = tx.fetchall(
            f"SELECT {', '.join(COLUMNS)} FROM inbox WHERE recipient = ? {clause} "
            "ORDER BY created_at DESC, key DESC LIMIT ?",
            [recipient, *params, max(1, min(limit, 500))],
        )
    return _rows(rows)


def notifications_since(db: ViewDB, since: datetime, *, limit: int = 1000) -> list[dict[str, Any]]:
    """Every notification created at or after `since`, oldest first."""
    with db.read() as tx:
        rows = tx.fetchall(
            f"SELECT {', '.join(COLUMNS)} FROM inbox WHERE created_at >= ? ORDER BY created_at, key LIMIT ?",
            [iso(since), limit],
        )
    return _rows(rows)


def raised_duties(db: ViewDB, duty_ids: Sequence[str]) -> set[str]:
    """Which of these duties the inbox already shows as raised."""
    found: set[str] = set()
    ids = list(dict.fromkeys(duty_ids))
    with db.read() as tx:
        for part in chunks(ids):
            marks = ", ".join("?" * len(part))
            rows = tx.fetchall(
                f"SELECT DISTINCT event_id FROM inbox WHERE kind = 'duty' AND event_id IN ({marks})", part
            )
            found.update(str(row[0]) for row in rows)
    return found


def known_units(db: ViewDB) -> list[str]:
    """Every unit the board or the feedback tracker has seen, sorted."""
    with db.read() as tx:
        rows = tx.fetchall(
            "SELECT unit FROM board WHERE unit IS NOT NULL "
            "UNION SELECT unit FROM opinions WHERE unit IS NOT NULL"
        )
    return sorted({str(row[0]) for row in rows})


def created_at(row: dict[str, Any]) -> datetime:
    """A row's creation moment as a datetime."""
    moment = from_iso(row["created_at"])
    assert moment is not None
    return moment
