"""Rebuilding swaps views in atomically, one view at a time if asked, and under a live projector.

Each test damages the live views first (rows deleted, as a handler bug would leave them), so
that the rebuilt view differs from the one it replaces and a reader can tell which it saw.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from api.storage import view_db
from domain.clock import FakeClock
from domain.workflow import Workflow
from projections import board as board_view
from projections import queries
from projections import view as view_module
from projections.projector import VIEWS_BY_NAME, Projector
from projections.store import ViewDB
from tests.conftest import START, StoreFactory
from tests.integration.projector_process import ProjectorProcess
from tests.integration.viewtools import (
    VIEW_TABLES,
    Snapshot,
    assert_same_views,
    differing_rows,
    main_projector,
    rebuilt_elsewhere,
    snapshot,
    write_history,
)

NOW = START


@dataclass
class Filled:
    """A store with a history, its projector caught up, and the views as a rebuild makes them."""

    workflow: Workflow
    clock: FakeClock
    projector: Projector
    rebuilt: Snapshot


@pytest.fixture
def filled(
    settings: Settings, make_workflow: StoreFactory, clock: FakeClock, tmp_path: Path
) -> Iterator[Filled]:
    workflow = make_workflow()
    write_history(workflow, clock, at_least=800)
    with main_projector(settings) as projector:
        projector.catch_up()
        projector.page_size = 25  # rebuilds then run in many small transactions
        yield Filled(workflow, clock, projector, rebuilt_elsewhere(settings, tmp_path / "rebuilt"))


def damage(db: ViewDB, tables: tuple[str, ...] = VIEW_TABLES, *, every: int = 3) -> None:
    """Delete every `every`-th row (in a fixed order) of each table: a view gone wrong."""
    with db.transaction() as tx:
        for table in tables:
            rows = tx.fetchall(f"SELECT * FROM {table}")
            columns = [
                row[1] for row in tx.fetchall(f"SELECT * FROM pragma_table_info('{table}')")
            ] if db.dialect == "sqlite" else [
                row[0] for row in tx.fetchall(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                    [table],
                )
            ]  # fmt: skip
            key = columns[0]  # the first column is (the start of) each table's key
            doomed = sorted({str(row[0]) for row in rows})[::every]
            for value in doomed:
                tx.execute(f"DELETE FROM {table} WHERE {key} = ?", [value])


def board_seen(db: ViewDB) -> tuple[frozenset[str], int, int]:
    """What a reader sees of the board in one query: the items, the total, and the column counts' sum."""
    page = queries.board(db, now=NOW, sort="number", page_size=queries.MAX_PAGE_SIZE)
    return frozenset(row["issue_id"] for row in page.rows), page.total, sum(page.counts.values())


def test_readers_see_the_old_board_or_the_new_never_a_partial_one_while_it_is_rebuilt(
    settings: Settings, filled: Filled
) -> None:
    # Given a damaged board (every third item missing, its counts per stage following suit) and
    # a reader on its own connection
    damage(filled.projector.db, ("board",))
    with filled.projector.db.transaction() as tx:
        tx.execute("DELETE FROM board_counts")
        tx.execute(board_view.FILL.format(board="board", board_counts="board_counts"))
    reader = view_db(settings)
    old = board_seen(reader)[0]
    new = frozenset(str(row[0]) for row in filled.rebuilt["board"])
    assert len(old) < len(new) <= queries.MAX_PAGE_SIZE  # one page holds the whole board
    seen_during: list[tuple[frozenset[str], int, int]] = []
    seen_around: list[tuple[frozenset[str], int, int]] = []
    done = threading.Event()
    failures: list[BaseException] = []

    def keep_reading() -> None:
        local = view_db(settings)  # another reader, as an API worker would be, reading throughout
        try:
            while not done.is_set():
                seen_around.append(board_seen(local))
            seen_around.append(board_seen(local))
        except BaseException as error:
            failures.append(error)
        finally:
            local.close()

    thread = threading.Thread(target=keep_reading)
    try:
        thread.start()
        # When the board is rebuilt in small pages, the reader looking at every page's end
        filled.projector.rebuild(
            ["board"], progress=lambda done_, total: seen_during.append(board_seen(reader))
        )
        after = board_seen(reader)
    finally:
        done.set()
        thread.join(60)
        reader.close()
    assert not failures, failures
    # Then during the rebuild it saw the old board, whole; after it, the new one, whole
    assert len(seen_during) > 10, "the rebuild did not run in pages"
    assert {seen[0] for seen in seen_during} == {old}
    assert after[0] == new
    # And the other reader, reading throughout, only ever saw one of the two, each page consistent
    assert {seen[0] for seen in seen_around} <= {old, new}
    assert seen_around[-1][0] == new
    for items, total, counted in seen_around + seen_during + [after]:
        assert total == counted == len(items), "a page's rows and totals disagree"


def test_rebuilding_one_view_leaves_the_other_views_untouched(filled: Filled) -> None:
    for name in sorted(VIEWS_BY_NAME):
        # Given every view damaged
        damage(filled.projector.db)
        before = snapshot(filled.projector.db)
        position = filled.projector.position()
        # When one view is rebuilt
        filled.projector.rebuild([name])
        # Then its tables are whole again, and every other table is exactly as it was (damaged)
        after = snapshot(filled.projector.db)
        mine = set(VIEWS_BY_NAME[name].tables)
        assert_same_views({t: after[t] for t in mine}, {t: filled.rebuilt[t] for t in mine})
        others = [t for t in after if t not in mine]
        changed = differing_rows({t: after[t] for t in others}, {t: before[t] for t in others})
        assert not changed, f"rebuilding {name} changed {sorted(changed)}"
        assert filled.projector.position() == position


def test_rebuilding_an_unknown_view_raises_value_error_and_changes_nothing(filled: Filled) -> None:
    # Given damaged views
    damage(filled.projector.db)
    before = snapshot(filled.projector.db)
    # When a rebuild names a view that does not exist, alone or beside one that does
    with pytest.raises(ValueError, match="boards"):
        filled.projector.rebuild(["boards"])
    with pytest.raises(ValueError, match="nothing"):
        filled.projector.rebuild(["board", "nothing"])
    # Then nothing was rebuilt, and no half-built table is left behind
    assert not differing_rows(snapshot(filled.projector.db), before)
    assert not [table for table in tables_in(filled.projector.db) if table.endswith("__new")]


def test_a_rebuild_keeps_every_index_of_the_views(filled: Filled) -> None:
    # Given damaged views with their indexes
    damage(filled.projector.db)
    before = indexes_in(filled.projector.db)
    assert before, "the views have no named indexes"
    # When all views are rebuilt, twice (the second replaces tables the first renamed)
    filled.projector.rebuild()
    filled.projector.rebuild()
    # Then the same indexes are there, on the same tables, and the views are whole
    assert indexes_in(filled.projector.db) == before
    assert_same_views(snapshot(filled.projector.db), filled.rebuilt)


def test_a_rebuild_under_a_running_projector_ends_equal_to_a_rebuild_from_zero(
    settings: Settings, filled: Filled, tmp_path: Path
) -> None:
    # Given damaged views, and a projector process following the log
    damage(filled.projector.db)
    follower = ProjectorProcess(settings, "forever", page_size=20)
    try:
        follower.wait_for("leased")
        # When more is written while every view is rebuilt (pages of 25)
        writer_failures: list[BaseException] = []

        def write() -> None:
            try:
                write_history(filled.workflow, filled.clock, at_least=filled.projector.log.head() + 600)
            except BaseException as error:
                writer_failures.append(error)

        writer = threading.Thread(target=write)
        writer.start()
        filled.projector.rebuild()
        writer.join(120)
        assert not writer_failures, writer_failures
        # Then, once the follower has caught up, the views equal a rebuild from zero
        head = filled.projector.log.head()
        assert filled.projector.wait_for(head, timeout=60), f"the follower stopped{follower.stderr()}"
        assert_same_views(snapshot(filled.projector.db), rebuilt_elsewhere(settings, tmp_path / "again"))
    finally:
        follower.close()


def tables_in(db: ViewDB) -> list[str]:
    with db.read() as tx:
        if db.dialect == "sqlite":
            rows = tx.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = tx.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return sorted(str(row[0]) for row in rows)


def indexes_in(db: ViewDB) -> set[tuple[str, str]]:
    """The views' named indexes (not the primary keys' own), with their tables."""
    with db.read() as tx:
        if db.dialect == "sqlite":
            rows: Any = tx.fetchall("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
        else:
            rows = tx.fetchall(
                "SELECT indexname, tablename FROM pg_indexes WHERE schemaname = current_schema()"
            )
    return {(str(name), str(table)) for name, table in rows if str(name).startswith("ix_")}


def test_a_rebuild_shared_among_processes_equals_one_made_by_one(filled: Filled, clock: FakeClock) -> None:
    # Given damaged views over a history of hundreds of items, on SQLite the board's text index
    # emptied too (a text search counts the index's entries, and `damage` deletes no entry)
    damage(filled.projector.db)
    if filled.projector.db.dialect == "sqlite":
        with filled.projector.db.transaction() as tx:
            tx.execute("INSERT INTO board_text (board_text) VALUES ('delete-all')")
    text_before = queries.board(
        filled.projector.db, now=clock.now(), where=queries.BoardFilter(text="2026-"), page_size=1
    ).total
    # When three processes rebuild them, each handling a third of the originators
    filled.projector.rebuild(jobs=3)
    # Then every table equals the rebuild one process made, and text search finds every item again
    assert_same_views(snapshot(filled.projector.db), filled.rebuilt)
    everything = queries.board(filled.projector.db, now=clock.now(), page_size=1)
    found = queries.board(
        filled.projector.db, now=clock.now(), where=queries.BoardFilter(text="2026-"), page_size=1
    )
    assert found.total == everything.total > text_before


def test_a_rebuild_whose_worker_process_fails_leaves_the_views_as_they_were(filled: Filled) -> None:
    # Given damaged views, and a log a worker process cannot open (the projector refuses an
    # in-memory store)
    damage(filled.projector.db)
    before = snapshot(filled.projector.db)
    filled.projector.log.env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
    # When two processes are to share a rebuild
    with pytest.raises(RuntimeError, match="rebuild worker failed"):
        filled.projector.rebuild(jobs=2)
    # Then the live views are untouched, and the next rebuild (in this process) completes
    assert not differing_rows(snapshot(filled.projector.db), before)
    filled.projector.rebuild()
    assert_same_views(snapshot(filled.projector.db), filled.rebuilt)


def test_a_rebuild_that_writes_rows_out_as_it_goes_equals_one_that_holds_them(
    filled: Filled, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given damaged views, and states that may hold only a few rows each before writing them out
    # (as a log of many more originators than CAPACITY would make them)
    damage(filled.projector.db)
    monkeypatch.setattr(view_module, "CAPACITY", 40)
    # When the views are rebuilt (later pages then load the rows written out, as live pages do)
    filled.projector.rebuild()
    # Then every table equals the rebuild made with every row held until the end
    assert_same_views(snapshot(filled.projector.db), filled.rebuilt)
