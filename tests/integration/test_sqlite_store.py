"""The SQLite event store's connections: writers queue among themselves, readers never behind them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

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
