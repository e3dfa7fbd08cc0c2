"""The projector: follows the event log in pages and keeps every view current, exactly once.

Each page of view rows and the new position are committed in one transaction, and the
position is read inside that transaction under the database's write lock (SQLite
`BEGIN IMMEDIATE`, PostgreSQL `SELECT ... FOR UPDATE`), so a crash never loses or doubles
an event and two projectors never apply the same page twice. `run_forever` also takes a
lease (a file lock or an advisory lock) so that of several projector processes one does
the work and the others wait; the lease dies with its process.

Rebuilding fills fresh tables (`board__new`, ...) from the start of the log, then, in one
transaction that also applies whatever arrived meanwhile, drops the old tables and renames
the new ones: readers see the old view or the new one, never half of either.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from projections import audit, board, feedback, inbox, open311, register, satisfaction
from projections.decoding import EventDecoder
from projections.store import Tx, ViewDB
from projections.view import CAPACITY, Handler, Names, View, ViewState

# Each topic's aggregate ("Issue"), and its handlers with the index of the view each belongs to.
Dispatch = dict[str, tuple[str, list[tuple[Handler, int]]]]
# A rebuild's handlers for each topic, each with the state of its view.
Bound = dict[str, list[tuple[Handler, ViewState]]]

ALL_VIEWS: tuple[View, ...] = (
    board.VIEW,
    audit.VIEW,
    feedback.VIEW,
    register.VIEW,
    satisfaction.VIEW,
    open311.VIEW,
    inbox.VIEW,
)
VIEWS_BY_NAME = {view.name: view for view in ALL_VIEWS}
TRACKING = "projection_tracking"
NEW = "__new"


class EventLog(Application[UUID]):
    """Read access to Caseline's event log (the same tables the workflow writes)."""

    name = "caseline"

    def __init__(self, env: dict[str, str]) -> None:
        if env.get("PERSISTENCE_MODULE") not in ("eventsourcing.sqlite", "eventsourcing.postgres"):
            raise RuntimeError("the projector reads a persistent event store (SQLite or PostgreSQL)")
        super().__init__(env=env)
        # Importing the aggregates registers their events' topics so they can be decoded.
        import domain.duty
        import domain.issue
        import domain.opinion  # noqa: F401

    def head(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def page(
        self, start: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()
    ) -> Sequence[Notification]:
        """Up to `limit` entries from `start` (to `stop`), of these `topics` only if any are named."""
        return self.recorder.select_notifications(start=start, limit=limit, stop=stop, topics=topics)


class Projector:
    """Keeps the views current from the event log; see the module docstring for the guarantees."""

    def __init__(
        self,
        log: EventLog,
        db: ViewDB,
        *,
        views: Sequence[View] = ALL_VIEWS,
        page_size: int = 1000,
        ensure: bool = True,
    ) -> None:
        self.log = log
        self.db = db
        self.views = tuple(views)
        self.page_size = page_size
        self.names: dict[str, Names] = {view.name: view.names(dialect=db.dialect) for view in self.views}
        self._dispatch = self._dispatch_for(self.views)
        # How each notification becomes an event (tests slow it down to kill a page half-way).
        self.decode: Callable[[Notification], Any] = EventDecoder(log.mapper)
        if ensure:  # a rebuild's worker process works on tables its parent has made
            self.ensure_tables()

    @staticmethod
    def _dispatch_for(views: Sequence[View]) -> Dispatch:
        """Each topic's aggregate, and its handlers with the index (in `views`) of each one's view."""
        dispatch: Dispatch = {}
        for at, view in enumerate(views):
            for event_topic, handler in view.handlers.items():
                aggregate = event_topic.partition(":")[2].partition(".")[0]
                dispatch.setdefault(event_topic, (aggregate, []))[1].append((handler, at))
        return dispatch

    def ensure_tables(self) -> None:
        """Create the tables, and fill any view that is new to this database, or whose version is, from
        the whole log."""
        postgres = self.db.dialect == "postgres"
        with self.db.transaction() as tx:
            if postgres:
                # CREATE ... IF NOT EXISTS races with a concurrent creator on PostgreSQL: serialise.
                tx.execute("SELECT pg_advisory_xact_lock(4242424201)")
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {TRACKING} (name TEXT PRIMARY KEY, position INTEGER NOT NULL)"
            )
            tx.execute(
                f"INSERT INTO {TRACKING} (name, position) VALUES ('views', 0) ON CONFLICT (name) DO NOTHING"
            )
        with self.db.transaction() as tx:
            if postgres:
                tx.execute("SELECT pg_advisory_xact_lock(4242424201)")
            # Lock the position row before any DDL, as every page does first: a running page
            # finishes before our index checks lock its tables, so the two never wait on each other.
            self._locked_position(tx)
            known = _view_markers(tx)
            for view in self.views:
                view.drop_retired(tx)
                view.create_tables(tx, self.names[view.name])
                if view.marker in known:  # a view to be filled gets its indexes when it is swapped in
                    view.create_indexes(tx, self.names[view.name])
        # A view added after the log began would only see new events, and one whose version changed
        # has tables of another shape: fill either from the start first. Its marker is written
        # after the rebuild, so a crash in between just rebuilds it again.
        if all(view.marker in known for view in self.views):
            return
        # Several processes (projector, API workers, schedulers) may start together: one fills,
        # the others wait for it and then find the markers written.
        with self.db.rebuild_lock():
            with self.db.read() as tx:
                known = _view_markers(tx)
            pending = [view for view in self.views if view.marker not in known]
            if pending:
                self._rebuild([view.name for view in pending], progress=None)
            with self.db.transaction() as tx:
                for view in pending:
                    # (the markers of the view's earlier versions go)
                    tx.execute(
                        f"DELETE FROM {TRACKING} WHERE name = ? OR name LIKE ?",
                        [f"view:{view.name}", f"view:{view.name}:v%"],
                    )
                    tx.execute(f"INSERT INTO {TRACKING} (name, position) VALUES (?, 0)", [view.marker])

    # -- following the log --------------------------------------------------------------

    def _locked_position(self, tx: Tx) -> int:
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        row = tx.fetchone(f"SELECT position FROM {TRACKING} WHERE name = 'views'{lock}")
        return int(row[0]) if row else 0

    def position(self) -> int:
        """How far the views have got in the log."""
        with self.db.read() as tx:
            row = tx.fetchone(f"SELECT position FROM {TRACKING} WHERE name = 'views'")
        return int(row[0]) if row else 0

    def lag(self) -> int:
        """How many log positions the views are behind."""
        return max(0, self.log.head() - self.position())

    def _apply(
        self,
        tx: Tx,
        notifications: Sequence[Notification],
        states: Sequence[ViewState],
        dispatch: Dispatch,
        *,
        final: bool = True,
    ) -> None:
        """Apply a page: decode the events some view reads, let each view load the rows of the
        page's originators, run the handlers in log order, then let each view write what changed
        (all of it when `final`; a rebuild keeps rows in memory until its last page)."""
        to_event = self.decode
        entries: list[tuple[Any, str, list[tuple[Handler, int]]]] = []
        keys: list[dict[str, set[str]]] = [defaultdict(set) for _ in states]
        for notification in notifications:
            found = dispatch.get(notification.topic)
            if found:
                aggregate, handlers = found
                key = str(notification.originator_id)
                entries.append((to_event(notification), key, handlers))
                for _, at in handlers:
                    keys[at][aggregate].add(key)
        busy = [at for at, page_keys in enumerate(keys) if page_keys]
        for at in busy:
            states[at].begin(tx, keys[at])
        for event, key, handlers in entries:
            for handler, at in handlers:
                handler(states[at], event, key)
        for at in busy:
            states[at].end(tx, final=final)

    def run_once(self) -> int:
        """Project the next page; returns how many log entries it consumed."""
        with self.db.transaction() as tx:
            position = self._locked_position(tx)
            notifications = self.log.page(position + 1, self.page_size)
            if not notifications:
                return 0
            states = [view.state(self.names[view.name]) for view in self.views]
            self._apply(tx, notifications, states, self._dispatch)
            tx.execute(f"UPDATE {TRACKING} SET position = ? WHERE name = 'views'", [notifications[-1].id])
        return len(notifications)

    def catch_up(self) -> int:
        """Project until the views reach the head of the log; returns entries consumed."""
        total = 0
        while consumed := self.run_once():
            total += consumed
        return total

    def run_forever(self, stop: threading.Event, *, interval: float = 0.2) -> None:
        """Hold the lease (waiting while another projector has it) and follow the log until stopped."""
        while not stop.is_set():
            if not self.db.try_lease():
                stop.wait(1.0)
                continue
            if not self.run_once():
                stop.wait(interval)
        self.db.release_lease()

    def wait_for(self, position: int, *, timeout: float = 5.0) -> bool:
        """Read-your-writes: wait until the views include `position`; False on time-out.

        A position past the head of the log was never handed out: waiting for it would only hold
        the caller for the whole time-out, so it waits for the head instead (the log is read only
        when the views are behind `position`)."""
        if self.position() >= position:
            return True
        position = min(position, self.log.head())
        deadline = time.monotonic() + timeout
        while self.position() < position:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    # -- rebuilding ---------------------------------------------------------------------

    def rebuild(
        self,
        view_names: Sequence[str] | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        jobs: int = 1,
    ) -> int:
        """Rebuild views from zero into fresh tables and swap them in atomically; returns events read.

        One rebuild at a time per database (they share the `__new` tables): others wait. `jobs`
        processes share the work (see `_fill`): worth it where that many cores are idle (each
        process reads the whole log; bench/README.md has the figures)."""
        unknown = set(view_names or ()) - set(VIEWS_BY_NAME)
        if unknown:
            raise ValueError(f"unknown views: {', '.join(sorted(unknown))}")
        with self.db.rebuild_lock():
            return self._rebuild(view_names, progress=progress, jobs=jobs)

    def _rebuild(
        self,
        view_names: Sequence[str] | None,
        *,
        progress: Callable[[int, int], None] | None,
        jobs: int = 1,
    ) -> int:
        views = [v for v in self.views if view_names is None or v.name in view_names]
        fresh = {view.name: view.names(NEW, dialect=self.db.dialect) for view in views}
        with self.db.transaction() as tx:
            for view in views:
                for table in fresh[view.name].values():
                    tx.execute(f"DROP TABLE IF EXISTS {table}")
                view.create_tables(tx, fresh[view.name])
        target = self.position()
        names = [view.name for view in views]
        workers = [_start_worker(self, names, target, part, jobs) for part in range(1, jobs)]
        try:
            done = self._fill(views, fresh, target, part=0, parts=jobs, progress=progress)
        except BaseException:
            for worker in workers:
                worker.terminate()  # this part failed or was interrupted: the others' work is moot
            raise
        finally:
            failed = [code for worker in workers if (code := _finish(worker)) != 0]
        if failed:
            raise RuntimeError(
                f"a rebuild worker failed (exit codes {failed}); the views were left as they were"
            )
        # The rows are all written: what arrived since `target` is applied to them as a live page is,
        # by states that read the new tables (and leave the text index to the swap, as `_fill` did).
        states = _rebuild_states(views, fresh, empty=False)
        dispatch = self._dispatch_for(views)
        start = target + 1
        with self.db.transaction() as tx:
            # Under the write lock: apply what the live projector added since, then swap.
            position = self._locked_position(tx)
            while start <= position:
                notifications = self.log.page(start, self.page_size, stop=position)
                if not notifications:
                    break
                self._apply(tx, notifications, states, dispatch)
                done += len(notifications)
                start = notifications[-1].id + 1
            for view in views:
                for table, new_table in fresh[view.name].items():
                    tx.execute(f"DROP TABLE IF EXISTS {table}")
                    tx.execute(f"ALTER TABLE {new_table} RENAME TO {table}")
                view.create_indexes(tx, self.names[view.name])
        return done

    def _fill(
        self,
        views: Sequence[View],
        fresh: Mapping[str, Names],
        target: int,
        *,
        part: int,
        parts: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Fill the fresh tables from the log up to `target` (returned: the entries it covered) with
        the events of one part of the originators (`originator_id.int % parts == part`). Every row
        of every view depends on one originator's events only (and the board's counts add up), so
        parts can be filled by separate processes at once: each reads the whole log (the entries of
        the topics its views read), but decodes and handles only its share. Rows stay in memory
        until the end (or `CAPACITY`), then are written in key order."""
        states = _rebuild_states(views, fresh, empty=True)
        dispatch = self._dispatch_for(views)
        bound: Bound = {
            topic: [(handler, states[at]) for handler, at in handlers]
            for topic, (_, handlers) in dispatch.items()
        }
        keys: dict[int | str, str] = {}
        # Only the entries some view reads are read (a rebuild of one view reads its topics alone).
        topics = list(dispatch)
        start = 1
        with _old_objects_frozen():
            while start <= target:
                page = self.log.page(start, self.page_size, stop=target, topics=topics)
                if not page:
                    break
                mine = page if parts == 1 else [n for n in page if _part(n.originator_id, parts) == part]
                # Most pages write nothing (rows stay in memory), so a page takes the database's write
                # lock only if it must write: parts in other processes are not held up by it.
                with _LazyTx(self.db) as tx:
                    if all(state.complete for state in states):
                        self._replay(mine, bound, keys)
                        for state in states:
                            state.end(tx, final=False)
                    else:  # some table's rows were written out (`CAPACITY`): pages load them again
                        self._apply(tx, mine, states, dispatch, final=False)
                start = page[-1].id + 1
                if progress:
                    progress(min(start - 1, target), target)
            if progress:
                progress(target, target)  # the entries after the last page are of no view's topics
            with self.db.transaction() as tx:
                if parts > 1 and self.db.dialect == "postgres":
                    # Every part adds to the board's counts rows, each in its own order: on PostgreSQL
                    # two parts writing at once could lock them crosswise and deadlock (seen in the
                    # three-process test). Their last writes go one after another instead.
                    tx.execute("SELECT pg_advisory_xact_lock(4242424203)")
                for state in states:
                    state.end(tx)  # every row the part still holds in memory
        return target  # every entry up to it was read, or is of a topic no view reads

    def _replay(
        self, notifications: Sequence[Notification], bound: Bound, keys: dict[int | str, str]
    ) -> None:
        """Handle a rebuild's page while every state holds all its rows: nothing to load, so each event
        goes to its handlers as soon as it is decoded, and nothing is kept for the page. `keys`
        remembers each originator's id as text (by the UUID's integer, which needs no Python call
        to hash): an issue has a dozen events, and formatting a UUID costs more than a lookup."""
        decode = self.decode
        for notification in notifications:
            handlers = bound.get(notification.topic)
            if handlers:
                originator = notification.originator_id
                known = originator.int if isinstance(originator, UUID) else originator
                key = keys.get(known)
                if key is None:
                    if len(keys) >= CAPACITY:
                        keys.clear()
                    key = keys[known] = str(originator)
                event = decode(notification)
                for handler, state in handlers:
                    handler(state, event, key)


@contextmanager
def _old_objects_frozen() -> Iterator[None]:
    """While a rebuild fills, the garbage collector leaves alone the objects that were there before.

    A rebuild allocates millions of objects, so the collector runs its full collection several
    times, and each walks every object of the process (the web framework's included: most of the
    walk) although a rebuild makes no reference cycles. Frozen, those are skipped (bench/README.md,
    `rebuild.py`: a one-off measurement, not a figure the script prints). Unless something else
    froze objects already: then theirs stays its choice (`unfreeze` would undo it)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _view_markers(tx: Tx) -> set[str]:
    """The views this database has been filled for (`View.marker` rows of the tracking table)."""
    return {row[0] for row in tx.fetchall(f"SELECT name FROM {TRACKING} WHERE name LIKE 'view:%'")}


def _rebuild_states(views: Sequence[View], fresh: Mapping[str, Names], *, empty: bool) -> list[ViewState]:
    states = [view.state(fresh[view.name]) for view in views]
    for state in states:
        state.rebuilding(empty=empty)
    return states


class _LazyTx:
    """A transaction begun by the first statement that needs it, committed (or rolled back) on exit."""

    def __init__(self, db: ViewDB) -> None:
        self._db = db
        self._context: Any = None
        self._tx: Tx | None = None

    def _open(self) -> Tx:
        if self._tx is None:
            self._context = self._db.transaction()
            self._tx = self._context.__enter__()
        return self._tx

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._open().execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._open().executemany(sql, rows)

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return self._open().fetchone(sql, params)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._open().fetchall(sql, params)

    def __enter__(self) -> _LazyTx:
        return self

    def __exit__(self, *failure: object) -> None:
        if self._context is not None:
            self._context.__exit__(*failure)


def _part(originator_id: UUID | str, parts: int) -> int:
    """Which of `parts` parts of a rebuild an originator's events belong to."""
    return (originator_id if isinstance(originator_id, UUID) else UUID(originator_id)).int % parts


def _start_worker(projector: Projector, views: list[str], target: int, part: int, parts: int) -> Any:
    """A process filling one part of a rebuild (spawned: nothing of this process is shared)."""
    process = multiprocessing.get_context("spawn").Process(
        target=_fill_part,
        args=(
            dict(projector.log.env),
            projector.db,  # pickled as what it connects to (ViewDB.__reduce__)
            views,
            target,
            part,
            parts,
            projector.page_size,
        ),
        name=f"caseline-rebuild-{part}",
        daemon=True,
    )
    process.start()
    return process


def _finish(process: Any) -> int:
    process.join()
    return int(process.exitcode if process.exitcode is not None else -1)


def _fill_part(
    env: dict[str, str],
    db: ViewDB,
    views: list[str],
    target: int,
    part: int,
    parts: int,
    page: int,
) -> None:
    log = EventLog(env)
    try:
        projector = Projector(
            log, db, views=[VIEWS_BY_NAME[name] for name in views], page_size=page, ensure=False
        )
        selected = projector.views
        fresh = {view.name: view.names(NEW, dialect=db.dialect) for view in selected}
        projector._fill(selected, fresh, target, part=part, parts=parts)
    finally:
        db.close()
        log.close()
