"""Recurring duties: raised once per (kind, unit, period) whoever raises them and however often."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from domain.duty import Duty
from domain.errors import InvalidInputError
from domain.workflow import Result, Workflow
from tests.conftest import StoreFactory
from tests.integration.races import hold_first_save, race
from tests.integration.test_scheduler_support import events_of

DUE = datetime(2026, 3, 27, 16, 0, tzinfo=UTC)


def raise_cycle(workflow: Workflow, **overrides: Any) -> Result:
    args: dict[str, Any] = {
        "kind": "feedback_cycle", "unit": "grid 4", "period": "2026-03-14", "due_by": DUE,
        "recipients": ["unit/grid 4", "Li"], "unanswered": {"Li": ["0b9d3c1e-5a47-4f0c-8e2d-6a1f7c3b9e42"]},
    }  # fmt: skip
    args.update(overrides)
    return workflow.raise_duty(**args)


def test_raises_a_duty_once_when_two_schedulers_raise_it_at_the_same_moment(
    make_workflow: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two schedulers, each held at its first save until both have decided to raise the duty
    first, second = make_workflow(), make_workflow()
    hold_first_save(monkeypatch, threading.Barrier(2), first, second)

    # When both raise the 14th's feedback cycle of grid 4, then one raises it again
    results = race(partial(raise_cycle, first), partial(raise_cycle, second))
    again = raise_cycle(first)

    # Then one Duty.Raised is stored, under the id the kind, unit and period give
    raised = events_of(first, ["caseline:Duty.Raised"])
    assert len(raised) == 1
    assert raised[0].originator_id == Duty.id_for("feedback_cycle", "grid 4", "2026-03-14")
    assert sorted(r.detail["raised"] for r in results) == [False, True]
    assert (again.changed, again.detail) == (False, {"raised": False})
    # ...while the next period, or another unit, is a duty of its own
    assert raise_cycle(second, period="2026-03-28").changed
    assert raise_cycle(second, unit="grid 5", recipients=["unit/grid 5"], unanswered={}).changed
    assert len(events_of(first, ["caseline:Duty.Raised"])) == 3


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "picnic"}, "kind"),
        ({"unit": " "}, "unit"),
        ({"period": ""}, "period"),
        ({"recipients": []}, "recipients"),
        ({"due_by": datetime(2026, 3, 27)}, "due_by"),
        ({"unanswered": {"Li": [f"{n:032x}" for n in range(1001)]}}, "unanswered"),
    ],
)
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_refuses_a_malformed_duty_and_writes_nothing(
    workflow: Workflow, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        raise_cycle(workflow, **overrides)
    assert refused.value.field == field
    assert events_of(workflow, ["caseline:Duty.Raised"]) == []
