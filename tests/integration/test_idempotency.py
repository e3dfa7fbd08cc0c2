"""Idempotency keys: a repeat writes nothing and answers as the first did, on every store.

A clerk double-clicks, a flaky network resends, two API workers receive the same request:
whatever the path, one key means one effect.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from domain.clock import FakeClock
from domain.contacts import Contact
from domain.errors import IdempotencyKeyReusedError, InvalidInputError
from domain.rules import Actor
from domain.workflow import Result, Workflow
from tests.conftest import StoreFactory
from tests.integration.races import hold_first_save, of_kind, race

CLERK = Actor("Village clerk")
WANG = Actor("Wang")


def open_issue(workflow: Workflow, key: str | None = None, title: str = "Street lights") -> Result:
    return workflow.open_issue(CLERK, title=title, area="security", level="village", horizon="near", key=key)


def assign(
    workflow: Workflow, number: str, clock: FakeClock, key: str | None, leader: str = "Zhang"
) -> Result:
    return workflow.assign_leader(
        CLERK, number, leader=leader, department="Public works office", goals=["lights working"],
        measures=["install lamps"], deadline=clock.now() + timedelta(days=30), key=key,
    )  # fmt: skip


def assigned_issue(workflow: Workflow, clock: FakeClock) -> str:
    number = open_issue(workflow).number
    assert number is not None
    assign(workflow, number, clock, key=None)
    return number


# Each command as a clerk would send it, given the store's one assigned issue (number) and a key.
COMMANDS: dict[str, Callable[[Workflow, str, FakeClock, str], Result]] = {
    "record_opinion": lambda w, number, clock, key: w.record_opinion(
        WANG,
        kind="difficulty",
        area="security",
        channel="household_visit",
        unit="grid 4",
        text="The lane is dark.",
        contact=Contact(name="Household 12"),
        key=key,
    ),
    "open_issue": lambda w, number, clock, key: open_issue(w, key, title="Benches for the square"),
    "report_progress": lambda w, number, clock, key: w.report_progress(
        CLERK, number, note="cable moved", key=key
    ),
    "hand_over": lambda w, number, clock, key: w.hand_over(
        CLERK, number, to="Li", reason="transfer", key=key
    ),
    "disclose": lambda w, number, clock, key: w.disclose(
        CLERK, number, fields=["title", "leader"], where="public register", key=key
    ),
    "request_coordination": lambda w, number, clock, key: w.request_coordination(
        CLERK, number, department="Power company", request="Move the cable.", key=key
    ),
    "hold_meeting": lambda w, number, clock, key: w.hold_meeting(
        CLERK,
        kind="analysis",
        unit="Village 3",
        held_at=clock.now(),
        attendees=["Wang"],
        title="Analysis",
        key=key,
    ),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_writes_nothing_and_answers_as_before_when_the_same_key_comes_twice(
    workflow: Workflow, clock: FakeClock, command: str
) -> None:
    # Given a store with an assigned item, and a command already sent once with a key
    number = assigned_issue(workflow, clock)
    send = COMMANDS[command]
    first = send(workflow, number, clock, "form-7f3a")
    position = workflow.recorder.max_notification_id()

    # When the same command comes again with the same key (a double click)
    second = send(workflow, number, clock, "form-7f3a")

    # Then nothing more is written and the answer is the first one's
    assert workflow.recorder.max_notification_id() == position
    assert (first.changed, second.changed) == (True, False)
    assert (second.id, second.version, second.number, second.detail) == (
        first.id,
        first.version,
        first.number,
        first.detail,
    )


def test_assigns_once_when_a_clerk_submits_the_assignment_form_twice(
    workflow: Workflow, clock: FakeClock
) -> None:
    # Given an open item
    number = open_issue(workflow).number
    assert number is not None

    # When the assignment form arrives twice with its key
    first = assign(workflow, number, clock, key="assignment-form-1")
    second = assign(workflow, number, clock, key="assignment-form-1")

    # Then there is one assignment, and the second answer says nothing changed
    assert len(of_kind(workflow.history(number), "LeaderAssigned")) == 1
    assert (first.version, second.version, second.changed) == (2, 2, False)


def test_answers_as_before_even_after_the_item_moved_on(workflow: Workflow, clock: FakeClock) -> None:
    # Given an assignment sent with a key, after which the item was handed over
    number = open_issue(workflow).number
    assert number is not None
    first = assign(workflow, number, clock, key="assignment-form-1")
    workflow.hand_over(CLERK, number, to="Li", reason="transfer")
    position = workflow.recorder.max_notification_id()

    # When the old assignment request is resent by a retrying client
    repeat = assign(workflow, number, clock, key="assignment-form-1")

    # Then it answers as the first time, instead of refusing a second assignment, and writes nothing
    assert (repeat.version, repeat.changed) == (first.version, False)
    assert workflow.recorder.max_notification_id() == position
    assert workflow.get_issue(number).leader == "Li"


def test_does_not_consume_a_number_when_an_opening_is_repeated(workflow: Workflow) -> None:
    # Given an item opened with a key
    first = open_issue(workflow, key="open-1")

    # When it is sent again with the key, and then another item is opened
    repeat = open_issue(workflow, key="open-1")
    other = open_issue(workflow, key="open-2", title="Benches")

    # Then the repeat got the same number and the next item the next number
    assert (first.number, repeat.number, other.number) == ("2026-0001", "2026-0001", "2026-0002")
    assert repeat.id == first.id


def test_refuses_the_same_key_with_a_different_request(workflow: Workflow, clock: FakeClock) -> None:
    # Given a progress report sent with a key
    number = assigned_issue(workflow, clock)
    workflow.report_progress(CLERK, number, note="cable moved", key="report-1")
    position = workflow.recorder.max_notification_id()

    # When the same key comes with a different note
    with pytest.raises(IdempotencyKeyReusedError) as raised:
        workflow.report_progress(CLERK, number, note="lamps installed", key="report-1")

    # Then it is refused with its code and nothing is written
    assert raised.value.code == "idempotency_key_reused"
    assert "key" in str(raised.value)
    assert workflow.recorder.max_notification_id() == position
    assert [e.note for e in of_kind(workflow.history(number), "ProgressReported")] == ["cable moved"]


def test_refuses_the_same_key_for_an_assignment_to_another_leader(
    workflow: Workflow, clock: FakeClock
) -> None:
    # Given an assignment sent with a key
    number = open_issue(workflow).number
    assert number is not None
    assign(workflow, number, clock, key="assignment-form-1")
    position = workflow.recorder.max_notification_id()

    # When the key is reused to assign somebody else
    with pytest.raises(IdempotencyKeyReusedError):
        assign(workflow, number, clock, key="assignment-form-1", leader="Li")

    # Then nothing is written and Zhang still leads
    assert workflow.recorder.max_notification_id() == position
    assert workflow.get_issue(number).leader == "Zhang"


def test_scopes_keys_per_command(workflow: Workflow, clock: FakeClock) -> None:
    # Given a key used for a progress report
    number = assigned_issue(workflow, clock)
    progress = workflow.report_progress(CLERK, number, note="cable moved", key="shared-key")

    # When the same key comes with other commands
    coordination = workflow.request_coordination(
        CLERK, number, department="Power company", request="Move the cable.", key="shared-key"
    )
    opened = open_issue(workflow, key="shared-key", title="Benches")

    # Then each command took effect on its own
    assert (progress.changed, coordination.changed, opened.changed) == (True, True, True)
    history = workflow.history(number)
    assert len(of_kind(history, "ProgressReported")) == 1
    assert len(of_kind(history, "CoordinationRequested")) == 1
    assert opened.number == "2026-0002"


def test_has_one_effect_when_two_instances_race_with_the_same_key(
    make_workflow: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two application instances (two API workers) that both receive the same opening request
    first, second = make_workflow(), make_workflow()
    hold_first_save(monkeypatch, threading.Barrier(2), first, second)
    position = first.recorder.max_notification_id() or 0

    # When both handle it at once, each deciding before either saves
    results = race(lambda: open_issue(first, key="open-7"), lambda: open_issue(second, key="open-7"))

    # Then one item exists, with one number, and both answers name it
    assert sorted(r.changed for r in results) == [False, True]
    assert {(r.id, r.number, r.version) for r in results} == {(results[0].id, "2026-0001", 1)}
    notifications = first.recorder.select_notifications(start=position + 1, limit=100)
    assert [n.topic for n in notifications].count("caseline:Issue.Opened") == 1
    assert open_issue(second, key="open-8").number == "2026-0002"


def test_reports_once_when_two_instances_race_with_the_same_key(
    make_workflow: StoreFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an assigned item and two instances that receive the same progress report
    first, second = make_workflow(), make_workflow()
    number = assigned_issue(first, clock)
    hold_first_save(monkeypatch, threading.Barrier(2), first, second)

    # When both handle it at once
    results = race(
        lambda: first.report_progress(CLERK, number, note="cable moved", key="report-9"),
        lambda: second.report_progress(CLERK, number, note="cable moved", key="report-9"),
    )

    # Then it is recorded once, and both answer with the version it was recorded at
    reports = of_kind(first.history(number), "ProgressReported")
    assert len(reports) == 1
    assert sorted(r.changed for r in results) == [False, True]
    assert {r.version for r in results} == {reports[0].originator_version}


def test_has_one_effect_when_many_threads_resend_the_same_request(
    make_workflow: StoreFactory, clock: FakeClock
) -> None:
    # Given an assigned item and two instances
    first, second = make_workflow(), make_workflow()
    number = assigned_issue(first, clock)
    start = threading.Barrier(2)

    def resend(workflow: Workflow) -> list[Result]:
        start.wait(timeout=30)
        return [
            workflow.report_progress(CLERK, number, note="lamps ordered", key="report-5") for _ in range(10)
        ]

    # When each instance receives the same keyed request ten times, concurrently
    results = [r for batch in race(lambda: resend(first), lambda: resend(second)) for r in batch]

    # Then exactly one of the twenty writes happened, and all twenty answers agree
    assert len(of_kind(first.history(number), "ProgressReported")) == 1
    assert sum(r.changed for r in results) == 1
    assert len({(r.id, r.version) for r in results}) == 1


@pytest.mark.parametrize("key", ["", "   ", "k" * 201])
def test_refuses_an_empty_or_oversized_key(workflow: Workflow, clock: FakeClock, key: str) -> None:
    # Given an assigned item
    number = assigned_issue(workflow, clock)
    position = workflow.recorder.max_notification_id()

    # When a report comes with an empty or oversized key
    with pytest.raises(InvalidInputError) as raised:
        workflow.report_progress(CLERK, number, note="cable moved", key=key)

    # Then it is refused and nothing is written
    assert raised.value.code == "invalid_input"
    assert workflow.recorder.max_notification_id() == position
