"""The case board: one row per issue with what officers filter and sort by.

The overdue flag is not stored: it depends on the time of the query (`deadline < now`
for items being worked on). `committee_deadline` remembers which deadline sent an item at
the top level to the standing committee, so the overdue index skips it until it moves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from projections.store import Tx, iso
from projections.view import Names, Rows, View, ViewState, chunks, topic

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

# A board filled before the counts existed fills them from its rows (a no-op once filled: the
# counts are empty only when the board is).
FILL = (
    "INSERT INTO {board_counts} (stage, area, level, department, on_committee, n) "
    "SELECT stage, area, level, COALESCE(department, ''), on_committee, COUNT(*) FROM {board} "
    "WHERE NOT EXISTS (SELECT 1 FROM {board_counts}) "
    "GROUP BY stage, area, level, COALESCE(department, ''), on_committee"
)

# On SQLite, a trigram full-text index of each item's title and number (neither ever changes),
# so a text search reads the matching items instead of scanning the board (`queries.board`).
# Contentless: it holds the index alone. PostgreSQL scans with ILIKE. An entry's key (rowid) is the
# board row's rowid with the item's stage code in its low bits (TEXT_ROWID), so a search counts its
# matches per stage from the index alone, and reads them in the board's rowid order; an item that
# changes stage has its entry moved (`State.index_text`).
TEXT = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS {board_text} "
    "USING fts5(title, number, content='', tokenize='trigram')"
)
# Stored in the text index's keys: never renumber a stage; a new one takes the next code.
STAGE_CODES = {"opened": 1, "registered": 2, "assigned": 3, "in_progress": 4, "resolved": 5, "closed": 6}
STAGE_BITS = 4  # room for 15 codes
# Set in every key: a key below it is the bare rowid of an index filled before keys held the stage,
# which is told apart and refilled (`BoardView.create_indexes`).
TEXT_KEYED = 1 << 62
TEXT_ROWID = (
    f"({TEXT_KEYED} | (rowid << {STAGE_BITS}) | CASE stage "
    + " ".join(f"WHEN '{stage}' THEN {code}" for stage, code in STAGE_CODES.items())
    + " END)"
)
# A key's board rowid and stage code, for the board's queries.
TEXT_BOARD_ROWID = f"((board_text.rowid >> {STAGE_BITS}) & {(TEXT_KEYED >> STAGE_BITS) - 1})"
TEXT_STAGE_CODE = f"(board_text.rowid & {(1 << STAGE_BITS) - 1})"
# A board from before the text index, or one just rebuilt (its text index is filled here, in the
# swap, rather than page by page), fills the index from its rows.
FILL_TEXT = (
    f"INSERT INTO {{board_text}} (rowid, title, number) SELECT {TEXT_ROWID}, title, number FROM {{board}} "
    "WHERE NOT EXISTS (SELECT 1 FROM {board_text})"
)
# A text index keyed the old way is emptied, then refilled.
OLD_TEXT = f"SELECT 1 FROM {{board_text}} WHERE rowid < {TEXT_KEYED} LIMIT 1"
EMPTY_TEXT = "INSERT INTO {board_text} ({board_text}) VALUES ('delete-all')"

# Items whose deadline clock is running: the overdue index's predicate. Every query meant to read
# through that index repeats it word for word (SQLite uses a partial index only for a WHERE that
# implies its predicate), so they all take it from here.
CLOCK_RUNNING = "stage IN ('assigned', 'in_progress') AND paused = 0"

INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_board_stage_deadline ON {board} (stage, deadline)",
    f"CREATE INDEX IF NOT EXISTS ix_board_overdue ON {{board}} (deadline) WHERE {CLOCK_RUNNING}",
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


COLUMNS = (
    "issue_id", "number", "title", "area", "level", "horizon", "unit", "stage", "leader", "department",
    "deadline", "committee_deadline", "on_committee", "paused", "escalations", "reopened", "opinions",
    "disclosed", "opened_at", "updated_at", "version",
)  # fmt: skip


@dataclass(frozen=True)
class BoardView(View):
    """The board's tables; counts and a text index missing beside an existing board are filled from it."""

    def create_tables(self, tx: Tx, names: Names) -> None:
        super().create_tables(tx, names)
        tx.execute(FILL.format(**names))

    def create_indexes(self, tx: Tx, names: Names) -> None:
        super().create_indexes(tx, names)
        if "board_text" in names:
            if tx.fetchone(OLD_TEXT.format(**names)):
                tx.execute(EMPTY_TEXT.format(**names))
            tx.execute(FILL_TEXT.format(**names))


def _count_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["stage"], row["area"], row["level"], row["department"] or "", row["on_committee"])


class State(ViewState):
    """The board's rows, and the change they make to the counts per stage and filter."""

    def __init__(self, t: Names) -> None:
        self.board = Rows(t["board"], "issue_id", COLUMNS, "Issue")
        self.rows = (self.board,)
        self.counts: Counter[tuple[Any, ...]] = Counter()
        self.t = t
        # For the text index (SQLite): items new in this page; items whose stage changed in it, with
        # the stage they had before it (their entry's key holds it) and their row.
        self.opened: list[str] = []
        self.moved: dict[str, tuple[str, dict[str, Any]]] = {}
        self.text_later = False

    def rebuilding(self, *, empty: bool = True) -> None:
        super().rebuilding(empty=empty)
        self.text_later = True  # the swap fills the new text index from the new board (FILL_TEXT)

    @property
    def indexes_text(self) -> bool:
        """Whether this state keeps the text index page by page (SQLite, not while rebuilding)."""
        return "board_text" in self.t and not self.text_later

    def set(self, key: str, event: Any, **columns: Any) -> dict[str, Any] | None:
        """Change an item's columns and stamp it with the event; moves its count when a filter changed."""
        row = self.board.get(key)
        if row is None:
            return None
        before = _count_key(row)
        row.update(columns, updated_at=iso(event.timestamp), version=event.originator_version)
        self.board.touched(key)
        after = _count_key(row)
        if after != before:
            self.counts[before] -= 1
            self.counts[after] += 1
            if after[0] != before[0] and self.indexes_text:
                self.moved.setdefault(key, (before[0], row))
        return row

    def end(self, tx: Tx, *, final: bool = True) -> None:
        super().end(tx, final=final)
        if final and self.indexes_text:
            self.index_text(tx)
        self.opened = []
        self.moved = {}

    def index_text(self, tx: Tx) -> None:
        """Index the page's new items, and move the entries of those whose stage changed (after the
        rows are written: the entries are read from them)."""
        board, text = self.t["board"], self.t["board_text"]
        new = set(self.opened)
        moved = [
            (STAGE_CODES[stage], key)
            for key, (stage, row) in self.moved.items()
            if key not in new and row["stage"] != stage
        ]
        # A contentless index deletes an entry given the values it was indexed with: the item's
        # title and number, which never change, under the key of the stage it had.
        if moved:
            tx.executemany(
                f"INSERT INTO {text} ({text}, rowid, title, number) SELECT 'delete', "
                f"{TEXT_KEYED} | (rowid << {STAGE_BITS}) | ?, title, number FROM {board} WHERE issue_id = ?",
                moved,
            )
        for part in chunks([*self.opened, *(key for _, key in moved)]):
            tx.execute(
                f"INSERT INTO {text} (rowid, title, number) SELECT {TEXT_ROWID}, title, number "
                f"FROM {board} WHERE issue_id IN ({', '.join('?' * len(part))})",
                part,
            )

    def write_more(self, tx: Tx) -> None:
        moved = [(*key, delta) for key, delta in self.counts.items() if delta]
        if not moved:
            return
        counts = self.t["board_counts"]
        tx.executemany(
            f"INSERT INTO {counts} (stage, area, level, department, on_committee, n) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stage, area, level, department, on_committee) "
            f"DO UPDATE SET n = {counts}.n + excluded.n",
            moved,
        )
        tx.executemany(
            f"DELETE FROM {counts} WHERE stage = ? AND area = ? AND level = ? AND department = ? "
            "AND on_committee = ? AND n = 0",
            [key for *key, delta in moved if delta < 0],
        )
        self.counts.clear()


def opened(state: State, event: Any, key: str) -> None:
    at = iso(event.timestamp)
    row = state.board.add(
        {
            "issue_id": key, "number": event.number, "title": event.title, "area": event.area,
            "level": event.level, "horizon": event.horizon, "unit": getattr(event, "unit", None),
            "stage": "opened", "leader": None, "department": None, "deadline": None,
            "committee_deadline": None, "on_committee": 0, "paused": 0, "escalations": 0, "reopened": 0,
            "opinions": len(event.opinion_ids), "disclosed": 0, "opened_at": at, "updated_at": at,
            "version": event.originator_version,
        }
    )  # fmt: skip
    state.counts[_count_key(row)] += 1
    state.opened.append(key)


def opinion_linked(state: State, event: Any, key: str) -> None:
    row = state.set(key, event)
    if row is not None:
        row["opinions"] += 1


def leader_assigned(state: State, event: Any, key: str) -> None:
    state.set(
        key, event, stage="assigned", leader=event.leader, department=event.department,
        deadline=iso(event.deadline),
    )  # fmt: skip


def handed_over(state: State, event: Any, key: str) -> None:
    state.set(key, event, leader=event.leader)


def deadline_extended(state: State, event: Any, key: str) -> None:
    state.set(key, event, deadline=iso(event.deadline))


def escalated(state: State, event: Any, key: str) -> None:
    row = state.set(key, event, level=event.to_level, deadline=iso(event.deadline))
    if row is not None:
        row["escalations"] += 1


def referred(state: State, event: Any, key: str) -> None:
    row = state.set(key, event, on_committee=1, committee_deadline=iso(event.for_deadline))
    if row is not None:
        row["escalations"] += 1


def stage(value: str) -> Any:
    def handler(state: State, event: Any, key: str) -> None:
        state.set(key, event, stage=value)

    return handler


def resolved(state: State, event: Any, key: str) -> None:
    state.set(key, event, stage="resolved", paused=0)


def reopened(state: State, event: Any, key: str) -> None:
    row = state.set(
        key, event, stage="in_progress", deadline=iso(event.deadline), on_committee=0,
        committee_deadline=None, paused=0,
    )  # fmt: skip
    if row is not None:
        row["reopened"] += 1


def clock_paused(state: State, event: Any, key: str) -> None:
    state.set(key, event, paused=1)


def clock_resumed(state: State, event: Any, key: str) -> None:
    state.set(key, event, paused=0, deadline=iso(event.deadline))


def disclosed(state: State, event: Any, key: str) -> None:
    state.set(key, event, disclosed=1)


def touched(state: State, event: Any, key: str) -> None:
    state.set(key, event)


VIEW = BoardView(
    name="board",
    tables={"board": TABLE, "board_counts": COUNTS},
    sqlite_tables={"board_text": TEXT},
    state=State,
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
