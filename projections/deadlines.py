"""Deadlines ahead: the items whose leader is due a reminder, for the scheduler.

Reads the board (deadlines) and the inbox (reminders already recorded), so an item already
reminded for this deadline and lead time is not offered again: the scan's cost follows the
items due a reminder, not every item whose deadline is near.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from projections.board import CLOCK_RUNNING
from projections.store import ViewDB, iso


def due_reminders(db: ViewDB, *, now: datetime, lead: timedelta, limit: int = 1000) -> list[dict[str, Any]]:
    """Items being worked on, clock running, whose deadline is at most `lead` away and still ahead,
    and whose leader has not been reminded `lead` before this deadline; nearest deadline first."""
    with db.read() as tx:
        rows = tx.fetchall(
            "SELECT issue_id, number, deadline FROM board b "
            f"WHERE {CLOCK_RUNNING} "
            "AND deadline > ? AND deadline <= ? "
            "AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.issue_id = b.issue_id AND i.kind = 'reminder' "
            "AND i.for_deadline = b.deadline AND i.lead_seconds = ?) "
            "ORDER BY deadline, number LIMIT ?",
            [iso(now), iso(now + lead), int(lead.total_seconds()), limit],
        )
    return [dict(zip(("issue_id", "number", "deadline"), row, strict=True)) for row in rows]
