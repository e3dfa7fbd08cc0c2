"""The SQLite event store's connections: writers queue among themselves, readers never behind them."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

from api.settings import Settings
from api.sqlite_store import SerialWriterSQLiteDatastore, SerialWriterSQLiteFactory
from api.storage import build_workflow


def test_a_read_is_answered_while_one_writer_holds_the_lock_and_another_waits(tmp_path: Path) -> None:
    # Given a writer inside its transaction and a second writer waiting for it
    store = SerialWriterSQLiteDatastore(str(tmp_path / "events.sqlite"))
    with store.transaction(commit=True) as c:
        c.execute("CREATE TABLE t (x INTEGER)")
    inside, release = threading.Event(), threading.Event()

    def first() -> None:
        with store.transaction(commit=True) as c:
            c.execute("INSERT INTO t VALUES (1)")
            inside.set()
            release.wait(10)

    def second() -> None:
        with store.transaction(commit=True) as c:
            c.execute("INSERT INTO t VALUES (2)")

    writers = [threading.Thread(target=first), threading.Thread(target=second)]
    writers[0].start()
    assert inside.wait(5)
    writers[1].start()
    time.sleep(0.2)  # let the second writer reach its wait
    # When a third thread reads
    seen: list[int] = []

    def read() -> None:
        with store.transaction(commit=False) as c:
            c.execute("SELECT count(*) FROM t")
            seen.append(c.fetchone()[0])

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(5)
    # Then it is answered at once, from the last committed state (the library's own pool kept it
    # queued behind the waiting writer until both writers were done)
    answered_while_writers_waited = not reader.is_alive()
    release.set()
    for thread in [*writers, reader]:
        thread.join(10)
    assert answered_while_writers_waited
    assert seen == [0]
    with store.transaction(commit=False) as c:
        c.execute("SELECT count(*) FROM t")
        assert c.fetchone()[0] == 2
    store.close()


def test_the_workflow_on_sqlite_uses_this_store(tmp_path: Path) -> None:
    workflow = build_workflow(Settings(data_dir=tmp_path / "var"))
    try:
        assert isinstance(workflow.factory, SerialWriterSQLiteFactory)
        assert isinstance(workflow.factory.datastore, SerialWriterSQLiteDatastore)
    finally:
        workflow.close()


def _hold_a_write(db_name: str, inside: Any, seconds: float) -> None:
    """Another process: write inside a transaction, say so, and keep the transaction open a while."""
    store = SerialWriterSQLiteDatastore(db_name)
    with store.transaction(commit=True) as c:
        c.execute("INSERT INTO t VALUES (1)")
        inside.set()
        time.sleep(seconds)
    store.close()


def test_a_writer_waits_for_a_writer_in_another_process_beyond_the_busy_timeout(tmp_path: Path) -> None:
    # Given a table, and another process (a second server worker, say) holding a write open for
    # longer than this store's SQLite busy timeout
    db_name = str(tmp_path / "events.sqlite")
    store = SerialWriterSQLiteDatastore(db_name, lock_timeout=0.2)
    with store.transaction(commit=True) as c:
        c.execute("CREATE TABLE t (x INTEGER)")
    context = multiprocessing.get_context("spawn")
    inside = context.Event()
    other = context.Process(target=_hold_a_write, args=(db_name, inside, 1.0))
    other.start()
    try:
        assert inside.wait(30)
        # When this process writes meanwhile
        with store.transaction(commit=True) as c:
            c.execute("INSERT INTO t VALUES (2)")
    finally:
        other.join(30)
    # Then it waited on the lock file for the other process's commit, rather than meeting
    # SQLite's busy handler and failing with "database is locked" after 0.2 s; both rows are kept
    # in the order the writers committed
    assert other.exitcode == 0
    with store.transaction(commit=False) as c:
        c.execute("SELECT x FROM t ORDER BY rowid")
        assert [row[0] for row in c.fetchall()] == [1, 2]
    store.close()
