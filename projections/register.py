"""The public register: an allow-list built only from what disclosure events published.

Nothing else reaches it: no reporter, no opinion text, no field an officer did not choose
to publish. Later disclosures update the fields they publish; the rest stay as published."""

from __future__ import annotations

import json
from typing import Any

from projections.store import Tx, iso
from projections.view import Names, View, topic

TABLE = """
CREATE TABLE IF NOT EXISTS {register} (
    issue_id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    published TEXT NOT NULL,
    published_where TEXT NOT NULL,
    deadline TEXT,
    first_disclosed_at TEXT NOT NULL,
    last_disclosed_at TEXT NOT NULL,
    disclosures INTEGER NOT NULL
)"""

INDEXES = ["CREATE INDEX IF NOT EXISTS ix_register_last ON {register} (last_disclosed_at)"]


def disclosed(tx: Tx, event: Any, t: Names) -> None:
    issue_id = str(event.originator_id)
    row = tx.fetchone(f"SELECT published FROM {t['register']} WHERE issue_id = ?", [issue_id])
    published: dict[str, str] = json.loads(row[0]) if row else {}
    published.update(event.published)
    at = iso(event.timestamp)
    tx.execute(
        f"INSERT INTO {t['register']} (issue_id, number, published, published_where, deadline, "
        "first_disclosed_at, last_disclosed_at, disclosures) VALUES (?, ?, ?, ?, ?, ?, ?, 1) "
        "ON CONFLICT (issue_id) DO UPDATE SET published = excluded.published, "
        "published_where = excluded.published_where, deadline = excluded.deadline, "
        f"last_disclosed_at = excluded.last_disclosed_at, disclosures = {t['register']}.disclosures + 1",
        [
            issue_id, published["number"], json.dumps(published, ensure_ascii=False, sort_keys=True),
            event.where, published.get("deadline"), at, at,
        ],
    )  # fmt: skip


VIEW = View(
    name="register",
    tables={"register": TABLE},
    indexes=INDEXES,
    handlers={topic("Issue", "Disclosed"): disclosed},
)
