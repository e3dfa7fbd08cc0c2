"""Satisfaction against rates counted by hand from chosen verdicts, on SQLite and PostgreSQL.

The view promises (projections/satisfaction.py, DESIGN.md) every concluded evaluation round
with its verdict counts, by area, unit, leader, level and period, against the target (95%):
satisfied and basically satisfied count as content; a round that reopens the item counts as
much as one that closes it; a supervisor's reopen of a closed item is no round. Each round is
attributed to the leader, level and month at its conclusion.

The rounds of the story below, from which every expected row is counted:

| round | item    | concluded | area        | unit   | level   | leader | sat. | basic. | dis. | outcome  |
|-------|---------|-----------|-------------|--------|---------|--------|------|--------|------|----------|
| R1    | lane    | 20 June   | security    | grid 4 | village | Li     | 17   | 1      | 2    | reopened |
| R2    | rubbish | 20 June   | environment | grid 5 | grid    | Zhao   | 2    | 1      | 0    | closed   |
| R3    | lane    | 20 July   | security    | grid 4 | town    | Li     | 19   | 1      | 0    | closed   |
| R4    | rubbish | 20 July   | environment | grid 5 | grid    | Zhao   | 1    | 0      | 1    | reopened |
| R5    | classes | 20 July   | culture     | grid 4 | village | Zhao   | 2    | 0      | 0    | closed   |

Zhang led the lane until he handed it to Li in May, before any round: he has no rates. The
rubbish point was closed by R2, reopened by a supervisor (no round), then evaluated again (R4).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.clock import FakeClock
from domain.rules import Actor, Role
from domain.workflow import Workflow
from projections import queries
from projections.projector import Projector

RECORDER = Actor("Recorder Zhao", role=Role.RECORDER)
OFFICER = Actor("Officer Wang")
SUPERVISOR = Actor("Supervisor Liu", role=Role.SUPERVISOR)


def at(month: int, day: int, hour: int = 9) -> datetime:
    """A moment of 2026, in UTC."""
    return datetime(2026, month, day, hour, tzinfo=UTC)


def evaluate(workflow: Workflow, issue: Any, verdicts: dict[str, int], **conclude: Any) -> str:
    """Record `verdicts` (verdict -> how many representatives gave it), conclude; the outcome."""
    n = 0
    for verdict, count in verdicts.items():
        for _ in range(count):
            n += 1
            workflow.record_evaluation(OFFICER, issue, evaluator=f"Representative {n}", verdict=verdict)
    return str(workflow.conclude_evaluation(OFFICER, issue, **conclude).detail["outcome"])


def five_rounds(workflow: Workflow, clock: FakeClock) -> None:
    """The story of the module docstring's table."""
    wf = workflow
    clock.set(at(3, 3))
    voice = wf.record_opinion(
        RECORDER, kind="difficulty", area="security", channel="household_visit", unit="grid 4",
        text="The lane behind building 7 is dark.",
    ).id  # fmt: skip
    lane = wf.open_issue(
        OFFICER, title="Street lights for the back lanes of grid 4", area="security", level="village",
        horizon="near", opinion_ids=[voice],  # the unit comes from the opinion
    ).id  # fmt: skip
    rubbish = wf.open_issue(
        OFFICER, title="Rubbish point at the east gate", area="environment", level="grid", horizon="near",
        unit="grid 5",
    ).id  # fmt: skip
    classes = wf.open_issue(
        OFFICER, title="Evening classes in the community hall", area="culture", level="village",
        horizon="mid", unit="grid 4",
    ).id  # fmt: skip
    for issue, leader in ((lane, "Zhang"), (rubbish, "Zhao"), (classes, "Zhao")):
        wf.assign_leader(
            OFFICER, issue, leader=leader, department="Public works office", goals=["done"],
            measures=["do it"], deadline=at(6, 15),
        )  # fmt: skip
    clock.set(at(5, 6))
    wf.hand_over(OFFICER, lane, to="Li", reason="Zhang is transferred.")

    clock.set(at(6, 20))
    wf.report_resolution(OFFICER, lane, summary="Lamps installed.")
    wf.report_resolution(OFFICER, rubbish, summary="Bins moved.")
    june = {"satisfied": 17, "basically_satisfied": 1, "dissatisfied": 2}  # 18 of 20: under the target
    assert evaluate(wf, lane, june, new_deadline=at(7, 1)) == "reopened"
    assert evaluate(wf, rubbish, {"satisfied": 2, "basically_satisfied": 1}) == "closed"

    clock.set(at(6, 25))
    wf.reopen(SUPERVISOR, rubbish, reason="The bins are back at the gate.", deadline=at(7, 10))
    clock.set(at(7, 2))
    assert wf.escalate_if_overdue(lane).detail == {"escalated": True}  # village -> town before R3

    clock.set(at(7, 20))
    for issue in (lane, rubbish, classes):
        wf.report_resolution(OFFICER, issue, summary="Done again.")
    assert evaluate(wf, lane, {"satisfied": 19, "basically_satisfied": 1}) == "closed"
    assert evaluate(wf, rubbish, {"satisfied": 1, "dissatisfied": 1}, new_deadline=at(8, 15)) == "reopened"
    assert evaluate(wf, classes, {"satisfied": 2}) == "closed"


def close_a_road(workflow: Workflow, clock: FakeClock, *, opened: datetime, concluded: datetime) -> None:
    """Beside the story: an item in no unit, opened at `opened` and closed by its first round (3 of
    3 satisfied) at `concluded`."""
    clock.set(opened)
    road = workflow.open_issue(
        OFFICER, title="Potholes on the county road", area="development", level="town", horizon="near"
    ).id
    workflow.assign_leader(
        OFFICER, road, leader="Li", department="Roads office", goals=["road even"], measures=["patch"],
        deadline=at(9, 1),
    )  # fmt: skip
    workflow.report_resolution(OFFICER, road, summary="Patched.")
    clock.set(concluded)
    assert evaluate(workflow, road, {"satisfied": 3}) == "closed"


@pytest.fixture
def rated(workflow: Workflow, projector: Projector, clock: FakeClock) -> Projector:
    """The views after the story."""
    five_rounds(workflow, clock)
    projector.catch_up()
    return projector


def rates(projector: Projector, by: str, zone: tzinfo = UTC) -> list[tuple[Any, ...]]:
    """Each row of `satisfaction(by=...)` as (key, rounds, closed, votes, satisfied, basically,
    dissatisfied, rate, meets the target), checking the target every row is compared with."""
    rows = queries.satisfaction(projector.db, by=by, zone=zone)
    assert {row["target"] for row in rows} == {0.95}
    return [
        (row[by], row["rounds"], row["closed"], row["votes"], row["satisfied"], row["basically"],
         row["dissatisfied"], row["rate"], row["meets_target"])
        for row in rows
    ]  # fmt: skip


def test_rates_per_area_count_basically_satisfied_as_content_and_every_round(rated: Projector) -> None:
    assert rates(rated, "area") == [
        ("culture", 1, 1, 2, 2, 0, 0, 1.0, True),  # R5: 2 of 2
        ("environment", 2, 1, 5, 3, 1, 1, 0.8, False),  # R2 + R4: 4 of 5
        ("security", 2, 1, 40, 36, 2, 2, 0.95, True),  # R1 + R3: 38 of 40, exactly the target
    ]


def test_rates_per_unit_follow_the_unit_the_item_was_opened_in(rated: Projector) -> None:
    assert rates(rated, "unit") == [
        ("grid 4", 3, 2, 42, 38, 2, 2, 0.9524, True),  # R1 + R3 + R5: 40 of 42
        ("grid 5", 2, 1, 5, 3, 1, 1, 0.8, False),  # R2 + R4: 4 of 5
    ]


def test_rates_per_leader_go_to_whoever_led_the_item_when_the_round_concluded(rated: Projector) -> None:
    assert rates(rated, "leader") == [
        ("Li", 2, 1, 40, 36, 2, 2, 0.95, True),  # R1 + R3: 38 of 40; Zhang, who handed over, has none
        ("Zhao", 3, 2, 7, 5, 1, 1, 0.8571, False),  # R2 + R4 + R5: 6 of 7
    ]


def test_rates_per_level_take_the_level_of_the_round_after_an_escalation(rated: Projector) -> None:
    assert rates(rated, "level") == [
        ("grid", 2, 1, 5, 3, 1, 1, 0.8, False),  # R2 + R4: 4 of 5
        ("town", 1, 1, 20, 19, 1, 0, 1.0, True),  # R3, after the lane's escalation: 20 of 20
        ("village", 2, 1, 22, 19, 1, 2, 0.9091, False),  # R1 + R5: 20 of 22
    ]


def test_rates_per_period_count_each_round_in_the_month_it_concluded(rated: Projector) -> None:
    assert rates(rated, "period") == [
        ("2026-06", 2, 1, 23, 19, 2, 2, 0.913, False),  # R1 + R2: 21 of 23
        ("2026-07", 3, 2, 24, 22, 1, 1, 0.9583, True),  # R3 + R4 + R5: 23 of 24
    ]


def test_a_period_is_the_month_in_the_towns_time_zone(
    rated: Projector, workflow: Workflow, clock: FakeClock
) -> None:
    # Given, beside the story, a round concluded at 20:00 UTC on 31 July: 04:00 on 1 August in Beijing
    close_a_road(workflow, clock, opened=at(7, 25), concluded=at(7, 31, 20))
    rated.catch_up()

    # Then in Beijing's months it counts in August, and in UTC's in July
    assert rates(rated, "period", ZoneInfo("Asia/Shanghai")) == [
        ("2026-06", 2, 1, 23, 19, 2, 2, 0.913, False),  # R1 + R2 (20 June, 09:00 UTC)
        ("2026-07", 3, 2, 24, 22, 1, 1, 0.9583, True),  # R3 + R4 + R5
        ("2026-08", 1, 1, 3, 3, 0, 0, 1.0, True),  # the road, 1 August 04:00 local
    ]
    assert rates(rated, "period") == [
        ("2026-06", 2, 1, 23, 19, 2, 2, 0.913, False),
        ("2026-07", 4, 3, 27, 25, 1, 1, 0.963, True),  # R3 + R4 + R5 + the road
    ]


def test_the_rates_of_items_with_no_unit_come_last_on_both_stores(
    rated: Projector, workflow: Workflow, clock: FakeClock
) -> None:
    # Given, beside the story, an item opened in no unit and closed by its first round
    close_a_road(workflow, clock, opened=at(8, 3), concluded=at(8, 3))
    rated.catch_up()
    # When the rates are read per unit
    # Then the row of no unit follows the units' rows, on SQLite as on PostgreSQL
    assert [row[0] for row in rates(rated, "unit")] == ["grid 4", "grid 5", None]
