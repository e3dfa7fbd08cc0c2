"""The inbox view and e-mail delivery: live equals rebuilt; each row mailed at most once, even
when two deliverers race, a send fails, a process dies holding a claim, or the view is rebuilt;
no resident's personal data in any e-mail or log line.

E-mail goes to a real SMTP server on 127.0.0.1: `aiosmtpd`, run in-process as a sink.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from api.settings import Settings
from domain.clock import FakeClock
from domain.contacts import Contact
from domain.rules import Actor
from domain.workflow import Workflow
from projections.inbox import VIEW, inbox, notifications_since
from projections.projector import Projector
from projections.store import ViewDB
from scheduler import mail
from scheduler.jobs import deliver_email, escalate_overdue, raise_recurring_duties, send_reminders
from tests.conftest import START
from tests.integration.test_scheduler_support import LEADER, seed_assigned
from tests.integration.viewtools import main_projector, projector_over, scratch_view_db

NAME, PHONE, ADDRESS = "Chen Xiaoming", "13800138000", "Building 7, Lane 3"
RESIDENT = Contact(name=NAME, phone=PHONE, address=ADDRESS)
WORDS = "My neighbour Chen Xiaoming floods our yard every night"
PRIVATE = (NAME, PHONE, ADDRESS, WORDS, "Chen")
DIRECTORY = {
    LEADER: ["zhang@example.org"],
    "standing-committee": ["committee@example.org"],
    "unit/grid 4": ["grid4@example.org"],
}
SUPERVISORS = {"village": ["village-office@example.org"], "district": ["district@example.org"]}


@dataclass
class Sink:
    """An SMTP server's handler that keeps every message it receives."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def mailer(port: int) -> mail.SmtpMailer:
    return mail.SmtpMailer("127.0.0.1", port, "caseline@example.org", timeout=5)


def addresses(recipient: str) -> list[str]:
    return Settings(supervisors=SUPERVISORS, email_directory=DIRECTORY).email_addresses(recipient)


def busy_town(workflow: Workflow, projector: Projector, clock: FakeClock) -> None:
    """Items overdue at grid and district level, items due a reminder, one resident's voice
    unanswered; then the jobs run once: escalations, a referral, reminders, duties."""
    workflow.record_opinion(
        Actor("Li"), kind="dispute", area="security", channel="household_visit", unit="grid 4",
        text=WORDS, contact=RESIDENT,
    )  # fmt: skip
    seed_assigned(
        workflow, at=START, levels=["grid", "district", "grid", "grid"],
        deadlines=[START + timedelta(hours=h) for h in (2, 3, 30, 60)],
    )  # fmt: skip
    clock.advance(timedelta(hours=12))
    now = clock.now()
    assert escalate_overdue(workflow, projector, now).changed == 2
    assert send_reminders(workflow, projector, now, [timedelta(days=3), timedelta(days=1)]).changed == 3
    assert raise_recurring_duties(workflow, projector, now, units=["grid 4"]).changed == 3
    projector.catch_up()


@pytest.fixture
def town(workflow: Workflow, projector: Projector, clock: FakeClock) -> tuple[Workflow, Projector]:
    busy_town(workflow, projector, clock)
    return workflow, projector


def inbox_tables(db: ViewDB) -> dict[str, list[tuple[Any, ...]]]:
    with db.transaction() as tx:
        return {t: sorted(tx.fetchall(f"SELECT * FROM {t}"), key=repr) for t in ("inbox", "inbox_issues")}


# -- the inbox ------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_inbox_notifies_leader_supervisors_committee_and_recorders(
    town: tuple[Workflow, Projector],
) -> None:
    # Given a town where the jobs have run once
    _, projector = town
    db = projector.db

    # Then the leader has a row per reminder and per escalation or referral of the items they lead
    kinds = sorted(row["kind"] for row in inbox(db, LEADER))
    assert kinds == ["committee", "escalation", "reminder", "reminder", "reminder"]
    # ...the new level's supervisors and the standing committee have theirs
    [escalated] = inbox(db, "supervisors/village")
    assert escalated["number"] == "2026-0001"
    assert "escalated from grid to village level" in escalated["message"]
    assert "Zhang stays the accountable leader" in escalated["message"]
    [referred] = inbox(db, "standing-committee")
    assert referred["number"] == "2026-0002"
    # ...and the recorder of the unanswered opinion is nudged by the feedback cycle
    [nudge] = inbox(db, "Li")
    assert nudge["kind"] == "duty"
    assert "1 opinion you recorded is still unanswered" in nudge["message"]
    assert len(inbox(db, "unit/grid 4")) == 3
    # ...and no row holds a word of the resident's
    for row in notifications_since(db, START):
        for private in PRIVATE:
            assert private not in row["message"]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_inbox_rebuilt_from_the_log_equals_the_live_one(
    settings: Settings, town: tuple[Workflow, Projector], tmp_path: Path
) -> None:
    # Given the live inbox
    _, projector = town
    live = inbox_tables(projector.db)
    assert len(live["inbox"]) >= 10

    # When another view database follows the log with the inbox alone, then rebuilds it from zero
    with (
        scratch_view_db(settings, tmp_path) as other_db,
        projector_over(settings, other_db, views=[VIEW]) as other,
    ):
        other.catch_up()
        caught_up = inbox_tables(other_db)
        other.rebuild(["inbox"])
        rebuilt = inbox_tables(other_db)

    # Then all three hold the same rows
    assert caught_up == live
    assert rebuilt == live


# -- e-mail ---------------------------------------------------------------------------------------


def _deliver(projector: Projector, port: int, clock: FakeClock, start: threading.Barrier) -> int:
    start.wait(timeout=30)
    with mailer(port) as smtp_mailer:
        return deliver_email(projector, clock.now(), smtp_mailer, addresses).changed


def test_mails_each_notification_once_when_deliverers_race_and_run_again(
    settings: Settings, town: tuple[Workflow, Projector], clock: FakeClock, smtp: tuple[Sink, int]
) -> None:
    # Given the town's inbox and an SMTP server
    _, projector = town
    sink, port = smtp
    rows = notifications_since(projector.db, START)
    addressed = [r for r in rows if addresses(r["recipient"])]

    # When two deliverers start at the same moment, then each runs again, then the view is rebuilt
    start = threading.Barrier(2)
    with ExitStack() as deliverers:
        # Built one after the other: starting two at the same instant on PostgreSQL can fail in the
        # library's table creation ("tuple concurrently updated"), which is not what this test is about.
        built = [deliverers.enter_context(main_projector(settings)) for _ in range(2)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(_deliver, d, port, clock, start) for d in built]
            results = [f.result(timeout=60) for f in futures]
    with mailer(port) as again:
        repeat = deliver_email(projector, clock.now(), again, addresses).changed
    projector.rebuild(["inbox"])
    with mailer(port) as after_rebuild:
        repeat += deliver_email(projector, clock.now(), after_rebuild, addresses).changed

    # Then every addressed row was mailed exactly once, to its recipients' addresses
    assert sum(results) == len(addressed)
    assert repeat == 0
    assert len(sink.messages) == len(addressed)
    assert len({m["Message-ID"] for m in sink.messages}) == len(addressed)
    to = sorted(m["To"] for m in sink.messages)
    assert to == sorted(", ".join(addresses(r["recipient"])) for r in addressed)
    assert "village-office@example.org" in to
    # ...rows nobody has an address for are marked so, not retried, not sent
    statuses = mail.deliveries(projector.db)
    assert {statuses[r["key"]][0] for r in addressed} == {"sent"}
    assert {statuses[r["key"]][0] for r in rows if r not in addressed} == {"no_address"}
    assert all(attempts == 1 for _, attempts in statuses.values())
    # ...and an e-mail names the issue, never the resident
    for message in sink.messages:
        body = message.get_payload()
        assert isinstance(body, str)
        assert message["Subject"].startswith("[Caseline] ")
        for private in PRIVATE:
            assert private not in body
            assert private not in str(message["Subject"])


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_retries_a_failed_send_and_gives_up_after_the_attempts(
    town: tuple[Workflow, Projector],
    clock: FakeClock,
    smtp: tuple[Sink, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an SMTP server that cannot be reached
    workflow, projector = town
    sink, port = smtp
    dead = free_port()
    caplog.set_level(logging.DEBUG)

    # When delivery runs against it
    failed = deliver_email(projector, clock.now(), mailer(dead), addresses, max_attempts=2)

    # Then nothing is sent, each addressed row is marked failed, and the log names rows by key only
    addressed = [r for r in notifications_since(projector.db, START) if addresses(r["recipient"])]
    assert (failed.changed, failed.failed) == (0, len(addressed))
    assert {mail.deliveries(projector.db)[r["key"]] for r in addressed} == {("failed", 1)}
    for private in (*PRIVATE, "@example.org"):
        assert private not in caplog.text

    # When it runs again with the server up, then each row is sent once, on its second attempt
    with mailer(port) as up:
        assert deliver_email(projector, clock.now(), up, addresses, max_attempts=2).changed == len(addressed)
    assert {mail.deliveries(projector.db)[r["key"]] for r in addressed} == {("sent", 2)}
    assert len(sink.messages) == len(addressed)

    # ...and a row that failed as many times as allowed is not tried again
    projector.catch_up()
    clock.advance(timedelta(days=2))  # a reminder and an escalation more
    escalate = escalate_overdue(workflow, projector, clock.now())
    assert escalate.changed >= 1
    deliver_email(projector, clock.now(), mailer(dead), addresses, max_attempts=2)
    deliver_email(projector, clock.now(), mailer(dead), addresses, max_attempts=2)
    with mailer(port) as up:
        assert deliver_email(projector, clock.now(), up, addresses, max_attempts=2).seen == 0


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_takes_over_a_claim_whose_process_died_only_after_the_lease(
    town: tuple[Workflow, Projector], clock: FakeClock, smtp: tuple[Sink, int]
) -> None:
    # Given a row claimed by a deliverer that died before sending
    _, projector = town
    sink, port = smtp
    mail.ensure_table(projector.db)
    [row] = [r for r in notifications_since(projector.db, START) if r["recipient"] == "standing-committee"]
    assert mail.claim(projector.db, row["key"], now=clock.now(), lease=timedelta(minutes=15), max_attempts=3)

    def committee_mail() -> list[Message]:
        return [m for m in sink.messages if m["To"] == "committee@example.org"]

    # When another deliverer runs within the lease, the row is left alone
    clock.advance(timedelta(minutes=5))
    with mailer(port) as early:
        deliver_email(projector, clock.now(), early, addresses)
    assert committee_mail() == []
    # ...and once the lease has run out, it is taken over and sent, once
    clock.advance(timedelta(minutes=11))
    with mailer(port) as late:
        deliver_email(projector, clock.now(), late, addresses)
        deliver_email(projector, clock.now(), late, addresses)
    assert len(committee_mail()) == 1
    assert mail.deliveries(projector.db)[row["key"]] == ("sent", 2)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_does_not_mail_notifications_older_than_the_maximum_age(
    town: tuple[Workflow, Projector], clock: FakeClock, smtp: tuple[Sink, int]
) -> None:
    # Given notifications twelve hours old at most, when e-mail is first switched on days later
    _, projector = town
    sink, port = smtp
    clock.advance(timedelta(days=4))

    # Then the backlog stays in the inbox and is not mailed
    with mailer(port) as late:
        report = deliver_email(projector, clock.now(), late, addresses, max_age=timedelta(hours=72))
    assert (report.seen, sink.messages) == (0, [])
