"""The scheduler's jobs: plain functions that read the views and send commands.

None of them writes an event itself or decides anything the aggregate decides: a job offers
each candidate to the application service, and the aggregate records an escalation, a
reminder or a duty only if it is due and not yet recorded. So any number of schedulers, a
restart, or a stale view never double nor skip one; a view that lags only delays work, and
each job first brings the views up to the log's head.

A command refused for one item (say, conflicts that outlasted the retries) is logged by the
item's number and counted; the job goes on with the others and the next run retries.
"""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from domain.clock import Clock
from domain.duty import MAX_LISTED, Duty, DutyKind
from domain.errors import CaselineError
from domain.rules import MAX_LIST
from domain.workflow import Result, Workflow
from projections.deadlines import due_reminders
from projections.inbox import UNIT, known_units, raised_duties
from projections.projector import Projector
from projections.queries import overdue_items, unanswered
from scheduler import mail
from scheduler.duties import DUTIES, DutySpec, current

log = logging.getLogger("caseline.scheduler")

DEFAULT_LEADS = (timedelta(days=3), timedelta(days=1))
CHINA = ZoneInfo("Asia/Shanghai")


@dataclass
class JobReport:
    """What one run of a job did: candidates seen, commands that recorded something, failures."""

    job: str
    seen: int = 0
    changed: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.job}: {self.changed} recorded, {self.seen} looked at, {self.failed} failed"


def _offer(report: JobReport, what: str, command: Callable[[], Result]) -> None:
    report.seen += 1
    try:
        result = command()
    except CaselineError as error:
        report.failed += 1
        log.warning("%s: %s refused (%s)", report.job, what, error.code)
        return
    report.changed += bool(result.changed)


def _sweep(
    report: JobReport,
    projector: Projector,
    candidates: Callable[[int], list[dict[str, Any]]],
    command: Callable[[str], Result],
    *,
    batch: int,
) -> None:
    """Offer every candidate once: query, act, catch the views up, query again for what is new."""
    done: set[str] = set()
    while True:
        projector.catch_up()
        rows = candidates(len(done) + batch)
        fresh = [row for row in rows if row["issue_id"] not in done]
        if not fresh:
            return
        for row in fresh:
            done.add(row["issue_id"])
            _offer(report, f"issue {row['number']}", partial(command, row["issue_id"]))


def escalate_overdue(
    workflow: Workflow, projector: Projector, now: datetime, *, batch: int = 1000
) -> JobReport:
    """Offer every overdue item to `escalate_if_overdue` (the aggregate escalates once per deadline)."""
    report = JobReport("escalate")

    def candidates(limit: int) -> list[dict[str, Any]]:
        return overdue_items(projector.db, now=now, limit=limit)

    _sweep(report, projector, candidates, workflow.escalate_if_overdue, batch=batch)
    return report


def send_reminders(
    workflow: Workflow,
    projector: Projector,
    now: datetime,
    leads: Sequence[timedelta] = DEFAULT_LEADS,
    *,
    batch: int = 1000,
) -> JobReport:
    """Offer every item whose deadline is within a lead time to `remind_if_due` (once per deadline
    and lead time)."""
    report = JobReport("remind")
    for lead in sorted(set(leads), reverse=True):

        def candidates(limit: int, lead: timedelta = lead) -> list[dict[str, Any]]:
            return due_reminders(projector.db, now=now, lead=lead, limit=limit)

        def remind(issue_id: str, lead: timedelta = lead) -> Result:
            return workflow.remind_if_due(issue_id, lead=lead)

        _sweep(report, projector, candidates, remind, batch=batch)
    return report


def raise_recurring_duties(
    workflow: Workflow,
    projector: Projector,
    now: datetime,
    *,
    units: Sequence[str] = (),
    duties: Sequence[DutySpec] = DUTIES,
    zone: tzinfo = CHINA,
) -> JobReport:
    """Raise the current occurrence of each duty for each unit (the configured ones, else every unit
    the views have seen); the feedback cycle lists each unit's unanswered opinions by recorder."""
    report = JobReport("duties")
    projector.catch_up()
    db = projector.db
    unit_names = list(dict.fromkeys(units)) or known_units(db)
    occurrences = [current(spec, now, zone) for spec in duties]
    wanted = [
        (occurrence, unit, str(Duty.id_for(occurrence.kind, unit, occurrence.period)))
        for occurrence in occurrences
        for unit in unit_names
    ]
    done = raised_duties(db, [duty_id for _, _, duty_id in wanted])
    todo = [(occurrence, unit) for occurrence, unit, duty_id in wanted if duty_id not in done]
    waiting: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    if any(o.kind == DutyKind.FEEDBACK_CYCLE for o, _ in todo):
        for row in unanswered(db, now=now, limit=1_000_000):
            listed = waiting[row["unit"]]
            if sum(len(ids) for ids in listed.values()) < MAX_LISTED and (
                row["recorder"] in listed or len(listed) < MAX_LIST - 1
            ):
                listed[row["recorder"]].append(row["opinion_id"])
    for occurrence, unit in todo:
        nudged = dict(waiting[unit]) if occurrence.kind == DutyKind.FEEDBACK_CYCLE else {}
        _offer(
            report,
            f"{occurrence.kind.value} {occurrence.period} of {unit}",
            partial(
                workflow.raise_duty,
                kind=occurrence.kind.value,
                unit=unit,
                period=occurrence.period,
                due_by=occurrence.due_by,
                recipients=[f"{UNIT}{unit}", *sorted(nudged)],
                unanswered=nudged,
            ),
        )
    return report


def deliver_email(
    projector: Projector,
    now: datetime,
    mailer: mail.Mailer,
    addresses: Callable[[str], list[str]],
    *,
    max_age: timedelta = timedelta(hours=72),
    max_attempts: int = 3,
    lease: timedelta = timedelta(minutes=15),
    batch: int = 500,
) -> JobReport:
    """E-mail the inbox rows of the last `max_age` that were not sent yet, each at most once: claimed
    in a transaction first, then sent, then marked (a failed send is retried on later runs)."""
    report = JobReport("email")
    projector.catch_up()
    db = projector.db
    mail.ensure_table(db)
    rows = mail.pending(db, since=now - max_age, now=now, lease=lease, max_attempts=max_attempts, limit=batch)
    for row in rows:
        report.seen += 1
        token = mail.claim(db, row["key"], now=now, lease=lease, max_attempts=max_attempts)
        if token is None:
            continue  # another scheduler is sending it, or has
        to = addresses(row["recipient"])
        if not to:
            mail.finish(db, row["key"], token, status="no_address", now=now)
            continue
        try:
            mailer.send(mail.compose(row, sender=mailer.sender, to=to))
        except (OSError, smtplib.SMTPException) as error:
            mail.finish(db, row["key"], token, status="failed", now=now, error=type(error).__name__)
            report.failed += 1
            log.warning("email: inbox row %s not sent (%s)", row["key"], type(error).__name__)
            continue
        mail.finish(db, row["key"], token, status="sent", now=now)
        report.changed += 1
    return report


@dataclass
class Jobs:
    """The jobs bound to one process's workflow, projector, clock and configuration: what the runner calls."""

    workflow: Workflow
    projector: Projector
    clock: Clock
    leads: Sequence[timedelta] = DEFAULT_LEADS
    duty_units: Sequence[str] = ()
    duties: Sequence[DutySpec] = DUTIES
    duty_zone: tzinfo = CHINA
    mailer: mail.Mailer | None = None
    addresses: Callable[[str], list[str]] = field(default=lambda recipient: [])
    email_max_age: timedelta = timedelta(hours=72)
    owns_services: bool = True  # False when the workflow and projector are the caller's to close
    closed: bool = field(default=False, init=False)

    def escalate(self) -> JobReport:
        return self._logged(escalate_overdue(self.workflow, self.projector, self.clock.now()))

    def remind(self) -> JobReport:
        return self._logged(send_reminders(self.workflow, self.projector, self.clock.now(), self.leads))

    def raise_duties(self) -> JobReport:
        return self._logged(
            raise_recurring_duties(
                self.workflow,
                self.projector,
                self.clock.now(),
                units=self.duty_units,
                duties=self.duties,
                zone=self.duty_zone,
            )
        )

    def email(self) -> JobReport:
        if self.mailer is None:
            return JobReport("email")
        report = deliver_email(
            self.projector, self.clock.now(), self.mailer, self.addresses, max_age=self.email_max_age
        )
        close = getattr(self.mailer, "close", None)
        if close is not None:
            close()
        return self._logged(report)

    def run_all(self) -> list[JobReport]:
        """Every job once, in order: escalate, remind, raise duties, e-mail what they produced."""
        return [self.escalate(), self.remind(), self.raise_duties(), self.email()]

    def close(self) -> None:
        """Release the workflow's and the views' connections, if they are the jobs' own (once)."""
        if self.closed:
            return
        self.closed = True
        if not self.owns_services:
            return
        self.workflow.close()
        self.projector.db.close()
        self.projector.log.close()

    @staticmethod
    def _logged(report: JobReport) -> JobReport:
        if report.changed or report.failed:
            log.info("%s", report)
        return report
