"""The projector survives `kill -9`, shares the log with a rival, and holds its lease alone.

Projectors here are real OS processes (`tests/integration/projector_process.py`, run the way
`caseline project` runs) over a store the workflow has filled. Killed mid-page again and
again, then finished, the views must equal a rebuild from zero in a fresh view database,
row for row, and the position the log's head: a crash neither loses a page nor applies one
twice. Two projectors started together must apply every entry exactly once between them.
Of two `run_forever` projectors one holds the lease, until it dies.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.settings import Settings
from api.storage import view_db
from domain.clock import FakeClock
from projections.projector import VIEWS_BY_NAME
from projections.store import SqliteViewDB
from tests.conftest import StoreFactory
from tests.integration.projector_process import ProjectorProcess, ProjectorProcessEndedError
from tests.integration.viewtools import (
    OFFICER,
    assert_same_views,
    board_counters_match_the_aggregates,
    count_differing,
    main_projector,
    projector_over,
    rebuilt_elsewhere,
    snapshot,
    write_history,
)

KILLS = 15
SEED = 20260303


@pytest.fixture
def processes() -> Iterator[list[ProjectorProcess]]:
    """Projector processes started by a test; none outlives it, whatever happens."""
    started: list[ProjectorProcess] = []
    yield started
    for process in started:
        process.close()


def lease_taken_within(db: object, seconds: float) -> bool:
    """Whether `db.try_lease()` succeeds within `seconds` (a dead holder's lock takes a moment to go)."""
    deadline = time.monotonic() + seconds
    while True:
        if db.try_lease():  # type: ignore[attr-defined]
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


@pytest.mark.slow
def test_views_equal_a_rebuild_after_the_projector_process_is_killed_mid_page_again_and_again(
    settings: Settings,
    make_workflow: StoreFactory,
    clock: FakeClock,
    tmp_path: Path,
    processes: list[ProjectorProcess],
    record_property: pytest.RecordProperty,
) -> None:
    # Given a log of some thousands of entries written by the workflow
    workflow = make_workflow()
    head = write_history(workflow, clock, at_least=4000)
    rng = random.Random(SEED)
    positions, kills, inside_a_page = [0], 0, 0
    with main_projector(settings) as projector:
        # When a projector process is killed with SIGKILL, again and again, at a random moment
        # of one of its first pages (decoding is slowed so that a page is open most of the time)
        while kills < KILLS:
            page_size = rng.choice([50, 100, 200])
            child = ProjectorProcess(settings, "catch-up", page_size=page_size)
            processes.append(child)
            child.wait_for("ready")
            try:
                for _ in range(rng.randint(1, 3)):
                    child.wait_for("B")
            except ProjectorProcessEndedError:
                break  # it reached the head first: nothing left to interrupt
            time.sleep(rng.uniform(0, page_size * 0.0008))
            child.kill()
            kills += 1
            last = child.seen[-1].split()
            inside_a_page += last[0] == "B"
            # Then what it had committed stays, and nothing of the page it was in the middle of:
            # the position is its last committed page's end (or that page, had its commit won)
            committed = [int(line.split()[1]) for line in child.seen if line.startswith(("ready", "C"))]
            possible = {committed[-1], int(last[2])} if last[0] == "B" else {committed[-1]}
            assert projector.position() in possible, f"position after a kill {child.seen[-3:]}"
            positions.append(projector.position())
        # When the catch-up is finished by a projector that is left alone
        projector.catch_up()
        # Then it is at the head, and every view table equals a rebuild from zero, row for row
        assert projector.position() == projector.log.head() == head
        live = snapshot(projector.db)
        rebuilt = rebuilt_elsewhere(settings, tmp_path / "rebuilt")
        differing = count_differing(live, rebuilt)
        record_property("differing_rows", differing)  # recorded before the assertion that needs 0
        assert_same_views(live, rebuilt)
        board_counters_match_the_aggregates(projector.db, workflow)
    # And the kills were what the test means: many, in the middle of pages, before the head
    assert positions == sorted(positions), "the position went back after a kill"
    assert kills == KILLS, f"the log was projected to its head after {kills} kills"
    assert inside_a_page > 0, "no kill landed inside a page: the test did not test its premise"
    record_property("kills", KILLS)
    record_property("kills_inside_a_page", inside_a_page)
    record_property("log_entries", head)
    store = "postgres" if settings.uses_postgres else "sqlite"
    print(
        f"\n[{store}] {KILLS} kills ({inside_a_page} inside a page) "
        f"over {head} log entries; positions after each kill {positions[1:]}; differing rows {differing}"
    )


def test_two_projector_processes_started_together_apply_every_entry_exactly_once(
    settings: Settings,
    make_workflow: StoreFactory,
    clock: FakeClock,
    tmp_path: Path,
    processes: list[ProjectorProcess],
) -> None:
    # Given a log of a few thousand entries and no view database yet
    workflow = make_workflow()
    head = write_history(workflow, clock, at_least=2500)
    # When two projector processes are released at the same moment, small pages each
    pair = [ProjectorProcess(settings, "together", page_size=50) for _ in range(2)]
    processes.extend(pair)
    for child in pair:
        child.wait_for("waiting")
    for child in pair:
        child.send("go")
    consumed = [int(child.wait_for("done", timeout=300).split()[1]) for child in pair]
    codes = [child.finish() for child in pair]
    # Then both end well, and between them they consumed each log entry once
    assert codes == [0, 0], [child.stderr() for child in pair]
    with main_projector(settings) as projector:
        entries = len(projector.log.page(1, head + 1))
        assert sum(consumed) == entries, f"consumed {consumed} of {entries} entries"
        assert projector.position() == head
        # And the views equal a rebuild from zero: no doubled counter anywhere
        assert_same_views(snapshot(projector.db), rebuilt_elsewhere(settings, tmp_path / "rebuilt"))
        board_counters_match_the_aggregates(projector.db, workflow)
    print(f"\n[{'postgres' if settings.uses_postgres else 'sqlite'}] entries consumed by each: {consumed}")


@pytest.mark.parametrize("added", ["board", "audit", "inbox"])
def test_two_projector_processes_starting_together_after_a_view_was_added_fill_it_once(
    settings: Settings,
    make_workflow: StoreFactory,
    clock: FakeClock,
    tmp_path: Path,
    processes: list[ProjectorProcess],
    added: str,
) -> None:
    """An upgrade that brings a view: every process that starts (projector, API workers,
    scheduler) finds it new to the database and fills it from the whole log before going on."""
    # Given views at the head of the log, except one the database has never had (as after an
    # upgrade that adds it: no tables, no marker)
    workflow = make_workflow()
    head = write_history(workflow, clock, at_least=1500)
    with main_projector(settings) as projector:
        projector.catch_up()
        with projector.db.transaction() as tx:
            for table in VIEWS_BY_NAME[added].tables:
                tx.execute(f"DROP TABLE {table}")
            tx.execute("DELETE FROM projection_tracking WHERE name = ?", [f"view:{added}"])
    # When two projector processes start at the same moment
    pair = [ProjectorProcess(settings, "together", page_size=50) for _ in range(2)]
    processes.extend(pair)
    for child in pair:
        child.wait_for("waiting")
    for child in pair:
        child.send("go")
    for child in pair:
        child.wait_for("done", timeout=300)
    # Then both start well, and the added view is filled once: equal to a rebuild from zero
    assert [child.finish() for child in pair] == [0, 0], [child.stderr() for child in pair]
    with main_projector(settings) as projector:
        assert projector.position() == head
        assert_same_views(snapshot(projector.db), rebuilt_elsewhere(settings, tmp_path / "rebuilt"))
        board_counters_match_the_aggregates(projector.db, workflow)


def test_a_projector_starting_while_another_is_mid_page_leaves_both_working(
    settings: Settings,
    make_workflow: StoreFactory,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    """What `caseline project`, an API worker or the scheduler does when it starts (each builds a
    projector, which ensures the view tables) must not break a page another has half applied."""
    # Given a projector that has applied the first entry of a page (an opinion) and not yet the
    # next (an issue opened), so its transaction has written one view table and not another
    workflow = make_workflow()
    voice = workflow.record_opinion(
        OFFICER, kind="difficulty", area="security", channel="hotline", unit="grid 4", text="No light"
    )
    workflow.open_issue(
        OFFICER, title="Lights", area="security", level="grid", horizon="near", opinion_ids=[voice.id]
    )
    errors: dict[str, BaseException] = {}
    with main_projector(settings) as running:
        gate, decoded = threading.Event(), []
        decode = running.decode

        def paused(notification: Any) -> Any:
            decoded.append(notification.id)
            if len(decoded) == 2:
                gate.wait(60)
            return decode(notification)

        running.decode = paused

        def run(name: str, job: Any) -> threading.Thread:
            def guarded() -> None:
                try:
                    job()
                except BaseException as error:  # reported below, by name
                    errors[name] = error

            thread = threading.Thread(target=guarded)
            thread.start()
            return thread

        page = run("the running projector's page", running.run_once)
        wait_until(lambda: len(decoded) == 2)

        # When another projector starts meanwhile, and the first then goes on with its page
        def start() -> None:
            db = view_db(settings)
            try:
                with projector_over(settings, db):  # builds a Projector: ensures the view tables
                    pass
            finally:
                db.close()

        starting = run("the starting projector", start)
        wait_until(lambda: blocked_in(settings), timeout=5, required=False)
        gate.set()
        page.join(60)
        starting.join(60)
        # Then neither failed (on PostgreSQL, a lock-order deadlock aborts one of them)
        assert not errors, {name: repr(error) for name, error in errors.items()}
        running.catch_up()
        assert_same_views(snapshot(running.db), rebuilt_elsewhere(settings, tmp_path / "rebuilt"))


def wait_until(condition: Any, *, timeout: float = 30, required: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            assert not required, "timed out"
            return
        time.sleep(0.01)


def blocked_in(settings: Settings) -> bool:
    """Whether some session waits for a lock on a table of this store's schema (PostgreSQL), or,
    on SQLite, whether half a second has passed (the starter then waits for the write lock)."""
    if not settings.uses_postgres:
        time.sleep(0.5)
        return True
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT l.granted AND n.nspname = %s",
            (settings.database_schema,),
        ).fetchone()
    return bool(row and row[0])


def test_a_projector_opening_a_new_views_file_another_is_setting_up_waits_its_turn(tmp_path: Path) -> None:
    """SQLite only: two projector processes (or a projector and an API worker) starting at once on
    a new data folder both open `views.sqlite` for the first time."""
    # Given a new views file that another process has open inside its first write transaction
    path = tmp_path / "views.sqlite"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute(
            "CREATE TABLE IF NOT EXISTS projection_tracking (name TEXT PRIMARY KEY, position INTEGER)"
        )
        # When a view database is opened on it, and the other commits half a second later
        done = threading.Timer(0.5, lambda: other.execute("COMMIT"))
        done.start()
        try:
            opened = SqliteViewDB(path)
        finally:
            done.join()
        # Then it waited for its turn (the connection's busy timeout), and works
        try:
            with opened.transaction() as tx:
                assert tx.fetchone("SELECT COUNT(*) FROM projection_tracking") == (0,)
        finally:
            opened.close()
    finally:
        other.close()


def test_one_projector_holds_the_lease_until_it_is_killed(
    settings: Settings, make_workflow: StoreFactory, clock: FakeClock, processes: list[ProjectorProcess]
) -> None:
    # Given view tables in place (a projector started in this process before any other: starting
    # one beside a projector in mid-page is another test's subject), and a log to follow
    workflow = make_workflow()
    head = write_history(workflow, clock, at_least=300)
    with ExitStack() as stack:
        projector = stack.enter_context(main_projector(settings))
        second = view_db(settings)
        stack.callback(second.close)
        # When a projector process follows the log with `run_forever`
        first = ProjectorProcess(settings, "forever")
        processes.append(first)
        first.wait_for("leased")
        # Then a second cannot take the lease while the first lives, and the first does the work
        assert not second.try_lease()
        assert projector.wait_for(head, timeout=60)
        assert first.proc.poll() is None, f"the leaseholder died{first.stderr()}"
        assert not second.try_lease()
        # When the first is killed
        first.kill()
        # Then the lease is free: the second takes it
        assert lease_taken_within(second, 30), "the lease outlived its holder"
        second.release_lease()


def test_a_waiting_projector_takes_over_when_the_leaseholder_is_killed(
    settings: Settings, make_workflow: StoreFactory, clock: FakeClock, processes: list[ProjectorProcess]
) -> None:
    # Given a projector process with `run_forever` that holds the lease and has caught up
    workflow = make_workflow()
    head = write_history(workflow, clock, at_least=300)
    with main_projector(settings) as projector:
        first = ProjectorProcess(settings, "forever")
        processes.append(first)
        first.wait_for("leased")
        assert projector.wait_for(head, timeout=60)
        # When a second starts, and more is written
        second = ProjectorProcess(settings, "forever")
        processes.append(second)
        second.wait_for("ready")
        head = write_history(workflow, clock, at_least=head + 200)
        # Then the second waits (it asks for the lease every second) while the first projects
        assert second.quiet_for("leased", 2.5), "two projectors held the lease at once"
        assert projector.wait_for(head, timeout=60)
        assert first.proc.poll() is None, f"the leaseholder died{first.stderr()}"
        # When the first is killed, and more is written
        first.kill()
        second.wait_for("leased", timeout=30)
        head = write_history(workflow, clock, at_least=head + 200)
        # Then the second follows the log to its head, and stops cleanly when asked
        assert projector.wait_for(head, timeout=60)
        second.proc.terminate()
        assert second.finish() == 0, second.stderr()
        assert second.seen[-1] == "stopped"


def test_wait_for_is_true_once_caught_up_and_false_on_time_out_while_behind(
    settings: Settings, make_workflow: StoreFactory, clock: FakeClock, processes: list[ProjectorProcess]
) -> None:
    # Given a log of a few hundred entries and a projector that has not started
    workflow = make_workflow()
    head = write_history(workflow, clock, at_least=300)
    with main_projector(settings, page_size=100) as projector:
        # Then it is behind by the whole log, and waiting for the head times out
        assert projector.lag() == head - projector.position() == head
        assert projector.wait_for(head, timeout=0.3) is False
        # When it has projected two pages
        projector.run_once()
        projector.run_once()
        # Then the lag is what remains
        assert projector.position() == 200
        assert projector.lag() == head - 200
        assert projector.wait_for(200, timeout=0.1) is True
        assert projector.wait_for(201, timeout=0.1) is False
        # When another process catches up while this one waits for a newer write
        result = workflow.record_opinion(
            OFFICER, kind="suggestion", area="culture", channel="hotline", unit="grid 1",
            text="More benches by the pond, please.",
        )  # fmt: skip
        assert result.position is not None
        assert result.position > head
        child = ProjectorProcess(settings, "together", page_size=100)
        processes.append(child)
        child.wait_for("waiting")
        child.send("go")
        # Then the wait answers True (read-your-writes across processes) and the lag is none
        assert projector.wait_for(result.position, timeout=60) is True
        assert child.finish() == 0, child.stderr()
        assert projector.lag() == 0
