"""The feedback tracker: every opinion, whether its reporter has heard back, and since when.

Holds no contact details (the events never carry them) and no free text: the tracker is for
chasing answers, the text stays in the opinion's own history."""

from __future__ import annotations

from typing import Any

from projections.store import Tx, iso
from projections.view import Names, View, topic

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


def recorded(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"INSERT INTO {t['opinions']} (opinion_id, recorded_at, kind, area, channel, unit, recorder) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            str(event.originator_id), iso(event.timestamp), event.kind, event.area, event.channel,
            event.unit, event.recorder,
        ],
    )  # fmt: skip


def routed(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"UPDATE {t['opinions']} SET route = ? WHERE opinion_id = ?", [event.route, str(event.originator_id)]
    )


def merged(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"UPDATE {t['opinions']} SET issue_id = ? WHERE opinion_id = ?",
        [str(event.issue_id), str(event.originator_id)],
    )


def answered(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"UPDATE {t['opinions']} SET answers = answers + 1, "
        "first_answered_at = COALESCE(first_answered_at, ?) WHERE opinion_id = ?",
        [iso(event.timestamp), str(event.originator_id)],
    )


VIEW = View(
    name="feedback",
    tables={"opinions": TABLE},
    indexes=INDEXES,
    handlers={
        topic("Opinion", "Recorded"): recorded,
        topic("Opinion", "Routed"): routed,
        topic("Opinion", "Merged"): merged,
        topic("Opinion", "Answered"): answered,
    },
)
