"""The case board: one row per issue with what officers filter and sort by.

The overdue flag is not stored: it depends on the time of the query (`deadline < now`
for items being worked on). `committee_deadline` remembers which deadline sent an item at
the top level to the standing committee, so the overdue index skips it until it moves.
"""

from __future__ import annotations

from typing import Any

from projections.store import Tx, iso
from projections.view import Names, View, topic

TABLE = """
CREATE TABLE IF NOT EXISTS {board} (
    issue_id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    title TEXT NOT NULL,
    area TEXT NOT NULL,
    level TEXT NOT NULL,
    horizon TEXT NOT NULL,
    unit TEXT,
    stage TEXT NOT NULL,
    leader TEXT,
    department TEXT,
    deadline TEXT,
    committee_deadline TEXT,
    on_committee INTEGER NOT NULL DEFAULT 0,
    paused INTEGER NOT NULL DEFAULT 0,
    escalations INTEGER NOT NULL DEFAULT 0,
    reopened INTEGER NOT NULL DEFAULT 0,
    opinions INTEGER NOT NULL DEFAULT 0,
    disclosed INTEGER NOT NULL DEFAULT 0,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL
)
"""

INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_board_stage_deadline ON {board} (stage, deadline)",
    "CREATE INDEX IF NOT EXISTS ix_board_overdue ON {board} (deadline) "
    "WHERE stage IN ('assigned', 'in_progress') AND paused = 0",
    "CREATE INDEX IF NOT EXISTS ix_board_number ON {board} (number)",
    "CREATE INDEX IF NOT EXISTS ix_board_area ON {board} (area, stage)",
    "CREATE INDEX IF NOT EXISTS ix_board_level ON {board} (level, stage)",
    "CREATE INDEX IF NOT EXISTS ix_board_leader ON {board} (leader, stage)",
    "CREATE INDEX IF NOT EXISTS ix_board_department ON {board} (department, stage)",
    "CREATE INDEX IF NOT EXISTS ix_board_updated ON {board} (updated_at, number)",
    # The board's sort orders, so a page is read in index order instead of sorting every match.
    "CREATE INDEX IF NOT EXISTS ix_board_by_deadline ON {board} ((deadline IS NULL), deadline, number)",
    "CREATE INDEX IF NOT EXISTS ix_board_opened ON {board} (opened_at, number)",
]


def _set(tx: Tx, t: Names, event: Any, **columns: Any) -> None:
    assignments = "".join(f"{name} = ?, " for name in columns)
    tx.execute(
        f"UPDATE {t['board']} SET {assignments}updated_at = ?, version = ? WHERE issue_id = ?",
        [*columns.values(), iso(event.timestamp), event.originator_version, str(event.originator_id)],
    )


def opened(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"INSERT INTO {t['board']} (issue_id, number, title, area, level, horizon, unit, stage, "
        "opinions, opened_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 'opened', ?, ?, ?, ?)",
        [
            str(event.originator_id), event.number, event.title, event.area, event.level,
            event.horizon, getattr(event, "unit", None), len(event.opinion_ids),
            iso(event.timestamp), iso(event.timestamp), event.originator_version,
        ],
    )  # fmt: skip


def opinion_linked(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"UPDATE {t['board']} SET opinions = opinions + 1 WHERE issue_id = ?", [str(event.originator_id)]
    )
    _set(tx, t, event)


def leader_assigned(tx: Tx, event: Any, t: Names) -> None:
    _set(
        tx, t, event, stage="assigned", leader=event.leader, department=event.department,
        deadline=iso(event.deadline),
    )  # fmt: skip


def handed_over(tx: Tx, event: Any, t: Names) -> None:
    _set(tx, t, event, leader=event.leader)


def deadline_extended(tx: Tx, event: Any, t: Names) -> None:
    _set(tx, t, event, deadline=iso(event.deadline))


def escalated(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"UPDATE {t['board']} SET escalations = escalations + 1 WHERE issue_id = ?",
        [str(event.originator_id)],
    )
    _set(tx, t, event, level=event.to_level, deadline=iso(event.deadline))


def referred(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"UPDATE {t['board']} SET escalations = escalations + 1 WHERE issue_id = ?",
        [str(event.originator_id)],
    )
    _set(tx, t, event, on_committee=1, committee_deadline=iso(event.for_deadline))


def stage(value: str) -> Any:
    def handler(tx: Tx, event: Any, t: Names) -> None:
        _set(tx, t, event, stage=value)

    return handler


def resolved(tx: Tx, event: Any, t: Names) -> None:
    _set(tx, t, event, stage="resolved", paused=0)


def reopened(tx: Tx, event: Any, t: Names) -> None:
    tx.execute(
        f"UPDATE {t['board']} SET reopened = reopened + 1 WHERE issue_id = ?", [str(event.originator_id)]
    )
    _set(
        tx, t, event, stage="in_progress", deadline=iso(event.deadline), on_committee=0,
        committee_deadline=None, paused=0,
    )  # fmt: skip


def clock_paused(tx: Tx, event: Any, t: Names) -> None:
    _set(tx, t, event, paused=1)


def clock_resumed(tx: Tx, event: Any, t: Names) -> None:
    _set(tx, t, event, paused=0, deadline=iso(event.deadline))


def disclosed(tx: Tx, event: Any, t: Names) -> None:
    _set(tx, t, event, disclosed=1)


def touched(tx: Tx, event: Any, t: Names) -> None:
    _set(tx, t, event)


VIEW = View(
    name="board",
    tables={"board": TABLE},
    indexes=INDEXES,
    handlers={
        topic("Issue", "Opened"): opened,
        topic("Issue", "OpinionLinked"): opinion_linked,
        topic("Issue", "LeaderAssigned"): leader_assigned,
        topic("Issue", "LeadershipHandedOver"): handed_over,
        topic("Issue", "DeadlineExtended"): deadline_extended,
        topic("Issue", "Escalated"): escalated,
        topic("Issue", "ReferredToStandingCommittee"): referred,
        topic("Issue", "ProgressReported"): stage("in_progress"),
        topic("Issue", "CoordinationRequested"): stage("in_progress"),
        topic("Issue", "CoordinationAnswered"): touched,
        topic("Issue", "InspectionRecorded"): touched,
        topic("Issue", "Disclosed"): disclosed,
        topic("Issue", "ResolutionReported"): resolved,
        topic("Issue", "EvaluationRecorded"): touched,
        topic("Issue", "Closed"): stage("closed"),
        topic("Issue", "ClosedAsFixed"): stage("closed"),
        topic("Issue", "Reopened"): reopened,
        topic("Issue", "RegisteredAndExplained"): stage("registered"),
        topic("Issue", "Revisited"): stage("opened"),
        topic("Issue", "ClockPaused"): clock_paused,
        topic("Issue", "ClockResumed"): clock_resumed,
        topic("Issue", "ReminderDue"): touched,
    },
)
