"""The eventsourcing library's SQLite store, with writers queued before they take a connection.

The library's connection pool hands out connections one request at a time (a FIFO semaphore),
and a writer waits for the pool's writer lock while holding that semaphore. Under concurrent
commands every read queued behind a waiting writer, so each request waited for several other
requests' commits (py-spy of a server under bench/http_load.py: 43% of a request thread's time).
Here a writer first waits on a lock of its own, outside the pool, and only then asks for a
connection: readers (which never block in WAL mode) go straight through, and writers still
follow one another in this process, never meeting SQLite's busy handler, which sleeps.

Writers in other processes (`caseline serve --workers N`, a `caseline schedule` process, the
CLI) queue the same way: a writer holding the in-process lock then takes an exclusive `flock` on
a file beside the database (`<database>-writer.lock`) for the length of its transaction. The
kernel wakes the next waiter as soon as the lock is released; SQLite's busy handler instead
polls with sleeps of up to 100 ms and gives up when its time-out passes
(`tests/integration/test_sqlite_store.py` shows a writer outwaiting it). A process that dies
releases its lock with it. A writer that hangs inside its transaction holds up the others for as
long as it holds SQLite's own write lock, as before, but they wait without a time-out ending the
wait.

The pool also keeps as many idle connections as the server has threads that read: the
library's default of five closed and reopened a connection on most requests beyond five
at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from eventsourcing.sqlite import SQLiteConnection, SQLiteDatastore, SQLiteFactory
from eventsourcing.utils import Environment, EnvType

from projections.store import file_lock

TOPIC = "api.sqlite_store:SerialWriterSQLiteFactory"
POOL_SIZE = 40  # anyio's default thread limit: every request thread can keep its connection


class SerialWriterSQLiteDatastore(SQLiteDatastore):
    """An SQLite datastore whose writers queue on their own lock, not inside the pool."""

    def __init__(self, db_name: str, **options: object) -> None:
        super().__init__(db_name, **options)  # type: ignore[arg-type]
        self._writer = threading.Lock()
        self._lock_path = None if _in_memory(db_name) else db_name + "-writer.lock"

    def _across_processes(self) -> AbstractContextManager[None]:
        return nullcontext() if self._lock_path is None else file_lock(self._lock_path)

    @contextmanager
    def get_connection(self, *, commit: bool) -> Iterator[SQLiteConnection]:
        if not commit:
            with super().get_connection(commit=False) as conn:
                yield conn
            return
        with self._writer, self._across_processes(), super().get_connection(commit=True) as conn:
            yield conn


def _in_memory(db_name: str) -> bool:
    return db_name == ":memory:" or "mode=memory" in db_name


class SerialWriterSQLiteFactory(SQLiteFactory):
    """`eventsourcing.sqlite`'s factory over a `SerialWriterSQLiteDatastore`."""

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        configured = self.datastore
        self.datastore = SerialWriterSQLiteDatastore(
            configured.pool.db_name,
            lock_timeout=configured.pool.lock_timeout,
            pool_size=POOL_SIZE,
            single_row_tracking=configured.single_row_tracking,
            originator_id_type=configured.originator_id_type,
        )
        configured.close()
