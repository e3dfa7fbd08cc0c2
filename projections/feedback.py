"""The feedback tracker: every opinion, whether its reporter has heard back, and since when.

Holds no contact details (the events never carry them) and no free text: the tracker is for
chasing answers, the text stays in the opinion's own history."""

from __future__ import annotations

from typing import Any

from projections.store import iso
from projections.view import Names, Rows, View, ViewState, topic

TABLE = """
CREATE TABLE IF NOT EXISTS {opinions} (
    opinion_id TEXT PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    area TEXT NOT NULL,
    channel TEXT NOT NULL,
    unit TEXT NOT NULL,
    recorder TEXT NOT NULL,
    route TEXT,
    issue_id TEXT,
    answers INTEGER NOT NULL DEFAULT 0,
    first_answered_at TEXT
)"""

INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_opinions_unanswered ON {opinions} (recorded_at) WHERE answers = 0",
    "CREATE INDEX IF NOT EXISTS ix_opinions_recorder ON {opinions} (recorder)",
    "CREATE INDEX IF NOT EXISTS ix_opinions_issue ON {opinions} (issue_id)",
]


COLUMNS = (
    "opinion_id", "recorded_at", "kind", "area", "channel", "unit", "recorder", "route", "issue_id",
    "answers", "first_answered_at",
)  # fmt: skip


class State(ViewState):
    def __init__(self, t: Names) -> None:
        self.opinions = Rows(t["opinions"], "opinion_id", COLUMNS, "Opinion")
        self.rows = (self.opinions,)


def recorded(state: State, event: Any, key: str) -> None:
    state.opinions.add(
        {
            "opinion_id": key, "recorded_at": iso(event.timestamp), "kind": event.kind, "area": event.area,
            "channel": event.channel, "unit": event.unit, "recorder": event.recorder, "route": None,
            "issue_id": None, "answers": 0, "first_answered_at": None,
        }
    )  # fmt: skip


def routed(state: State, event: Any, key: str) -> None:
    state.opinions.change(key, route=event.route)


def merged(state: State, event: Any, key: str) -> None:
    state.opinions.change(key, issue_id=str(event.issue_id))


def answered(state: State, event: Any, key: str) -> None:
    row = state.opinions.get(key)
    if row is not None:
        state.opinions.change(
            key,
            answers=row["answers"] + 1,
            first_answered_at=row["first_answered_at"] or iso(event.timestamp),
        )


VIEW = View(
    name="feedback",
    tables={"opinions": TABLE},
    state=State,
    indexes=INDEXES,
    handlers={
        topic("Opinion", "Recorded"): recorded,
        topic("Opinion", "Routed"): routed,
        topic("Opinion", "Merged"): merged,
        topic("Opinion", "Answered"): answered,
    },
)
