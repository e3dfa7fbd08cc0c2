"""Helpers shared by the race and contract tests: parallel jobs, forced collisions, event filters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from domain.clock import FakeClock
from domain.rules import Actor
from domain.workflow import Workflow

CLERK = Actor("Village clerk")


def race(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs in parallel threads; answer their results in order, re-raising any failure."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result(timeout=60) for f in futures]


def hold_first_save(
    monkeypatch: pytest.MonkeyPatch, barrier: threading.Barrier, *workflows: Workflow
) -> None:
    """Make each instance wait at its first save until all have reached theirs: a certain collision."""
    for workflow in workflows:
        original = workflow.save
        first = [True]

        def save(*args: Any, _original: Any = original, _first: list[bool] = first, **kwargs: Any) -> Any:
            if _first[0]:
                _first[0] = False
                barrier.wait(timeout=30)
            return _original(*args, **kwargs)

        monkeypatch.setattr(workflow, "save", save)


def assigned_issue(workflow: Workflow, clock: FakeClock, *, days: int = 30) -> str:
    """An item with a leader and a deadline `days` ahead: ready for front-line work."""
    number = workflow.open_issue(
        CLERK, title="Street lights for grid 4", area="security", level="village", horizon="near"
    ).number
    assert number is not None
    workflow.assign_leader(
        CLERK, number, leader="Zhang", department="Public works office", goals=["lights working"],
        measures=["install lamps"], deadline=clock.now() + timedelta(days=days),
    )  # fmt: skip
    return number


def of_kind(events: list[Any], name: str) -> list[Any]:
    """The events of one type, in order."""
    return [e for e in events if type(e).__name__ == name]
