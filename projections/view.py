"""What a view is: its tables, its indexes, and one handler per event topic it reads.

Tables and indexes are templates over logical table names (`{board}`), so a rebuild can
fill fresh physical tables (`board__new`) from zero and swap them in atomically. A view
reads and writes only its own tables, which is what makes it rebuildable on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from projections.store import Tx

Names = Mapping[str, str]
Handler = Callable[[Tx, Any, Names], None]


@dataclass(frozen=True)
class View:
    """A read model: table templates, index templates and handlers by event topic."""

    name: str
    tables: dict[str, str]
    indexes: list[str] = field(default_factory=list)
    handlers: dict[str, Handler] = field(default_factory=dict)

    def names(self, suffix: str = "") -> dict[str, str]:
        """Physical table names for this view (with a suffix while rebuilding)."""
        return {table: f"{table}{suffix}" for table in self.tables}

    def create_tables(self, tx: Tx, names: Names) -> None:
        for ddl in self.tables.values():
            tx.execute(ddl.format(**names))

    def create_indexes(self, tx: Tx, names: Names) -> None:
        for ddl in self.indexes:
            tx.execute(ddl.format(**names))


def topic(aggregate: str, event: str) -> str:
    """The stored topic of an event (stable: set on every event class)."""
    return f"caseline:{aggregate}.{event}"
