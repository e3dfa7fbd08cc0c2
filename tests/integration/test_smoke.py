"""The dark lane, end to end through the application service, on each real store."""

from __future__ import annotations

from datetime import timedelta

from domain.clock import FakeClock
from domain.contacts import Contact
from domain.rules import Actor
from domain.workflow import Workflow


def test_an_opinion_becomes_an_assigned_issue_with_a_number(workflow: Workflow, clock: FakeClock) -> None:
    wang = Actor(
        "Wang",
    )
    opinion = workflow.record_opinion(
        wang, kind="difficulty", area="security", channel="household_visit", unit="grid 4",
        text="The lane behind building 7 has no street light.", contact=Contact(name="Old Li"),
    )  # fmt: skip
    issue = workflow.open_issue(
        wang, title="Street lights for the back lanes of grid 4", area="security",
        level="village", horizon="near", opinion_ids=[opinion.id],
    )  # fmt: skip
    workflow.assign_leader(
        wang, issue.number or "", leader="Zhang", department="Public works office",
        goals=["lights working and inspected"], measures=["move the cable"],
        deadline=clock.now() + timedelta(days=40),
    )  # fmt: skip

    state = workflow.get_issue(issue.number or "")
    assert (state.number, state.leader, state.stage) == ("2026-0001", "Zhang", "assigned")
    assert workflow.get_opinion(opinion.id).issue_id == issue.id
    assert workflow.contact(opinion.id) == Contact(name="Old Li")
