"""Satisfaction: every concluded evaluation round with its verdict counts, by the six areas,
unit, leader and period, to compare against the target (95% in the seeds).

A round's period is the calendar month of its conclusion in the town's time zone, which the
view does not know: the queries group the rounds' UTC moments (`at`) into local months
(`queries.satisfaction`), so a round concluded at 07:00 on 1 July in Beijing counts in July."""

from __future__ import annotations

from typing import Any

from projections.store import iso
from projections.view import Appends, Names, Rows, View, ViewState, topic

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
    "CREATE INDEX IF NOT EXISTS ix_conclusions_area ON {conclusions} (area)",
    "CREATE INDEX IF NOT EXISTS ix_conclusions_leader ON {conclusions} (leader)",
    "CREATE INDEX IF NOT EXISTS ix_conclusions_at ON {conclusions} (at)",
]


ISSUE_COLUMNS = ("issue_id", "area", "unit", "level")
CONCLUSION_COLUMNS = (
    "issue_id", "version", "at", "area", "unit", "level", "leader", "outcome", "rate", "satisfied",
    "basically", "dissatisfied",
)  # fmt: skip


class State(ViewState):
    """Issues' area, unit and level (as the verdicts need them), and the verdicts."""

    def __init__(self, t: Names) -> None:
        self.issues = Rows(t["sat_issues"], "issue_id", ISSUE_COLUMNS, "Issue")
        self.conclusions = Appends(t["conclusions"], CONCLUSION_COLUMNS)
        self.rows = (self.issues,)
        self.appends = (self.conclusions,)


def opened(state: State, event: Any, key: str) -> None:
    state.issues.add(
        {"issue_id": key, "area": event.area, "unit": getattr(event, "unit", None), "level": event.level}
    )


def escalated(state: State, event: Any, key: str) -> None:
    state.issues.change(key, level=event.to_level)


def concluded(state: State, event: Any, key: str) -> None:
    if event.rate is None:  # a supervisor's reopen of a closed item is not a vote
        return
    row = state.issues.get(key)
    area, unit, level = (row["area"], row["unit"], row["level"]) if row else ("unknown", None, "unknown")
    counts = event.counts or {}
    state.conclusions.add(
        (
            key, event.originator_version, iso(event.timestamp), area, unit, level, event.leader,
            "closed" if type(event).__name__ == "Closed" else "reopened",
            float(event.rate), counts.get("satisfied", 0), counts.get("basically_satisfied", 0),
            counts.get("dissatisfied", 0),
        )
    )  # fmt: skip


VIEW = View(
    name="satisfaction",
    tables=TABLES,
    state=State,
    indexes=INDEXES,
    handlers={
        topic("Issue", "Opened"): opened,
        topic("Issue", "Escalated"): escalated,
        topic("Issue", "Closed"): concluded,
        topic("Issue", "Reopened"): concluded,
    },
    version=2,  # 2: no stored period (a UTC month); the queries group by the town's months
)
