"""The demo town on real SQLite: deterministic for a seed, the right size, stories 1 and 2 inside.

One town (seed 7, a fixed "today") is built once for the module and read by most tests; the
determinism test builds two more, the command-line test one through `caseline demo`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app, originators, summarize
from api.demo import (
    BUS_LINE_TITLE,
    DARK_LANE_TITLE,
    DRAIN_TITLE,
    LI,
    ZHANG,
    DemoReport,
    StoreNotEmptyError,
    demo_start,
    seed_demo,
)
from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock
from domain.rules import Area, Horizon, Kind, Level, Route, Stage
from domain.workflow import Workflow

TODAY = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.slow


@dataclass
class Town:
    workflow: Workflow
    clock: FakeClock
    report: DemoReport


def build_town(folder: Path, seed: int) -> Town:
    clock = FakeClock(demo_start(TODAY))
    workflow = build_workflow(Settings(data_dir=folder), clock=clock)
    return Town(workflow, clock, seed_demo(workflow, clock, seed=seed, today=TODAY))


def notifications(workflow: Workflow) -> list[Any]:
    found: list[Any] = []
    start = 1
    while page := workflow.recorder.select_notifications(start, 1000):
        found += page
        start = page[-1].id + 1
    return found


def digest(workflow: Workflow) -> str:
    """What was stored: every event's topic and state (timestamps included), in log order."""
    hasher = hashlib.sha256()
    for notification in notifications(workflow):
        hasher.update(notification.topic.encode())
        hasher.update(notification.state)
    return hasher.hexdigest()


def events_of(town: Town, number: str) -> list[Any]:
    return list(town.workflow.history(number))


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    built = build_town(tmp_path_factory.mktemp("town") / "var", seed=7)
    yield built
    built.workflow.close()


def test_the_same_seed_writes_the_same_events(town: Town, tmp_path: Path) -> None:
    again = build_town(tmp_path / "again", seed=7)
    try:
        assert digest(again.workflow) == digest(town.workflow)
        assert again.report == town.report
    finally:
        again.workflow.close()


def test_the_town_has_the_numbers_of_the_seeds(town: Town) -> None:
    report = town.report
    assert (report.leaders, report.representatives, report.members) == (19, 135, 663)
    assert (report.opinions, report.suggestions) == (110, 30)
    assert 36 <= report.items <= 44
    assert report.escalated >= 5
    assert report.on_committee_list >= 2
    assert report.by_stage[Stage.CLOSED] >= 10
    assert report.reopened >= 3
    assert report.registered >= 2
    assert report.fixed_at_once >= 3
    assert 1 <= report.unanswered <= 5
    assert report.meetings >= 9


def test_the_summary_reads_the_same_numbers_from_the_store(town: Town) -> None:
    summary = summarize(town.workflow, TODAY)

    assert len(summary.issues) == town.report.items
    assert (summary.opinions, summary.unanswered) == (town.report.opinions, town.report.unanswered)
    assert dict(summary.count("stage")) == town.report.by_stage
    assert set(summary.count("area")) == {a.value for a in Area}
    assert {Level.GRID, Level.VILLAGE, Level.TOWN, Level.DISTRICT} <= set(summary.count("level"))
    assert len(summary.committee) == town.report.on_committee_list
    assert len(summary.overdue) == town.report.overdue
    assert summary.unmerged > 0  # voices heard since the last analysis meeting wait for the next


def test_history_moves_forward_and_ends_before_today(town: Town) -> None:
    stamps = [town.workflow.mapper.to_domain_event(n).timestamp for n in notifications(town.workflow)]

    assert stamps == sorted(stamps)
    assert demo_start(TODAY) <= stamps[0]
    assert stamps[-1] < TODAY
    assert stamps[-1] - stamps[0] > timedelta(days=170)


def test_reporters_contacts_stay_out_of_the_log(town: Town) -> None:
    ids = originators(town.workflow, ("caseline:Opinion.Recorded",))["caseline:Opinion.Recorded"]
    contacts = [town.workflow.contact(i) for i in ids]
    log = b"".join(n.state for n in notifications(town.workflow)).decode()

    assert all(c is not None and c.name and c.phone for c in contacts)
    leaked = [c for c in contacts if c is not None and (c.phone in log or f'"{c.name}"' in log)]
    assert leaked == []


def test_story_1_the_dark_lane_is_the_first_item_and_goes_to_the_end(town: Town) -> None:
    number = town.report.dark_lane
    issue = town.workflow.get_issue(number)
    events = events_of(town, number)

    assert number.endswith("-0001")
    assert (issue.title, issue.stage, issue.level, issue.leader) == (DARK_LANE_TITLE, "closed", "town", LI)
    assert len(issue.opinion_ids) == 4
    expected = [
        "Opened", "LeaderAssigned", "Disclosed", "CoordinationRequested", "CoordinationAnswered",
        "Escalated", "LeadershipHandedOver", "ResolutionReported", "InspectionRecorded", "Reopened",
        "ResolutionReported", "Closed",
    ]  # fmt: skip
    seen = iter(names(events))
    assert all(name in seen for name in expected), names(events)
    by_name = {type(e).__name__: e for e in reversed(events)}  # the first of each kind
    assert by_name["LeaderAssigned"].leader == ZHANG
    escalated = by_name["Escalated"]
    assert (escalated.from_level, escalated.to_level, escalated.leader) == ("village", "town", ZHANG)
    assert (by_name["LeadershipHandedOver"].previous, by_name["LeadershipHandedOver"].leader) == (ZHANG, LI)
    reopened = by_name["Reopened"]
    assert reopened.counts == {"satisfied": 17, "basically_satisfied": 1, "dissatisfied": 2}
    assert (reopened.rate, reopened.leader) == (0.9, LI)
    assert next(e for e in reversed(events) if type(e).__name__ == "Closed").rate == 1.0
    assert {d.where for d in events if type(d).__name__ == "Disclosed"} >= {"杨北村村务公开栏"}
    for opinion_id in issue.opinion_ids:
        opinion = town.workflow.get_opinion(opinion_id)
        assert opinion.route == Route.COORDINATE
        assert len(opinion.answers) >= 2  # heard at the analysis meeting, and the outcome


def test_story_1_replayed_as_of_the_third_of_may_is_at_town_level_under_zhang(town: Town) -> None:
    then = town.workflow.issue_at(town.report.dark_lane, at=town.report.dark_lane_replay_at)

    assert (then.level, then.leader, then.stage) == ("town", ZHANG, "in_progress")
    assert then.escalated_for
    assert then.escalated_for[0] < town.report.dark_lane_replay_at


def test_story_2_the_blocked_drain_is_fixed_at_once_without_a_meeting(town: Town) -> None:
    issue = town.workflow.get_issue(town.report.drain)
    events = events_of(town, town.report.drain)
    opinion = town.workflow.get_opinion(issue.opinion_ids[0])

    assert (issue.title, issue.stage, issue.horizon) == (DRAIN_TITLE, "closed", Horizon.IMMEDIATE)
    assert names(events)[-1] == "ClosedAsFixed"
    assert "Disclosed" in names(events)
    assert all(getattr(e, "meeting_id", None) is None for e in events)
    assert events[-1].timestamp.date() == events[0].timestamp.date()
    assert (opinion.route, opinion.answered) == (Route.FIX_AT_ONCE, True)


def test_story_2_the_bus_line_is_registered_explained_and_comes_back_next_year(town: Town) -> None:
    issue = town.workflow.get_issue(town.report.bus_line)
    opinion = town.workflow.get_opinion(issue.opinion_ids[0])

    assert (issue.title, issue.stage) == (BUS_LINE_TITLE, "registered")
    assert issue.explanation
    assert issue.revisit_at is not None
    assert TODAY < issue.revisit_at < demo_start(TODAY) + timedelta(days=400)
    assert (opinion.kind, opinion.route) == (Kind.SUGGESTION, Route.REGISTER_AND_EXPLAIN)
    assert opinion.answers[-1] == issue.explanation


def test_a_registered_item_whose_date_came_is_revisited_and_assigned(town: Town) -> None:
    summary = summarize(town.workflow, TODAY)
    revisited = [
        i for i in summary.issues if "Revisited" in names(events_of(town, i.number)) and i.leader is not None
    ]

    assert revisited


def test_a_later_voice_about_an_item_being_worked_on_is_merged_into_it(town: Town) -> None:
    summary = summarize(town.workflow, TODAY)
    linked = [i for i in summary.issues if "OpinionLinked" in names(events_of(town, i.number))]

    assert linked
    for issue in linked:
        opinions = [town.workflow.get_opinion(o) for o in issue.opinion_ids]
        assert all(o.issue_id == issue.id and o.answered for o in opinions)


def test_a_store_that_holds_events_is_refused_and_left_alone(town: Town) -> None:
    before = town.workflow.recorder.max_notification_id()

    with pytest.raises(StoreNotEmptyError, match="already holds events"):
        seed_demo(town.workflow, town.clock, seed=7, today=TODAY)

    assert town.workflow.recorder.max_notification_id() == before


def test_the_command_line_fills_another_town_for_another_seed_summarises_refuses_and_replays(
    town: Town, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASELINE_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()

    filled = runner.invoke(app, ["demo", "--seed", "8", "--today", TODAY.isoformat()])
    assert filled.exit_code == 0, filled.output
    found = re.search(r"caseline replay (\S+) --at (\S+)", filled.stdout)
    assert found is not None, filled.stdout
    number, moment = found.groups()
    workflow = build_workflow(Settings(data_dir=tmp_path / "var"))
    try:
        events = workflow.recorder.max_notification_id()
    finally:
        workflow.close()

    skipped = runner.invoke(app, ["demo", "--if-empty"])
    refused = runner.invoke(app, ["demo"])
    summary = runner.invoke(app, ["summary"])
    replay = runner.invoke(app, ["replay", number, "--at", moment])

    assert (skipped.exit_code, refused.exit_code) == (0, 1)
    assert "not added" in skipped.stdout
    assert "already holds events" in refused.stderr
    workflow = build_workflow(Settings(data_dir=tmp_path / "var"))
    try:
        assert workflow.recorder.max_notification_id() == events  # --if-empty and the refusal wrote nothing
        assert digest(workflow) != digest(town.workflow)  # same day, another seed: another town
        assert workflow.get_issue(number).title == DARK_LANE_TITLE
    finally:
        workflow.close()
    assert summary.exit_code == 0, summary.output
    assert re.search(r"^\d+ items; 110 opinions", summary.stdout, re.MULTILINE)
    assert "On the standing committee's list:" in summary.stdout
    assert replay.exit_code == 0, replay.output
    assert f"level=town leader={ZHANG}" in replay.stdout.splitlines()[-1]
