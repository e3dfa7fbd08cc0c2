"""A hypothesis state machine: time passes, clocks pause and resume, deadlines are extended, and
two schedulers scan at the same moment (threads, each with its own application service and
projector over one SQLite store).

A model follows the same commands with the rules written out plainly, and after every step:
- the items' level, deadline, clock and committee flag are the model's;
- recomputed from each item's history: at most one escalation (or referral) per deadline, each
  answering the deadline then in force and only once it had passed, never while the clock was
  paused; every reminder once per deadline and lead, inside its window, never while paused; and
  the deadline after a resume = the deadline before it + the time the clock was paused;
- after a scan, the overdue index is empty and no reminder that was due is missing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock
from domain.rules import Actor, Level
from domain.workflow import Workflow
from projections.deadlines import due_reminders
from projections.projector import Projector
from projections.queries import overdue_items
from scheduler.jobs import escalate_overdue, send_reminders
from tests.conftest import START
from tests.integration.test_scheduler_support import seed_assigned
from tests.integration.viewtools import main_projector

LEADS = (timedelta(days=3), timedelta(days=1))
LEVELS = ("grid", "village", "district")
OFFICER = Actor("Village clerk")


@dataclass
class Item:
    """What the model expects of one item."""

    level: str
    deadline: datetime
    paused_since: datetime | None = None
    missed: set[datetime] = field(default_factory=set)
    on_committee: bool = False
    reminded: set[tuple[datetime, timedelta]] = field(default_factory=set)


class SchedulerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="caseline-scheduler-machine-"))
        config = Settings(
            data_dir=self.folder, service_days_grid=1, service_days_village=2, service_days_town=3,
            service_days_district=4,
        )  # fmt: skip
        self.clock = FakeClock(START)
        self.workflows: list[Workflow] = [build_workflow(config, clock=self.clock) for _ in range(2)]
        self.views = ExitStack()
        self.projectors: list[Projector] = [
            self.views.enter_context(main_projector(config)) for _ in range(2)
        ]
        self.levels = self.workflows[0].levels
        deadlines = [START + timedelta(days=d) for d in (2, 4, 6)]
        self.ids: list[UUID] = seed_assigned(self.workflows[0], at=START, deadlines=deadlines, levels=LEVELS)
        self.model = [Item(level, deadline) for level, deadline in zip(LEVELS, deadlines, strict=True)]

    def teardown(self) -> None:
        for workflow in self.workflows:
            workflow.close()
        self.views.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- rules ------------------------------------------------------------------------------------

    @rule(hours=st.integers(min_value=1, max_value=120))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    @rule(n=st.integers(min_value=0, max_value=len(LEVELS) - 1))
    def pause(self, n: int) -> None:
        item = self.model[n]
        if item.paused_since is not None:
            return
        self.workflows[n % 2].pause_clock(OFFICER, self.ids[n], reason="waiting for the water company")
        item.paused_since = self.clock.now()

    @rule(n=st.integers(min_value=0, max_value=len(LEVELS) - 1))
    def resume(self, n: int) -> None:
        item = self.model[n]
        if item.paused_since is None:
            return
        self.workflows[n % 2].resume_clock(OFFICER, self.ids[n])
        item.deadline += self.clock.now() - item.paused_since
        item.paused_since = None

    @rule(n=st.integers(min_value=0, max_value=len(LEVELS) - 1), days=st.integers(min_value=1, max_value=10))
    def extend(self, n: int, days: int) -> None:
        item = self.model[n]
        deadline = max(item.deadline, self.clock.now()) + timedelta(days=days)
        self.workflows[n % 2].extend_deadline(
            OFFICER, self.ids[n], deadline=deadline, reason="the contractor asked", approver="Director Liu"
        )
        item.deadline = deadline

    @rule()
    def two_schedulers_scan_at_once(self) -> None:
        now = self.clock.now()
        with ThreadPoolExecutor(max_workers=2) as pool:
            escalations = [
                pool.submit(escalate_overdue, w, p, now)
                for w, p in zip(self.workflows, self.projectors, strict=True)
            ]
            changed = sum(f.result(timeout=60).changed for f in escalations)
            reminders = [
                pool.submit(send_reminders, w, p, now, LEADS)
                for w, p in zip(self.workflows, self.projectors, strict=True)
            ]
            changed += sum(f.result(timeout=60).changed for f in reminders)
        expected = self._model_scan(now)
        assert changed == expected, f"the schedulers recorded {changed} things, the rules ask for {expected}"
        db = self.projectors[0].db
        self.projectors[0].catch_up()
        assert overdue_items(db, now=now) == []
        for lead in LEADS:
            assert due_reminders(db, now=now, lead=lead) == []

    def _model_scan(self, now: datetime) -> int:
        """What the rules say a scan at `now` records; applies it to the model."""
        recorded = 0
        for item in self.model:
            if item.paused_since is not None or not item.deadline < now or item.deadline in item.missed:
                continue
            item.missed.add(item.deadline)
            recorded += 1
            above = Level(item.level).above()
            if above is None:
                item.on_committee = True
            else:
                item.level = above.value
                item.deadline = self.levels.deadline_for(above.value, now)
        for item in self.model:
            for lead in LEADS:
                due = item.deadline - lead <= now < item.deadline
                if item.paused_since is None and due and (item.deadline, lead) not in item.reminded:
                    item.reminded.add((item.deadline, lead))
                    recorded += 1
        return recorded

    # -- invariants --------------------------------------------------------------------------------

    @invariant()
    def the_items_are_as_the_model_says(self) -> None:
        for n, expected in enumerate(self.model):
            issue = self.workflows[(n + 1) % 2].get_issue(self.ids[n])
            assert (issue.level, issue.deadline, issue.paused_since, issue.on_committee_list) == (
                expected.level, expected.deadline, expected.paused_since, expected.on_committee,
            )  # fmt: skip

    @invariant()
    def the_history_keeps_the_deadline_rules(self) -> None:
        for issue_id in self.ids:
            check_history(self.workflows[0].history(issue_id), self.workflows[0].get_issue(issue_id).deadline)


def check_history(history: list[Any], deadline_now: datetime | None) -> None:
    """Recompute an item's deadline from its history and check every escalation and reminder against it."""
    deadline: datetime | None = None
    paused_at: datetime | None = None
    escalated: Counter[datetime] = Counter()
    reminded: Counter[tuple[datetime, int]] = Counter()
    for event in history:
        name = type(event).__name__
        if name == "LeaderAssigned":
            deadline = event.deadline
        elif name == "DeadlineExtended":
            assert event.previous == deadline
            deadline = event.deadline
        elif name == "ClockPaused":
            paused_at = event.timestamp
        elif name == "ClockResumed":
            assert paused_at is not None
            assert deadline is not None
            assert event.deadline == deadline + (event.timestamp - paused_at), (
                "resume must add the paused time"
            )
            assert event.paused_seconds == (event.timestamp - paused_at).total_seconds()
            deadline, paused_at = event.deadline, None
        elif name in ("Escalated", "ReferredToStandingCommittee"):
            assert paused_at is None, "escalated while the clock was paused"
            assert event.for_deadline == deadline, "an escalation answers the deadline in force"
            assert event.timestamp > event.for_deadline, "escalated before the deadline passed"
            escalated[event.for_deadline] += 1
            if name == "Escalated":
                deadline = event.deadline
        elif name == "ReminderDue":
            assert paused_at is None, "reminded while the clock was paused"
            assert event.for_deadline == deadline
            lead = timedelta(seconds=event.lead_seconds)
            assert event.for_deadline - lead <= event.timestamp < event.for_deadline
            reminded[(event.for_deadline, event.lead_seconds)] += 1
    assert deadline == deadline_now
    assert set(escalated.values()) <= {1}, "escalated twice for one deadline"
    assert set(reminded.values()) <= {1}, "reminded twice for one deadline and lead"


TestSchedulerStateMachine = SchedulerMachine.TestCase
TestSchedulerStateMachine.settings = settings(
    max_examples=20,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
