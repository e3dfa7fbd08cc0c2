"""The public register: an allow-list built only from what disclosure events published.

Nothing else reaches it: no reporter, no opinion text, no field an officer did not choose
to publish. Later disclosures update the fields they publish; the rest stay as published.
Besides, it follows whether a disclosed item is closed (its lifecycle, which Open311 shows the
public too), so a published deadline counts as missed only while the item is open: a closed item
can no longer be disclosed, so its last published deadline would otherwise stay "missed" forever."""

from __future__ import annotations

import json
from typing import Any

from projections.store import iso
from projections.view import Names, Rows, View, ViewState, topic

TABLE = """
CREATE TABLE IF NOT EXISTS {register} (
    issue_id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    published TEXT NOT NULL,
    published_where TEXT NOT NULL,
    deadline TEXT,
    first_disclosed_at TEXT NOT NULL,
    last_disclosed_at TEXT NOT NULL,
    disclosures INTEGER NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0
)"""

INDEXES = ["CREATE INDEX IF NOT EXISTS ix_register_last ON {register} (last_disclosed_at)"]


COLUMNS = (
    "issue_id", "number", "published", "published_where", "deadline", "first_disclosed_at",
    "last_disclosed_at", "disclosures", "closed",
)  # fmt: skip


class State(ViewState):
    def __init__(self, t: Names) -> None:
        self.register = Rows(t["register"], "issue_id", COLUMNS, "Issue")
        self.rows = (self.register,)


# `json.dumps` with options builds an encoder per call; one made once writes the same text.
_PUBLISHED = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def disclosed(state: State, event: Any, key: str) -> None:
    row = state.register.get(key)
    published: dict[str, str] = json.loads(row["published"]) if row else {}
    published.update(event.published)
    at = iso(event.timestamp)
    state.register.add(
        {
            "issue_id": key, "number": published["number"],
            "published": _PUBLISHED(published),
            "published_where": event.where, "deadline": published.get("deadline"),
            "first_disclosed_at": row["first_disclosed_at"] if row else at, "last_disclosed_at": at,
            "disclosures": row["disclosures"] + 1 if row else 1,
            "closed": 0,  # only an open item can be disclosed
        }
    )  # fmt: skip


def closed(state: State, event: Any, key: str) -> None:
    state.register.change(key, closed=1)  # (nothing for an item never disclosed)


def reopened(state: State, event: Any, key: str) -> None:
    state.register.change(key, closed=0)


VIEW = View(
    name="register",
    tables={"register": TABLE},
    state=State,
    indexes=INDEXES,
    handlers={
        topic("Issue", "Disclosed"): disclosed,
        topic("Issue", "Closed"): closed,
        topic("Issue", "ClosedAsFixed"): closed,
        topic("Issue", "Reopened"): reopened,
    },
    version=2,  # 2: `closed`
)
