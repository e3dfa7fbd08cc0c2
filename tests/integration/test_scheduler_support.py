"""Helpers for the scheduler's tests (no tests here): items seeded in bulk, the log read back.

Items are seeded by building the aggregates with the domain's own commands and saving them a
hundred at a time through the application service: the same events as the commands would
write, in a fraction of the time (hundreds of items per test).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from domain.clock import event_time
from domain.issue import Issue
from domain.workflow import Workflow

LEADER = "Zhang"
DEPARTMENT = "Public works office"
ESCALATIONS = ("caseline:Issue.Escalated", "caseline:Issue.ReferredToStandingCommittee")
REMINDERS = ("caseline:Issue.ReminderDue",)


def seed_assigned(
    workflow: Workflow,
    *,
    at: datetime,
    deadlines: Sequence[datetime],
    levels: Sequence[str] | None = None,
    unit: str = "grid 4",
    first_number: int = 1,
) -> list[UUID]:
    """Open and assign one item per deadline (leader Zhang), all at `at`; returns their ids in order."""
    ids: list[UUID] = []
    batch: list[Issue] = []
    with event_time(at):
        for n, deadline in enumerate(deadlines):
            issue = Issue.open(
                id=uuid4(), number=f"2026-{first_number + n:04d}", title=f"Item {first_number + n}",
                area="livelihood", level=(levels[n] if levels else "grid"), horizon="near",
                description=None, opinion_ids=[], actor="clerk", meeting_id=None, unit=unit,
            )  # fmt: skip
            issue.assign_leader(
                leader=LEADER, department=DEPARTMENT, goals=["fixed"], measures=["fix it"],
                deadline=deadline, now=at, actor="clerk", meeting_id=None,
            )  # fmt: skip
            ids.append(issue.id)
            batch.append(issue)
            if len(batch) == 100:
                workflow.save(*batch)
                batch = []
    if batch:
        workflow.save(*batch)
    return ids


def events_of(workflow: Workflow, topics: Sequence[str]) -> list[Any]:
    """Every stored event with one of these topics, in log order."""
    out: list[Any] = []
    start = 1
    while True:
        page = workflow.recorder.select_notifications(start=start, limit=5000, topics=list(topics))
        out += [workflow.mapper.to_domain_event(n) for n in page]
        if len(page) < 5000:
            return out
        start = page[-1].id + 1


def escalations_per_deadline(workflow: Workflow) -> Counter[tuple[UUID, datetime]]:
    """How many escalations (or referrals) each (issue, missed deadline) has."""
    return Counter((e.originator_id, e.for_deadline) for e in events_of(workflow, ESCALATIONS))


def reminders_per_key(workflow: Workflow) -> Counter[tuple[UUID, datetime, int]]:
    """How many reminders each (issue, deadline, lead seconds) has."""
    return Counter((e.originator_id, e.for_deadline, e.lead_seconds) for e in events_of(workflow, REMINDERS))
