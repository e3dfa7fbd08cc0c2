"""Satisfaction: every concluded evaluation round with its verdict counts, by the six areas,
unit, leader and period, to compare against the target (95% in the seeds)."""

from __future__ import annotations

from typing import Any

from projections.store import Tx, iso
from projections.view import Names, View, topic

TABLES = {
    "sat_issues": """
CREATE TABLE IF NOT EXISTS {sat_issues} (
    issue_id TEXT PRIMARY KEY,
    area TEXT NOT NULL,
    unit TEXT,
    level TEXT NOT NULL
)""",
    "conclusions": """
CREATE TABLE IF NOT EXISTS {conclusions} (
    issue_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    at TEXT NOT NULL,
    period TEXT NOT NULL,
    area TEXT NOT NULL,
    unit TEXT,
    level TEXT NOT NULL,
    leader TEXT NOT NULL,
    outcome TEXT NOT NULL,
    rate DOUBLE PRECISION NOT NULL,
    satisfied INTEGER NOT NULL,
    basically INTEGER NOT NULL,
    dissatisfied INTEGER NOT NULL,
    PRIMARY KEY (issue_id, version)
)""",
}

INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_conclusions_area ON {conclusions} (area, period)",
    "CREATE INDEX IF NOT EXISTS ix_conclusions_leader ON {conclusions} (leader)",
]


def opened(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"INSERT INTO {t['sat_issues']} (issue_id, area, unit, level) VALUES (?, ?, ?, ?)",
        [str(event.originator_id), event.area, getattr(event, "unit", None), event.level],
    )


def escalated(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"UPDATE {t['sat_issues']} SET level = ? WHERE issue_id = ?",
        [event.to_level, str(event.originator_id)],
    )


def concluded(tx: Tx, event: Any, t: Names) -> None:
    if event.rate is None:  # a supervisor's reopen of a closed item is not a vote
        return
    issue_id = str(event.originator_id)
    row = tx.fetchone(f"SELECT area, unit, level FROM {t['sat_issues']} WHERE issue_id = ?", [issue_id])
    area, unit, level = row if row else ("unknown", None, "unknown")
    counts = event.counts or {}
    tx.execute(
        f"INSERT INTO {t['conclusions']} (issue_id, version, at, period, area, unit, level, leader, outcome, "
        "rate, satisfied, basically, dissatisfied) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            issue_id, event.originator_version, iso(event.timestamp), event.timestamp.strftime("%Y-%m"),
            area, unit, level, event.leader, "closed" if type(event).__name__ == "Closed" else "reopened",
            float(event.rate), counts.get("satisfied", 0), counts.get("basically_satisfied", 0),
            counts.get("dissatisfied", 0),
        ],
    )  # fmt: skip


VIEW = View(
    name="satisfaction",
    tables=TABLES,
    indexes=INDEXES,
    handlers={
        topic("Issue", "Opened"): opened,
        topic("Issue", "Escalated"): escalated,
        topic("Issue", "Closed"): concluded,
        topic("Issue", "Reopened"): concluded,
    },
)
