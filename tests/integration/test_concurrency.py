"""Several writers over one store: application instances in threads, and real OS processes.

Each `make_workflow()` builds an application instance with its own connections, as a
separate API worker or scheduler process would. Where a race must happen for the test to
mean anything, both writers are held at their first save until both have decided what to
write, so the collision is certain rather than likely.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback
from datetime import datetime, timedelta
from typing import Any

import pytest

from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock
from domain.errors import ConflictError
from domain.rules import Actor, Role
from domain.workflow import Result, Workflow
from tests.conftest import StoreFactory
from tests.integration.races import assigned_issue, hold_first_save, of_kind, race

SCHEDULER = Actor("scheduler", role=Role.SCHEDULER)


# -- application instances in threads ---------------------------------------------------


def test_records_every_progress_report_when_two_instances_race_on_one_issue(
    make_workflow: StoreFactory, clock: FakeClock
) -> None:
    # Given one assigned item and two application instances over the same store
    first, second = make_workflow(), make_workflow()
    number = assigned_issue(first, clock)
    start = threading.Barrier(2)

    def report(workflow: Workflow, officer: str) -> list[Result]:
        start.wait(timeout=30)
        return [workflow.report_progress(Actor(officer), number, note=f"{officer} {n}") for n in range(25)]

    # When two officers each report progress 25 times at the same moment, one on each instance
    results = race(lambda: report(first, "Zhang"), lambda: report(second, "Li"))

    # Then all 50 reports are recorded, each at its own version, with no gap and no loss
    history = first.history(number)
    assert [e.originator_version for e in history] == list(range(1, len(history) + 1))
    reports = of_kind(history, "ProgressReported")
    assert len(reports) == 50
    answered_versions = sorted(r.version for batch in results for r in batch)
    assert answered_versions == sorted(e.originator_version for e in reports)
    assert all(r.changed for batch in results for r in batch)
    # ...and each officer's reports appear in the order that officer sent them
    for officer in ("Zhang", "Li"):
        assert [e.note for e in reports if e.actor == officer] == [f"{officer} {n}" for n in range(25)]
    assert second.get_issue(number).version == history[-1].originator_version


def test_escalates_once_when_two_instances_race_on_an_overdue_issue(
    make_workflow: StoreFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an item whose deadline passed, and two schedulers that both see it overdue at once
    first, second = make_workflow(), make_workflow()
    number = assigned_issue(first, clock, days=10)
    clock.advance(timedelta(days=11))
    hold_first_save(monkeypatch, threading.Barrier(2), first, second)

    # When both run escalate_if_overdue on it
    results = race(lambda: first.escalate_if_overdue(number), lambda: second.escalate_if_overdue(number))

    # Then exactly one Escalated event is stored, and both schedulers answer the same version
    history = first.history(number)
    assert len(of_kind(history, "Escalated")) == 1
    assert sorted(r.changed for r in results) == [False, True]
    assert sorted(r.detail["escalated"] for r in results) == [False, True]
    assert {r.version for r in results} == {history[-1].originator_version}
    assert first.get_issue(number).level == "town"
    # ...and a third run later the same night changes nothing
    assert second.escalate_if_overdue(number).changed is False
    assert len(of_kind(first.history(number), "Escalated")) == 1


def test_escalates_once_when_two_instances_keep_racing_through_the_night(
    make_workflow: StoreFactory, clock: FakeClock
) -> None:
    # Given an overdue item and two schedulers that start together
    first, second = make_workflow(), make_workflow()
    number = assigned_issue(first, clock, days=10)
    clock.advance(timedelta(days=11))
    start = threading.Barrier(2)

    def scan(workflow: Workflow) -> int:
        start.wait(timeout=30)
        return sum(workflow.escalate_if_overdue(number).changed for _ in range(10))

    # When each scans the item ten times
    escalations = race(lambda: scan(first), lambda: scan(second))

    # Then the item escalated once in all
    assert sum(escalations) == 1
    assert len(of_kind(first.history(number), "Escalated")) == 1


def test_numbers_issues_without_gaps_when_two_instances_open_them_at_once(
    make_workflow: StoreFactory,
) -> None:
    # Given two application instances over an empty store
    first, second = make_workflow(), make_workflow()
    start = threading.Barrier(2)

    def open_ten(workflow: Workflow, clerk: str) -> list[Result]:
        start.wait(timeout=30)
        return [
            workflow.open_issue(
                Actor(clerk), title=f"{clerk} {n}", area="livelihood", level="grid", horizon="near"
            )
            for n in range(10)
        ]

    # When each opens ten items at the same time
    results = [
        r for batch in race(lambda: open_ten(first, "Wang"), lambda: open_ten(second, "Zhao")) for r in batch
    ]

    # Then the twenty numbers are 2026-0001 to 2026-0020, each naming the item it was given to
    assert sorted(r.number for r in results if r.number) == [f"2026-{n:04d}" for n in range(1, 21)]
    assert len({r.id for r in results}) == 20
    for result in results:
        assert result.number is not None
        assert second.get_issue(result.number).id == result.id


def test_raises_a_readable_conflict_error_when_the_retries_run_out(
    make_workflow: StoreFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an instance allowed a single attempt, and another instance that always writes first
    patient, other = make_workflow(), make_workflow()
    number = assigned_issue(patient, clock)
    monkeypatch.setattr(patient, "retries", 1)
    original_save = patient.save

    def save_after_someone_else(*args: Any, **kwargs: Any) -> Any:
        other.report_progress(Actor("Li"), number, note="from the other office")
        return original_save(*args, **kwargs)

    monkeypatch.setattr(patient, "save", save_after_someone_else)
    before = patient.recorder.max_notification_id()

    # When it reports progress
    with pytest.raises(ConflictError) as raised:
        patient.report_progress(Actor("Zhang"), number, note="lamps ordered")

    # Then the error has its code and a sentence a clerk can act on, free of database jargon
    error = raised.value
    assert error.code == "conflict"
    message = str(error)
    assert message == error.message
    assert message[0].isupper()
    assert "someone else" in message
    assert "try again" in message
    for jargon in ("_", "Integrity", "Record", "version", "SQL", "UNIQUE", "duplicate"):
        assert jargon not in message, f"{jargon!r} in {message!r}"
    # ...and only the other office's report was written
    assert patient.recorder.max_notification_id() == before + 1
    assert [e.note for e in of_kind(patient.history(number), "ProgressReported")] == ["from the other office"]


def test_retries_a_conflicting_command_on_reloaded_state(
    make_workflow: StoreFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an instance whose first save is beaten by another instance's write
    patient, other = make_workflow(), make_workflow()
    number = assigned_issue(patient, clock)
    original_save = patient.save
    beaten = [False]

    def save_after_someone_else_once(*args: Any, **kwargs: Any) -> Any:
        if not beaten[0]:
            beaten[0] = True
            other.report_progress(Actor("Li"), number, note="from the other office")
        return original_save(*args, **kwargs)

    monkeypatch.setattr(patient, "save", save_after_someone_else_once)

    # When it reports progress
    result = patient.report_progress(Actor("Zhang"), number, note="lamps ordered")

    # Then its command was run again on the reloaded item and recorded after the other one
    notes = [(e.note, e.originator_version) for e in of_kind(patient.history(number), "ProgressReported")]
    assert notes == [("from the other office", 3), ("lamps ordered", 4)]
    assert (result.version, result.changed) == (4, True)


# -- real OS processes ------------------------------------------------------------------


def _report_from_a_process(
    settings: dict[str, Any],
    now: datetime,
    number: str,
    officer: str,
    count: int,
    start: Any,
    answers: Any,
) -> None:
    """Child process: build an application from the settings and report progress `count` times."""
    try:
        workflow = build_workflow(Settings(**settings), clock=FakeClock(now))
        try:
            start.wait(timeout=60)
            versions = [
                workflow.report_progress(Actor(officer), number, note=f"{officer} {n}").version
                for n in range(count)
            ]
        finally:
            workflow.close()
        answers.put((officer, "done", versions))
    except BaseException:
        answers.put((officer, "failed", traceback.format_exc()))
        raise


@pytest.fixture
def spawn() -> Any:
    """A 'spawn' multiprocessing context: children start clean, as separate servers would."""
    return multiprocessing.get_context("spawn")


@pytest.mark.slow
def test_records_every_progress_report_when_two_os_processes_race_on_one_issue(
    settings: Settings, workflow: Workflow, clock: FakeClock, spawn: Any
) -> None:
    # Given one assigned item, and two OS processes each building its own application from the settings
    number = assigned_issue(workflow, clock)
    start = spawn.Barrier(2)
    answers = spawn.Queue()
    count = 20
    processes = [
        spawn.Process(
            target=_report_from_a_process,
            args=(settings.model_dump(), clock.now(), number, officer, count, start, answers),
            name=f"caseline-{officer}",
        )
        for officer in ("Zhang", "Li")
    ]

    # When both report progress on the item at the same moment
    for process in processes:
        process.start()
    try:
        outcomes = {}
        for _ in processes:
            officer, status, payload = answers.get(timeout=90)
            assert status == "done", f"{officer}'s process failed:\n{payload}"
            outcomes[officer] = payload
    except queue.Empty:  # pragma: no cover - only when a child hangs
        pytest.fail("a child process did not answer within 90 s")
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():  # pragma: no cover
                process.terminate()
                process.join()
        answers.close()
        answers.join_thread()

    # Then both processes exited cleanly and all their reports are stored, versions contiguous
    assert [p.exitcode for p in processes] == [0, 0]
    history = workflow.history(number)
    assert [e.originator_version for e in history] == list(range(1, len(history) + 1))
    reports = of_kind(history, "ProgressReported")
    assert len(reports) == 2 * count
    assert sorted(v for versions in outcomes.values() for v in versions) == sorted(
        e.originator_version for e in reports
    )
    for officer in ("Zhang", "Li"):
        assert [e.note for e in reports if e.actor == officer] == [f"{officer} {n}" for n in range(count)]
