"""Scheduler processes racing over the same overdue items, one of them killed with SIGKILL mid-run.

Each child is a real OS process (multiprocessing "spawn": it starts clean, as another
`caseline schedule` would) that builds its own application service and projector from the
settings and runs the escalation job once over the same store. The first child is killed with
SIGKILL after it has offered a few items, in the middle of its run. The survivors must still
escalate every item exactly once for its deadline, and a later scan must find nothing left.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
import traceback
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest

from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock
from domain.workflow import Workflow
from projections.queries import overdue_items
from scheduler.jobs import escalate_overdue
from tests.conftest import START
from tests.integration.test_scheduler_support import escalations_per_deadline, seed_assigned
from tests.integration.viewtools import main_projector

ITEMS = 300
PROCESSES = 3
KILL_AFTER = 15


def _scheduler_process(
    settings: dict[str, Any], now: Any, index: int, setup: Any, start: Any, offered: Any, answers: Any
) -> None:
    """Child: one scheduler that runs the escalation job once, counting the items it offers."""
    try:
        clock = FakeClock(now)
        with ExitStack() as services:
            # One child at a time connects: on PostgreSQL, the library's table creation fails now and
            # then when processes start at the same instant ("tuple concurrently updated"); the race
            # this test is about starts at the barrier below.
            with setup:
                workflow = build_workflow(Settings(**settings), clock=clock)
                services.callback(workflow.close)
                projector = services.enter_context(main_projector(Settings(**settings)))
            escalate = workflow.escalate_if_overdue

            def counted(ref: Any, **kwargs: Any) -> Any:
                result = escalate(ref, **kwargs)
                with offered.get_lock():
                    offered[index] += 1
                return result

            workflow.escalate_if_overdue = counted  # type: ignore[method-assign]
            start.wait(timeout=120)
            report = escalate_overdue(workflow, projector, clock.now(), batch=100)
        answers.put((index, "done", (report.seen, report.changed, report.failed)))
    except BaseException:
        start.abort()  # the others stop waiting for this one
        answers.put((index, "failed", traceback.format_exc()))
        raise


@pytest.mark.slow
def test_escalates_every_item_once_when_schedulers_race_and_one_is_killed_mid_run(
    settings: Settings, workflow: Workflow, clock: FakeClock
) -> None:
    # Given 300 items whose deadlines all passed: 240 below the top level, 60 at district level
    levels = ["grid", "village", "town", "district", "grid"] * (ITEMS // 5)
    deadlines = [START + timedelta(days=1, minutes=n) for n in range(ITEMS)]
    ids = seed_assigned(workflow, at=START, deadlines=deadlines, levels=levels)
    clock.advance(timedelta(days=3))
    # The view tables exist before the schedulers start, as in any installation that has run once
    with main_projector(settings):
        pass
    spawn = multiprocessing.get_context("spawn")
    setup = spawn.Lock()
    start = spawn.Barrier(PROCESSES)
    offered = spawn.Array("i", PROCESSES)
    answers = spawn.Queue()
    processes = [
        spawn.Process(
            target=_scheduler_process,
            args=(settings.model_dump(), clock.now(), index, setup, start, offered, answers),
            name=f"caseline-scheduler-{index}",
        )
        for index in range(PROCESSES)
    ]

    # When three scheduler processes run the escalation job over them at the same moment,
    # and the first is killed with SIGKILL once it has offered a few items
    for process in processes:
        process.start()
    victim = processes[0]
    try:
        give_up = time.monotonic() + 120
        while offered[0] < KILL_AFTER and victim.is_alive() and time.monotonic() < give_up:
            time.sleep(0.001)
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=30)
        offered_by_victim = offered[0]
        reports = {}
        for _ in processes[1:]:
            index, status, payload = answers.get(timeout=180)
            assert status == "done", f"scheduler {index} failed:\n{payload}"
            reports[index] = payload
    except queue.Empty:  # pragma: no cover - only when a child hangs
        pytest.fail("a scheduler process did not answer within 180 s")
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():  # pragma: no cover
                process.kill()
                process.join()
        answers.close()
        answers.join_thread()

    # Then the victim really died mid-run, and the survivors finished cleanly
    assert victim.exitcode == -signal.SIGKILL
    assert KILL_AFTER <= offered_by_victim < ITEMS, "the kill did not land in the middle of the run"
    assert [p.exitcode for p in processes[1:]] == [0] * (PROCESSES - 1)
    assert all(failed == 0 for _, _, failed in reports.values())
    # ...every item has exactly one escalation (or referral), for the deadline it missed
    per_deadline = escalations_per_deadline(workflow)
    assert sorted(per_deadline.items()) == sorted(((i, d), 1) for i, d in zip(ids, deadlines, strict=True))
    # ...the items climbed one level, and the district ones went to the standing committee
    for issue_id, level in list(zip(ids, levels, strict=True))[:10]:
        issue = workflow.get_issue(issue_id)
        if level == "district":
            assert (issue.level, issue.on_committee_list) == ("district", True)
        else:
            assert issue.level == {"grid": "village", "village": "town", "town": "district"}[level]
    # ...and a scheduler started afterwards finds nothing left to do
    with main_projector(settings) as projector:
        again = escalate_overdue(workflow, projector, clock.now())
        assert (again.changed, again.failed) == (0, 0)
        assert overdue_items(projector.db, now=clock.now()) == []
    assert sum(escalations_per_deadline(workflow).values()) == ITEMS
