"""The case board: one row per issue with what officers filter and sort by.

The overdue flag is not stored: it depends on the time of the query (`deadline < now`
for items being worked on). `committee_deadline` remembers which deadline sent an item at
the top level to the standing committee, so the overdue index skips it until it moves.
"""

from __future__ import annotations

from dataclasses import dataclass
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

# Items per stage for each combination of the filters it can answer (a few thousand rows at 100k
# items), kept in the same transaction as the board rows, so the board's counts per stage are a
# SUM over these instead of a COUNT over every matching item. An unassigned department is ''.
COUNTS = """
CREATE TABLE IF NOT EXISTS {board_counts} (
    stage TEXT NOT NULL,
    area TEXT NOT NULL,
    level TEXT NOT NULL,
    department TEXT NOT NULL,
    on_committee INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (stage, area, level, department, on_committee)
)
"""
COUNT_KEY = ("stage", "area", "level", "department", "on_committee")

# A board filled before the counts existed fills them from its rows (a no-op once filled: the
# counts are empty only when the board is).
FILL = (
    "INSERT INTO {board_counts} (stage, area, level, department, on_committee, n) "
    "SELECT stage, area, level, COALESCE(department, ''), on_committee, COUNT(*) FROM {board} "
    "WHERE NOT EXISTS (SELECT 1 FROM {board_counts}) "
    "GROUP BY stage, area, level, COALESCE(department, ''), on_committee"
)

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
    # A stage's column in the default and the `updated` order; the few items with the committee.
    "CREATE INDEX IF NOT EXISTS ix_board_stage_by_deadline ON {board} "
    "(stage, (deadline IS NULL), deadline, number)",
    "CREATE INDEX IF NOT EXISTS ix_board_stage_updated ON {board} (stage, updated_at, number)",
    "CREATE INDEX IF NOT EXISTS ix_board_committee ON {board} (stage) WHERE on_committee = 1",
]


@dataclass(frozen=True)
class BoardView(View):
    """The board's tables; counts missing beside an existing board are filled from it."""

    def create_tables(self, tx: Tx, names: Names) -> None:
        super().create_tables(tx, names)
        tx.execute(FILL.format(**names))


def _count(tx: Tx, t: Names, key: tuple[Any, ...], delta: int) -> None:
    counts = t["board_counts"]
    tx.execute(
        f"INSERT INTO {counts} (stage, area, level, department, on_committee, n) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (stage, area, level, department, on_committee) "
        f"DO UPDATE SET n = {counts}.n + excluded.n",
        [*key, delta],
    )
    if delta < 0:
        tx.execute(
            f"DELETE FROM {counts} WHERE stage = ? AND area = ? AND level = ? AND department = ? "
            "AND on_committee = ? AND n = 0",
            list(key),
        )


def _set(tx: Tx, t: Names, event: Any, **columns: Any) -> None:
    issue_id = str(event.originator_id)
    old: tuple[Any, ...] | None = None
    if any(column in columns for column in COUNT_KEY):
        old = tx.fetchone(
            f"SELECT stage, area, level, COALESCE(department, ''), on_committee FROM {t['board']} "
            "WHERE issue_id = ?",
            [issue_id],
        )
    if old is not None:
        new = tuple(
            ((columns[c] or "") if c == "department" else columns[c]) if c in columns else value
            for c, value in zip(COUNT_KEY, old, strict=True)
        )
        if new != old:
            _count(tx, t, old, -1)
            _count(tx, t, new, 1)
    assignments = "".join(f"{name} = ?, " for name in columns)
    tx.execute(
        f"UPDATE {t['board']} SET {assignments}updated_at = ?, version = ? WHERE issue_id = ?",
        [*columns.values(), iso(event.timestamp), event.originator_version, issue_id],
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
    _count(tx, t, ("opened", event.area, event.level, "", 0), 1)


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


VIEW = BoardView(
    name="board",
    tables={"board": TABLE, "board_counts": COUNTS},
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
