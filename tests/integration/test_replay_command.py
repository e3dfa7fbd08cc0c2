"""`caseline replay` reads the item's stream once, and prints what the store says the item was."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from typer.testing import CliRunner

import api.cli
from api.settings import Settings
from domain.clock import FakeClock
from domain.errors import CaselineError
from domain.workflow import Workflow
from tests.conftest import START
from tests.counting import count_calls
from tests.integration.races import CLERK, assigned_issue

HANDED_OVER = START + timedelta(days=2)


@pytest.fixture
def item(workflow: Workflow, clock: FakeClock) -> str:
    """An item assigned on the first day, worked on, and handed over two days later."""
    number = assigned_issue(workflow, clock)
    workflow.report_progress(CLERK, number, note="poles ordered")
    clock.advance(HANDED_OVER - START)
    workflow.hand_over(CLERK, number, to="Li", reason="transferred")
    return number


@pytest.fixture
def reads(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Counter[UUID]:
    """Point the command line at the test's store, and count its event store's reads per id."""
    monkeypatch.setenv("CASELINE_DATA_DIR", str(settings.data_dir))
    for name, value in (
        ("CASELINE_DATABASE_URL", settings.database_url),
        ("CASELINE_DATABASE_SCHEMA", settings.database_schema),
    ):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    counted: Counter[UUID] = Counter()
    build = api.cli.build_workflow

    def build_counted(*args: Any, **kwargs: Any) -> Workflow:
        workflow = build(*args, **kwargs)
        count_calls(monkeypatch, workflow.events, "get", into=counted)
        return workflow

    monkeypatch.setattr(api.cli, "build_workflow", build_counted)
    return counted


def replay(ref: str, options: dict[str, Any]) -> tuple[int, list[str], str]:
    """Run `caseline replay` with `options` (version=…, at=…) as its command line would give them."""
    args = [f"--{k}={v.isoformat() if isinstance(v, datetime) else v}" for k, v in options.items()]
    result = CliRunner().invoke(api.cli.app, ["replay", ref, *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr


@pytest.mark.parametrize(
    "options",
    [{}, {"version": 2}, {"at": START + timedelta(days=1)}, {"at": HANDED_OVER}],
    ids=["now", "a version", "a moment", "the moment of the last event"],
)
def test_replay_reads_the_items_stream_once_and_prints_its_state_then(
    workflow: Workflow, item: str, reads: Counter[UUID], options: dict[str, Any]
) -> None:
    # Given an item with four events, and its state as the store rebuilds it at the moment asked
    expected = workflow.issue_at(item, **options)
    # When it is replayed from the command line
    code, lines, _ = replay(item, options)
    # Then the stream was read once, and the command printed that state and the events up to it
    assert code == 0, lines
    assert reads[workflow.issue_id(item)] == 1
    assert lines[0] == f"Issue {item}: {expected.title}"
    assert [line.split()[0] for line in lines[1:-1]] == [f"v{v}" for v in range(1, expected.version + 1)]
    assert lines[-1].startswith(f"State at v{expected.version}: stage={expected.stage} ")
    assert f"leader={expected.leader} " in lines[-1]


@pytest.mark.parametrize(
    ("ref", "options"),
    [
        ("2026-9999", {}),
        ("unknown-id", {}),
        ("<uuid>", {}),
        ("<uuid>", {"version": 0}),
        ("<uuid>", {"at": START}),
        ("<item>", {"version": 0}),
        ("<item>", {"version": 9}),
        ("<item>", {"at": START - timedelta(days=1)}),
    ],
)
def test_replay_refuses_as_the_store_does(
    workflow: Workflow, item: str, reads: Counter[UUID], ref: str, options: dict[str, Any]
) -> None:
    # Given a reference to no item, or options the item cannot answer
    ref = {"<uuid>": str(uuid4()), "<item>": item}.get(ref, ref)
    with pytest.raises(CaselineError) as refused:
        workflow.issue_at(ref, **options)
    # When it is replayed from the command line
    code, lines, errors = replay(ref, options)
    # Then it is refused with the message issue_at gives, and nothing else is printed
    assert code == 1
    assert lines == []
    assert errors.strip() == f"error: {refused.value.message}"
