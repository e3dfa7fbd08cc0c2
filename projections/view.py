"""What a view is: its tables, its indexes, and one handler per event topic it reads.

Tables and indexes are templates over logical table names (`{board}`), so a rebuild can
fill fresh physical tables (`board__new`) from zero and swap them in atomically. A view
reads and writes only its own tables, which is what makes it rebuildable on its own.

A view works a page of the log at a time through its state (`View.state`): the projector tells
the state which originators the page's events come from (`begin`), so it loads the rows they
will touch in one query per table; the handlers change rows in memory; `end` writes every
changed row with one `executemany` per table. A page costs a few statements whatever its size,
instead of a statement or two per event and view. A rebuild keeps one state for the whole log:
its tables start empty, so nothing needs loading, and each row is written once, at the end (or
whenever a table's rows held in memory pass `CAPACITY`), in key order, so the new tables'
B-trees grow at their right edge instead of being written all over, page after page.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Protocol

from projections.store import Tx

Names = Mapping[str, str]
# The originator ids of a page's events, by aggregate ("Issue", "Opinion", "Duty").
Keys = Mapping[str, Collection[str]]
# A handler changes its view's state for one event; the key is the event's originator id.
Handler = Callable[[Any, Any, str], None]
CHUNK = 500  # keys per `IN (...)` list: well under SQLite's and PostgreSQL's parameter limits
CAPACITY = 50_000  # rows a table's state holds in memory before a rebuild writes them out
_FIRST = itemgetter(0)


@dataclass(frozen=True)
class View:
    """A read model: table templates, index templates, its state and handlers by event topic."""

    name: str
    tables: dict[str, str]
    state: Callable[[Names], ViewState]
    indexes: list[str] = field(default_factory=list)
    handlers: dict[str, Handler] = field(default_factory=dict)
    # Tables only SQLite has (a full-text index, say): absent from `names` on PostgreSQL.
    sqlite_tables: dict[str, str] = field(default_factory=dict)
    # Tables an earlier version of the view kept and this one no longer does: dropped at start-up.
    retired: tuple[str, ...] = ()
    # Raised when the tables' shape or meaning changes: a database filled by an earlier version
    # has the view rebuilt from the log at start-up (`Projector.ensure_tables`).
    version: int = 1

    @property
    def marker(self) -> str:
        """The tracking row saying a database holds this version of the view, filled from the log."""
        return f"view:{self.name}" if self.version == 1 else f"view:{self.name}:v{self.version}"

    def names(self, suffix: str = "", *, dialect: str = "sqlite") -> dict[str, str]:
        """Physical table names for this view in a database of `dialect` (with a suffix while rebuilding)."""
        tables = [*self.tables, *(self.sqlite_tables if dialect == "sqlite" else ())]
        return {table: f"{table}{suffix}" for table in tables}

    def create_tables(self, tx: Tx, names: Names) -> None:
        for table, ddl in {**self.tables, **self.sqlite_tables}.items():
            if table in names:
                tx.execute(ddl.format(**names))

    def drop_retired(self, tx: Tx) -> None:
        for table in self.retired:
            tx.execute(f"DROP TABLE IF EXISTS {table}")

    def create_indexes(self, tx: Tx, names: Names) -> None:
        for ddl in self.indexes:
            tx.execute(ddl.format(**names))


def topic(aggregate: str, event: str) -> str:
    """The stored topic of an event (stable: set on every event class)."""
    return f"caseline:{aggregate}.{event}"


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    return (values[start : start + size] for start in range(0, len(values), size))


def values_of(columns: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values in the order of `columns`, as a tuple (`itemgetter`: no Python call per row)."""
    assert len(columns) > 1, "an itemgetter of one column gives the value, not a tuple"
    return itemgetter(*columns)


class Rows:
    """A table's rows keyed by one column: read a page's worth together, changed in memory,
    written together.

    `get` answers None for a row that does not exist (an event about something the view never
    recorded changes nothing, as an UPDATE of no row would); `add` and `change` mark a row to be
    written, as a whole (an upsert). `aggregate` says whose ids the key holds."""

    def __init__(self, table: str, key: str, columns: Sequence[str], aggregate: str) -> None:
        self.table = table
        self.key = key
        self.columns = tuple(columns)
        self.aggregate = aggregate
        self._values = values_of(self.columns)
        self.tx: Tx | None = None
        # True while every row of the table is in `_rows` (a table being rebuilt from empty).
        self.complete = False
        self._rows: dict[str, dict[str, Any] | None] = {}
        self._changed: dict[str, None] = {}

    def begin(self, tx: Tx, keys: Keys) -> None:
        self.tx = tx
        self.load(keys.get(self.aggregate, ()))

    def load(self, keys: Iterable[str]) -> None:
        if self.complete:
            return
        assert self.tx is not None, "begin() first"
        missing = [key for key in keys if key not in self._rows]
        select = f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE {self.key} IN "
        at = self.columns.index(self.key)
        for part in chunks(missing):
            for row in self.tx.fetchall(f"{select}({', '.join('?' * len(part))})", part):
                self._rows[row[at]] = dict(zip(self.columns, row, strict=True))
        for key in missing:
            self._rows.setdefault(key, None)

    def get(self, key: str) -> dict[str, Any] | None:
        if key not in self._rows:
            if self.complete:
                return None
            self.load((key,))
        return self._rows[key]

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """A new row (every column given); replaces what the state knew under its key."""
        key = row[self.key]
        self._rows[key] = row
        self._changed[key] = None
        return row

    def change(self, key: str, **values: Any) -> dict[str, Any] | None:
        """Set columns of an existing row; None (and nothing written) when there is no such row."""
        row = self.get(key)
        if row is not None:
            row.update(values)
            self._changed[key] = None
        return row

    def touched(self, key: str) -> None:
        """Mark a row changed in place (through the dict `get` returned)."""
        if self._rows.get(key) is not None:
            self._changed[key] = None

    def write(self, tx: Tx) -> None:
        values, rows = self._values, self._rows
        changed = [values(row) for key in sorted(self._changed) if (row := rows[key]) is not None]
        upsert(tx, self.table, (self.key,), self.columns, changed)
        self._changed.clear()

    def __len__(self) -> int:
        return len(self._rows)

    def forget(self) -> None:
        """Drop what is held (after `write`): later reads go to the table again."""
        self._rows.clear()
        self.complete = False


class Appends:
    """Rows a table only ever gains (one per event and recipient, say): written in one statement.

    `ignore` names a unique key whose existing rows are left alone."""

    def __init__(self, table: str, columns: Sequence[str], *, ignore: str = "") -> None:
        conflict = f" ON CONFLICT ({ignore}) DO NOTHING" if ignore else ""
        self.sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}){conflict}"
        )
        self.rows: list[tuple[Any, ...]] = []
        # Adding a row is the list's own append: no call of ours per row.
        self.add: Callable[[tuple[Any, ...]], None] = self.rows.append

    def write(self, tx: Tx) -> None:
        """Write the rows in key order (the tables' keys lead with their first column)."""
        if self.rows:
            self.rows.sort(key=_FIRST)
            tx.executemany(self.sql, self.rows)
            self.rows.clear()

    def __len__(self) -> int:
        return len(self.rows)


class Keyed(Protocol):
    """What a view state holds for a keyed table (`Rows`, or a view's own shape of it)."""

    complete: bool

    def begin(self, tx: Tx, keys: Keys) -> None: ...

    def write(self, tx: Tx) -> None: ...

    def forget(self) -> None: ...

    def __len__(self) -> int: ...


class ViewState:
    """A view's working state: its keyed tables (`rows`) and its append-only tables (`appends`).

    Subclasses set both in `__init__` and add what their handlers need; `write_more` is for
    anything else to write at the end of each page."""

    rows: tuple[Keyed, ...] = ()
    appends: tuple[Appends, ...] = ()

    def begin(self, tx: Tx, keys: Keys) -> None:
        """A page starts: load the rows its events will touch."""
        for rows in self.rows:
            rows.begin(tx, keys)

    @property
    def complete(self) -> bool:
        """True while every row of its keyed tables is in memory (a rebuild from empty): nothing to load."""
        return all(rows.complete for rows in self.rows)

    def rebuilding(self, *, empty: bool = True) -> None:
        """The state works for a rebuild. With `empty`, its tables are new and empty: nothing to load,
        and every row stays in memory until `end(final)`."""
        for rows in self.rows:
            rows.complete = empty

    def end(self, tx: Tx, *, final: bool = True) -> None:
        """A page ends: write what changed if `final` (else only the tables whose rows fill `CAPACITY`)."""
        for appends in self.appends:
            if final or len(appends) > CAPACITY:
                appends.write(tx)
        if final:
            self.write_more(tx)
        for rows in self.rows:
            if final or len(rows) > CAPACITY:
                rows.write(tx)
                if len(rows) > CAPACITY:
                    rows.forget()

    def write_more(self, tx: Tx) -> None:
        """Anything else the view writes with its rows at the end of a page (of a rebuild: at the end)."""


def upsert(
    tx: Tx, table: str, key: Sequence[str], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows, or overwrite every non-key column of the rows whose key exists already."""
    if not rows:
        return
    changes = ", ".join(f"{column} = excluded.{column}" for column in columns if column not in key)
    tx.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {changes}",
        rows,
    )
