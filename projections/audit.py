"""The audit trail: every event of every issue with actor, time, meeting and the leader in
charge at that moment; the chain of leaders with their intervals; and each missed deadline
attributed to whoever held the item when it passed."""

from __future__ import annotations

import json
from typing import Any

from projections.store import Tx, iso
from projections.view import Names, View, topic

_BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "meeting_id"}

TABLES = {
    "audit_events": """
CREATE TABLE IF NOT EXISTS {audit_events} (
    issue_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT,
    meeting_id TEXT,
    leader TEXT,
    detail TEXT NOT NULL,
    PRIMARY KEY (issue_id, version)
)""",
    "leader_terms": """
CREATE TABLE IF NOT EXISTS {leader_terms} (
    issue_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    leader TEXT NOT NULL,
    department TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    reason TEXT,
    PRIMARY KEY (issue_id, seq)
)""",
    "missed_deadlines": """
CREATE TABLE IF NOT EXISTS {missed_deadlines} (
    issue_id TEXT NOT NULL,
    deadline TEXT NOT NULL,
    leader TEXT NOT NULL,
    department TEXT,
    level TEXT NOT NULL,
    noticed_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (issue_id, deadline)
)""",
}

INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_terms_leader ON {leader_terms} (leader)",
    "CREATE INDEX IF NOT EXISTS ix_terms_department ON {leader_terms} (department)",
    "CREATE INDEX IF NOT EXISTS ix_missed_leader ON {missed_deadlines} (leader)",
]


def _detail(event: Any) -> str:
    fields = {k: v for k, v in vars(event).items() if k not in _BASE_FIELDS}
    return json.dumps(fields, default=str, ensure_ascii=False, sort_keys=True)


def _current_term(tx: Tx, t: Names, issue_id: str) -> tuple[int, str, str | None] | None:
    row = tx.fetchone(
        f"SELECT seq, leader, department FROM {t['leader_terms']} "
        "WHERE issue_id = ? AND ended_at IS NULL ORDER BY seq DESC LIMIT 1",
        [issue_id],
    )
    return None if row is None else (int(row[0]), str(row[1]), row[2])


def record(tx: Tx, event: Any, t: Names) -> None:
    """Every issue event becomes one audit row; some also move the leader chain."""
    issue_id = str(event.originator_id)
    name = type(event).__name__
    at = iso(event.timestamp)
    if name == "LeaderAssigned":
        tx.execute(
            f"INSERT INTO {t['leader_terms']} (issue_id, seq, leader, department, started_at, reason) "
            "VALUES (?, 1, ?, ?, ?, 'assigned')",
            [issue_id, event.leader, event.department, at],
        )
    elif name == "LeadershipHandedOver":
        term = _current_term(tx, t, issue_id)
        seq, department = (term[0], term[2]) if term else (0, None)
        tx.execute(
            f"UPDATE {t['leader_terms']} SET ended_at = ? WHERE issue_id = ? AND seq = ?",
            [at, issue_id, seq],
        )
        tx.execute(
            f"INSERT INTO {t['leader_terms']} (issue_id, seq, leader, department, started_at, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [issue_id, seq + 1, event.leader, department, at, event.reason],
        )
    elif name in ("Escalated", "ReferredToStandingCommittee"):
        term = _current_term(tx, t, issue_id)
        level = getattr(event, "from_level", "district")
        outcome = (
            f"escalated to {event.to_level}" if name == "Escalated" else "referred to the standing committee"
        )
        tx.execute(
            f"INSERT INTO {t['missed_deadlines']} (issue_id, deadline, leader, department, level, "
            "noticed_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [issue_id, iso(event.for_deadline), event.leader, term[2] if term else None, level, at, outcome],
        )
    elif name in ("Closed", "ClosedAsFixed"):
        tx.execute(
            f"UPDATE {t['leader_terms']} SET ended_at = ? WHERE issue_id = ? AND ended_at IS NULL",
            [at, issue_id],
        )
    elif name == "Reopened":
        last = tx.fetchone(
            f"SELECT seq, leader, department FROM {t['leader_terms']} "
            "WHERE issue_id = ? ORDER BY seq DESC LIMIT 1",
            [issue_id],
        )
        if last is not None and _current_term(tx, t, issue_id) is None:
            tx.execute(
                f"INSERT INTO {t['leader_terms']} "
                "(issue_id, seq, leader, department, started_at, reason) VALUES (?, ?, ?, ?, ?, 'reopened')",
                [issue_id, int(last[0]) + 1, last[1], last[2], at],
            )
    term = _current_term(tx, t, issue_id)
    leader = term[1] if term else getattr(event, "leader", None)
    meeting = getattr(event, "meeting_id", None)
    tx.execute(
        f"INSERT INTO {t['audit_events']} (issue_id, version, at, event, actor, meeting_id, leader, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            issue_id, event.originator_version, at, name, getattr(event, "actor", None),
            str(meeting) if meeting else None, leader, _detail(event),
        ],
    )  # fmt: skip


ISSUE_EVENTS = (
    "Opened", "OpinionLinked", "LeaderAssigned", "LeadershipHandedOver", "DeadlineExtended",
    "Escalated", "ReferredToStandingCommittee", "ProgressReported", "CoordinationRequested",
    "CoordinationAnswered", "InspectionRecorded", "Disclosed", "ResolutionReported",
    "EvaluationRecorded", "Closed", "ClosedAsFixed", "Reopened", "RegisteredAndExplained", "Revisited",
    "ClockPaused", "ClockResumed", "ReminderDue",
)  # fmt: skip

VIEW = View(
    name="audit",
    tables=TABLES,
    indexes=INDEXES,
    handlers={topic("Issue", name): record for name in ISSUE_EVENTS},
)
