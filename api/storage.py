"""The composition root: builds the application service on the configured store.

Contact details (personal data) are kept in a table beside the event store, never in the
log, so erasing one is a row delete: SQLite in the data folder, or PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import psycopg

from api import sqlite_store
from api.settings import Settings
from domain.calendar import WorkCalendar
from domain.clock import Clock, SystemClock
from domain.contacts import Contact, ContactStore
from domain.issue import ServiceLevels
from domain.workflow import Workflow
from projections.projector import EventLog, Projector
from projections.store import PostgresViewDB, SqliteViewDB, ViewDB, advisory_lock, switch_to_wal
from scheduler.calendar import work_calendar

_CONTACT_COLUMNS = "ref, name, phone, address"


class SqliteContacts:
    """Contact rows in their own SQLite file in the data folder."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        switch_to_wal(self._db)
        # Erased contacts must not linger in free pages: overwrite deleted content with zeros.
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS contacts (ref TEXT PRIMARY KEY, name TEXT, phone TEXT, address TEXT)"
        )

    def put(self, ref: UUID, contact: Contact) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT OR IGNORE INTO contacts ({_CONTACT_COLUMNS}) VALUES (?, ?, ?, ?)",
                (str(ref), contact.name, contact.phone, contact.address),
            )

    def get(self, ref: UUID) -> Contact | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, phone, address FROM contacts WHERE ref = ?", (str(ref),)
            ).fetchone()
        return None if row is None else Contact(*row)

    def erase(self, ref: UUID) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM contacts WHERE ref = ?", (str(ref),))
            # ...nor in the write-ahead log: fold it into the database file and truncate it.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return cursor.rowcount > 0

    def close(self) -> None:
        self._db.close()


class PostgresContacts:
    """Contact rows in a `caseline_contacts` table of the PostgreSQL database."""

    def __init__(self, conninfo: str, schema: str | None = None) -> None:
        self._table = f"{schema}.caseline_contacts" if schema else "caseline_contacts"
        self._db = psycopg.connect(conninfo, autocommit=True)
        self._lock = threading.Lock()
        with self._lock:
            if schema:
                # The event store's tables go into this schema too; it must exist before they do.
                self._db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table} "  # identifiers from settings, not input
                "(ref uuid PRIMARY KEY, name text, phone text, address text)"
            )

    def put(self, ref: UUID, contact: Contact) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT INTO {self._table} ({_CONTACT_COLUMNS}) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (ref) DO NOTHING",
                (ref, contact.name, contact.phone, contact.address),
            )

    def get(self, ref: UUID) -> Contact | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT name, phone, address FROM {self._table} WHERE ref = %s", (ref,)
            ).fetchone()
        return None if row is None else Contact(*row)

    def erase(self, ref: UUID) -> bool:
        with self._lock:
            cursor = self._db.execute(f"DELETE FROM {self._table} WHERE ref = %s", (ref,))
        return cursor.rowcount > 0

    def close(self) -> None:
        self._db.close()


def contact_store(settings: Settings) -> SqliteContacts | PostgresContacts:
    """The contact store beside the configured event store."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteContacts(settings.data_dir / "contacts.sqlite")
    return PostgresContacts(settings.database_url, settings.database_schema)


def build_workflow(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    contacts: ContactStore | None = None,
) -> Workflow:
    """The application service wired to the configured store and clock."""
    settings = settings or Settings()
    env = settings.event_store_env()
    if settings.issue_cache:
        # The library's aggregate cache with fast-forward: a command reads only the events written
        # since the cached version (by any process) and works on a copy, instead of reading a
        # snapshot and replaying up to 49 events (bench/commands.py; bench/README.md).
        env["AGGREGATE_CACHE_MAXSIZE"] = str(settings.issue_cache)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        env["PERSISTENCE_MODULE"] = sqlite_store.TOPIC
    with setup_lock(settings):
        contacts = contacts or contact_store(settings)  # first: it creates the PostgreSQL schema
        return Workflow(
            env,
            clock=clock or SystemClock(),
            contacts=contacts,
            levels=service_levels(settings),
            satisfaction_target=settings.satisfaction_target,
            retries=settings.command_retries,
        )


@contextmanager
def setup_lock(settings: Settings) -> Iterator[None]:
    """On PostgreSQL, one process at a time sets up its stores (schema, event store, views,
    contacts, credentials): the library re-creates its tables and functions on every start, and
    two doing so at the same instant fail ('tuple concurrently updated'); two `CREATE ... IF NOT
    EXISTS` of one table or schema at the same instant fail too ('duplicate key value violates
    unique constraint "pg_type_typname_nsp_index"'), as when `caseline serve --workers 2` starts
    on a new database. Not nested: each holder takes a connection of its own."""
    if settings.database_url is None:
        yield
        return
    with advisory_lock(settings.database_url, 4242424202):
        yield


def service_levels(settings: Settings) -> ServiceLevels:
    """Each level's service level, in working days against the holiday calendar unless told otherwise."""
    return ServiceLevels(
        grid=settings.service_days_grid,
        village=settings.service_days_village,
        town=settings.service_days_town,
        district=settings.service_days_district,
        working_days=settings.working_days,
        calendar=work_calendar(settings.holidays_file) if settings.working_days else WorkCalendar(),
    )


def view_db(settings: Settings) -> ViewDB:
    """The view database beside the configured event store."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteViewDB(settings.data_dir / "views.sqlite")
    return PostgresViewDB(settings.database_url, settings.database_schema)


def build_projector(settings: Settings | None = None, *, page_size: int = 1000) -> Projector:
    """The projector over the configured event log and view database."""
    settings = settings or Settings()
    with setup_lock(settings):
        db = view_db(settings)  # first: on PostgreSQL it creates the schema
        log = EventLog(settings.event_store_env())
    return Projector(log, db, page_size=page_size)
