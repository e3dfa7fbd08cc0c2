"""Helpers for the read side's tests: scratch stores, scratch view databases, table snapshots.

A snapshot is every row of every view table as a sorted list of tuples, so two view
databases compare with `==` and a difference can be counted row by row. A view database
"rebuilt elsewhere" is a second, empty view database (another SQLite file, another
PostgreSQL schema) with its own projector over the same event log, filled by `rebuild()`.
"""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from api.settings import Settings
from api.storage import build_projector
from domain.clock import FakeClock
from domain.rules import Actor, Role
from domain.workflow import Workflow
from projections.board import STAGE_BITS, STAGE_CODES, TEXT_KEYED
from projections.projector import ALL_VIEWS, EventLog, Projector
from projections.store import PostgresViewDB, SqliteViewDB, ViewDB
from projections.view import View

# The tables the read side's brief names; every table any view declares is compared too.
NAMED_TABLES = (
    "board", "leader_terms", "missed_deadlines", "opinions", "register", "sat_issues",
    "conclusions",
)  # fmt: skip
VIEW_TABLES = tuple(table for view in ALL_VIEWS for table in view.tables)
Rows = list[tuple[Any, ...]]
Snapshot = dict[str, Rows]


def snapshot(db: ViewDB, tables: tuple[str, ...] = VIEW_TABLES) -> Snapshot:
    """Every row of every view table, each table sorted (by the rows' text form: None-safe)."""
    with db.transaction() as tx:
        return {table: sorted(tx.fetchall(f"SELECT * FROM {table}"), key=repr) for table in tables}


def differing_rows(left: Snapshot, right: Snapshot) -> dict[str, tuple[Rows, Rows]]:
    """Per table, the rows only on the left and the rows only on the right (multiset difference)."""
    out: dict[str, tuple[Rows, Rows]] = {}
    for table in sorted(set(left) | set(right)):
        a, b = Counter(left.get(table, [])), Counter(right.get(table, []))
        only_left, only_right = sorted((a - b).elements(), key=repr), sorted((b - a).elements(), key=repr)
        if only_left or only_right:
            out[table] = (only_left, only_right)
    return out


def count_differing(left: Snapshot, right: Snapshot) -> int:
    return sum(len(a) + len(b) for a, b in differing_rows(left, right).values())


def describe(differences: dict[str, tuple[Rows, Rows]], *, limit: int = 4) -> str:
    """A readable account of differing rows for an assertion message."""
    lines = []
    for table, (only_live, only_rebuilt) in differences.items():
        lines.append(f"{table}: {len(only_live)} rows only live, {len(only_rebuilt)} only rebuilt")
        lines += [f"  live    {row}" for row in only_live[:limit]]
        lines += [f"  rebuilt {row}" for row in only_rebuilt[:limit]]
    return "\n".join(lines)


def assert_same_views(live: Snapshot, rebuilt: Snapshot) -> None:
    differences = differing_rows(live, rebuilt)
    assert not differences, "live views differ from their rebuild:\n" + describe(differences)


# -- scratch stores and view databases --------------------------------------------------------


def _drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def scratch_store(settings: Settings, folder: Path) -> Iterator[Settings]:
    """Settings for a new, empty store of the same kind as `settings` (dropped afterwards)."""
    tag = uuid.uuid4().hex[:10]
    if settings.database_url is None:
        data_dir = folder / f"store-{tag}"
        try:
            yield Settings(data_dir=data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        return
    schema = f"{settings.database_schema or 't'}_{tag}"
    try:
        yield Settings(database_url=settings.database_url, database_schema=schema, data_dir=folder / tag)
    finally:
        _drop_schema(settings.database_url, schema)


@contextmanager
def scratch_view_db(settings: Settings, folder: Path) -> Iterator[ViewDB]:
    """A second, empty view database beside the store: its own SQLite file or PostgreSQL schema."""
    tag = uuid.uuid4().hex[:10]
    if settings.database_url is None:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"views-{tag}.sqlite"
        db: ViewDB = SqliteViewDB(path)
        try:
            yield db
        finally:
            db.close()
            for leftover in folder.glob(f"views-{tag}.sqlite*"):
                leftover.unlink()
        return
    schema = f"{settings.database_schema or 'public'}_v{tag}"
    db = PostgresViewDB(settings.database_url, schema)
    try:
        yield db
    finally:
        db.close()
        _drop_schema(settings.database_url, schema)


@contextmanager
def projector_over(
    settings: Settings, db: ViewDB, *, page_size: int = 1000, views: Sequence[View] = ALL_VIEWS
) -> Iterator[Projector]:
    """A projector of `views` over the store's event log writing into `db`; closes the log (not `db`)."""
    log = EventLog(settings.event_store_env())
    try:
        yield Projector(log, db, views=views, page_size=page_size)
    finally:
        log.close()


class RebuiltElsewhere:
    """A second view database with its own projector over the same log, rebuilt on demand.

    `rebuild()` refills fresh tables from zero up to the position its view database has
    reached, so each time the second database is first brought to the head of the log (which
    also checks a catch-up in big pages against the rebuild), then rebuilt: the rows answered
    come from the rebuild alone.
    """

    def __init__(self, settings: Settings, folder: Path, *, page_size: int = 1000) -> None:
        self._stack = ExitStack()
        db = self._stack.enter_context(scratch_view_db(settings, folder))
        self.projector = self._stack.enter_context(projector_over(settings, db, page_size=page_size))

    def __enter__(self) -> RebuiltElsewhere:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def snapshot(self) -> Snapshot:
        """Every view table as a rebuild from zero makes it, at the head of the log."""
        other = self.projector
        other.catch_up()
        assert other.position() == other.log.head()
        caught_up = snapshot(other.db)
        other.rebuild()
        assert other.position() == other.log.head()
        rebuilt = snapshot(other.db)
        differences = differing_rows(caught_up, rebuilt)
        assert not differences, "a catch-up differs from a rebuild in one database:\n" + describe(differences)
        return rebuilt


def rebuilt_elsewhere(settings: Settings, folder: Path, *, page_size: int = 1000) -> Snapshot:
    """The views as `rebuild()` makes them from zero in a new view database, at the log's head."""
    with RebuiltElsewhere(settings, folder, page_size=page_size) as elsewhere:
        return elsewhere.snapshot()


# -- history -----------------------------------------------------------------------------------

OFFICER = Actor("Officer Wang")
SUPERVISOR = Actor("Supervisor Liu", role=Role.SUPERVISOR)
AREAS = ("development", "environment", "security", "livelihood", "culture", "conduct")
LEVELS = ("grid", "village", "town", "district")
LEADERS = ("Zhang", "Li", "Zhao", "Sun")
DEPARTMENTS = ("Public works office", "Water office", "Civil affairs")
VERDICTS = (
    ("satisfied", "satisfied", "basically_satisfied"),
    ("satisfied", "dissatisfied", "dissatisfied"),
    ("satisfied", "basically_satisfied", "satisfied"),
)


def write_history(workflow: Workflow, clock: FakeClock, *, at_least: int) -> int:
    """Whole lives of items through the workflow until the log holds `at_least` entries: voices
    recorded, merged and answered; items opened, assigned, reminded, handed over, disclosed,
    escalated (the clock moved past their deadlines), resolved, evaluated, closed or reopened,
    some reopened by a supervisor after closing; now and then a duty. Returns the log's head."""
    n = 0
    while (head := workflow.recorder.max_notification_id() or 0) < at_least:
        n += 1
        area = AREAS[n % len(AREAS)]
        voice = workflow.record_opinion(
            OFFICER, kind="difficulty", area=area, channel="hotline", unit=f"grid {n % 5}",
            text="The lane behind building 7 has no street light.", recorder=f"Recorder {n % 3}",
        )  # fmt: skip
        issue = workflow.open_issue(
            OFFICER, title=f"Street lights, lane {n}", area=area, level=LEVELS[n % len(LEVELS)],
            horizon="near", opinion_ids=[voice.id],
        ).id  # fmt: skip
        workflow.assign_leader(
            OFFICER, issue, leader=LEADERS[n % len(LEADERS)], department=DEPARTMENTS[n % len(DEPARTMENTS)],
            goals=["lights working"], measures=["install lamps"], deadline=clock.now() + timedelta(days=2),
        )  # fmt: skip
        workflow.remind_if_due(issue, lead=timedelta(days=3))
        workflow.report_progress(OFFICER, issue, note="Cable laid")
        if n % 3 == 0:
            workflow.hand_over(OFFICER, issue, to=LEADERS[(n + 1) % len(LEADERS)], reason="transferred")
        workflow.disclose(OFFICER, issue, fields=["title", "leader", "deadline"], where="notice board")
        clock.advance(timedelta(days=3))
        workflow.escalate_if_overdue(issue)
        workflow.answer_opinion(OFFICER, voice.id, feedback="Work has started.")
        workflow.report_resolution(OFFICER, issue, summary="Lamps installed")
        for k, verdict in enumerate(VERDICTS[n % len(VERDICTS)]):
            workflow.record_evaluation(OFFICER, issue, evaluator=f"Rep {k}", verdict=verdict)
        closed = workflow.conclude_evaluation(OFFICER, issue).detail["outcome"] == "closed"
        if closed and n % 4 == 0:
            workflow.reopen(
                SUPERVISOR, issue, reason="Lamps out again", deadline=clock.now() + timedelta(days=9)
            )
        if n % 25 == 0:
            workflow.raise_duty(
                kind="feedback_cycle", unit=f"grid {n % 5}", period=f"cycle {n}", due_by=clock.now(),
                recipients=["Recorder 0", "Secretary Zhou"], unanswered={"Recorder 0": [str(voice.id)]},
            )  # fmt: skip
        clock.advance(timedelta(hours=5))
    return head


@contextmanager
def main_projector(settings: Settings, *, page_size: int = 1000) -> Iterator[Projector]:
    """The projector `caseline project` would run over this store (its own view database)."""
    projector = build_projector(settings, page_size=page_size)
    try:
        yield projector
    finally:
        projector.db.close()
        projector.log.close()


def board_counters_match_the_aggregates(db: ViewDB, workflow: Workflow) -> None:
    """No doubled or lost counter: each board row's opinions, escalations and version as the item has them."""
    with db.read() as tx:
        rows = tx.fetchall("SELECT issue_id, opinions, escalations, version FROM board")
    assert rows, "the board is empty"
    for issue_id, opinions, escalations, version in rows:
        issue = workflow.get_issue(issue_id)
        assert (opinions, escalations, version) == (
            len(issue.opinion_ids),
            len(issue.escalated_for),
            issue.version,
        ), f"board counters of {issue.number}"


def text_index_matches_the_board(db: ViewDB) -> None:
    """On SQLite, the board's text index holds one entry per board row, keyed by the row's rowid
    and its stage's code, and finds exactly the rows whose title or number holds a text: each
    row's number and each word of its title (an entry deleted with other values than it was
    indexed with would leave its old trigrams behind, found by a search but not by a full scan)."""
    if db.dialect != "sqlite":
        return
    with db.read() as tx:
        keys = sorted(row[0] for row in tx.fetchall("SELECT rowid FROM board_text"))
        rows = {
            TEXT_KEYED | rowid << STAGE_BITS | STAGE_CODES[stage]: f"{title} {number}".lower()
            for rowid, stage, title, number in tx.fetchall("SELECT rowid, stage, title, number FROM board")
        }
        assert keys == sorted(rows)
        texts = {word for text in rows.values() for word in text.split() if len(word) >= 3}
        for text in texts:
            found = tx.fetchall(
                "SELECT rowid FROM board_text WHERE board_text MATCH ?", ['"' + text.replace('"', '""') + '"']
            )
            assert sorted(row[0] for row in found) == sorted(k for k, v in rows.items() if text in v), text
