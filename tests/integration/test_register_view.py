"""The public register against rows written out by hand from a story, on SQLite and PostgreSQL.

The register promises (projections/register.py, DESIGN.md) exactly what disclosures published:
the chosen fields and nothing else, a later disclosure updating the fields it publishes and
keeping the rest, newest disclosure first, overdue judged from the published deadline. Every
expected value below is read off the story, never computed by the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from api.settings import Settings
from domain.clock import FakeClock
from domain.contacts import Contact
from domain.rules import Actor, Role
from domain.workflow import Workflow
from projections import queries
from projections.projector import Projector
from tests.conftest import StoreFactory
from tests.integration.viewtools import main_projector

RECORDER = Actor("Recorder Zhao", role=Role.RECORDER)
OFFICER = Actor("Officer Wang")

# What must never reach the register: the reporter, their words, and every note nobody published.
PRIVATE = (
    "Chen Xiaoming", "13800138000", "my father fell there", "The cable belongs to a private yard",
    "Power company asked for a permit", "Zhang is transferred to the county", "No budget this year",
    "Blocked drain by the market", "Cleared with the sanitation crew",
)  # fmt: skip


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A moment of 2026, in UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


NEXT_SPRING = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def dark_lane_and_two_more(workflow: Workflow, clock: FakeClock) -> dict[str, str]:
    """Three items: the bus line (0001) registered and disclosed once; the dark lane (0002)
    disclosed on assignment and again after its escalation and handover; the drain (0003) fixed
    on the spot and never disclosed. Deadlines in calendar days (town level: 30). Returns the
    numbers' issue ids."""
    wf = workflow
    clock.set(at(3, 3))
    voice = wf.record_opinion(
        RECORDER, kind="difficulty", area="security", channel="household_visit", unit="grid 4",
        text="The lane behind building 7 is dark; my father fell there.", place="Lane 3, building 7",
        contact=Contact(name="Chen Xiaoming", phone="13800138000"),
    ).id  # fmt: skip

    clock.set(at(3, 14))
    bus = wf.open_issue(
        OFFICER, title="Bus line to the district hospital", area="development", level="town", horizon="long",
        unit="grid 4",
    ).id  # fmt: skip
    lane = wf.open_issue(
        OFFICER, title="Street lights for the back lanes of grid 4", area="security", level="village",
        horizon="near", description="The cable belongs to a private yard.", opinion_ids=[voice],
    ).id  # fmt: skip
    drain = wf.open_issue(
        OFFICER, title="Blocked drain by the market", area="environment", level="grid", horizon="immediate",
        unit="grid 4",
    ).id  # fmt: skip

    clock.set(at(3, 20))
    wf.assign_leader(
        OFFICER, lane, leader="Zhang", department="Public works office",
        goals=["lights working and inspected"], measures=["move the cable"], deadline=at(4, 30, 18),
    )  # fmt: skip
    wf.disclose(
        OFFICER,
        lane,
        fields=["title", "leader", "department", "goals", "deadline"],
        where="village notice board",
    )
    wf.assign_leader(
        OFFICER, drain, leader="Grid member Sun", department="Sanitation crew", goals=["drain flowing"],
        measures=["clear it"], deadline=at(3, 21),
    )  # fmt: skip
    wf.report_resolution(OFFICER, drain, summary="Cleared with the sanitation crew.")
    wf.close_fixed_at_once(OFFICER, drain, note="Cleared with the sanitation crew the same day.")

    clock.set(at(3, 25))
    wf.register_and_explain(OFFICER, bus, explanation="No budget this year.", revisit_at=NEXT_SPRING)
    wf.disclose(OFFICER, bus, fields=["title", "area", "level"], where="town hall")

    clock.set(at(4, 10))
    wf.report_progress(OFFICER, lane, note="Power company asked for a permit.")
    clock.set(at(4, 18))
    wf.report_progress(OFFICER, lane, note="Cable moved; six lamps ordered.")

    clock.set(at(5, 1, 1))
    assert wf.escalate_if_overdue(lane).detail == {"escalated": True}  # village -> town, due 31 May 01:00
    clock.set(at(5, 6))
    wf.hand_over(OFFICER, lane, to="Li", reason="Zhang is transferred to the county.")
    clock.set(at(5, 6, 10))
    wf.disclose(OFFICER, lane, fields=["leader", "level", "deadline", "progress"], where="online register")
    return {"2026-0001": str(bus), "2026-0002": str(lane)}


def register_rows(projector: Projector, now: datetime) -> list[dict[str, Any]]:
    """The register's rows as the public query answers them at `now` (all on one page)."""
    page = queries.public_register(projector.db, now=now, page_size=10)
    assert page.total == len(page.rows)
    return page.rows


def test_the_register_shows_exactly_what_was_disclosed_newest_disclosure_first(
    make_workflow: StoreFactory, projector: Projector, clock: FakeClock
) -> None:
    # Given the story, told in calendar days so the escalated deadline can be counted by hand
    workflow = make_workflow(working_days=False)
    ids = dark_lane_and_two_more(workflow, clock)

    # When the register has followed it
    projector.catch_up()

    # Then it lists the two disclosed items, the lane first: its last disclosure is the newest,
    # though the bus line has the lower number and was first disclosed later
    assert register_rows(projector, now=at(5, 6, 10)) == [
        {
            "issue_id": ids["2026-0002"],
            "number": "2026-0002",
            "published": {
                "number": "2026-0002",
                "title": "Street lights for the back lanes of grid 4",
                "leader": "Li",  # the second disclosure published the new leader...
                "department": "Public works office",  # ...and kept what only the first published
                "goals": "lights working and inspected",
                "level": "town",
                "deadline": "2026-05-31T01:00:00+00:00",  # the escalation's: 1 May 01:00 + 30 days
                "progress": "Cable moved; six lamps ordered.",  # the latest note, not the first
            },
            "where": "online register",
            "first_disclosed_at": "2026-03-20T09:00:00.000000Z",
            "last_disclosed_at": "2026-05-06T10:00:00.000000Z",
            "overdue": False,
        },
        {
            "issue_id": ids["2026-0001"],
            "number": "2026-0001",
            "published": {
                "number": "2026-0001",
                "title": "Bus line to the district hospital",
                "area": "development",
                "level": "town",
            },
            "where": "town hall",
            "first_disclosed_at": "2026-03-25T09:00:00.000000Z",
            "last_disclosed_at": "2026-03-25T09:00:00.000000Z",
            "overdue": False,
        },
    ]
    # ...the table counts the disclosures and keeps the deadline as published
    with projector.db.read() as tx:
        table = tx.fetchall(
            "SELECT number, published_where, deadline, disclosures FROM register ORDER BY number"
        )
    assert [tuple(row) for row in table] == [
        ("2026-0001", "town hall", None, 1),
        ("2026-0002", "online register", "2026-05-31T01:00:00+00:00", 2),
    ]
    # ...and nothing private is anywhere in the table: not the reporter, nor an undisclosed note or item
    with projector.db.read() as tx:
        everything = json.dumps(tx.fetchall("SELECT * FROM register"), ensure_ascii=False)
    assert [text for text in PRIVATE if text in everything] == []
    assert "Cable moved; six lamps ordered." in everything  # the search can find what is there


def test_the_register_flags_an_item_overdue_once_its_published_deadline_has_passed(
    make_workflow: StoreFactory, projector: Projector, clock: FakeClock
) -> None:
    # Given the story, whose lane was last published due 31 May 01:00, and the bus line with no deadline
    workflow = make_workflow(working_days=False)
    dark_lane_and_two_more(workflow, clock)
    projector.catch_up()

    def overdue(now: datetime) -> dict[str, bool]:
        return {row["number"]: row["overdue"] for row in register_rows(projector, now)}

    # Then the lane is overdue only after that moment (as the domain has it), and the bus line never
    assert overdue(at(5, 31, 0, 59)) == {"2026-0002": False, "2026-0001": False}
    assert overdue(at(5, 31, 1, 0)) == {"2026-0002": False, "2026-0001": False}
    assert overdue(at(5, 31, 1, 1)) == {"2026-0002": True, "2026-0001": False}


def evaluated(workflow: Any, issue: str, satisfied: int, dissatisfied: int, **conclude: Any) -> str:
    """The people's verdicts on the resolved item, then the conclusion; the outcome."""
    workflow.report_resolution(OFFICER, issue, summary="Six lamps lit.")
    for n in range(satisfied + dissatisfied):
        verdict = "satisfied" if n < satisfied else "dissatisfied"
        workflow.record_evaluation(OFFICER, issue, evaluator=f"Representative {n}", verdict=verdict)
    return str(workflow.conclude_evaluation(OFFICER, issue, **conclude).detail["outcome"])


def test_a_closed_item_is_not_overdue_past_its_last_published_deadline(
    make_workflow: StoreFactory, projector: Projector, clock: FakeClock
) -> None:
    # Given the story's lane, published due 31 May 01:00, closed by the people's evaluation on 20 May
    workflow = make_workflow(working_days=False)
    dark_lane_and_two_more(workflow, clock)
    clock.set(at(5, 20))
    assert evaluated(workflow, "2026-0002", satisfied=20, dissatisfied=0) == "closed"
    projector.catch_up()
    # When the register is read after the deadline it last published
    rows = {row["number"]: row for row in register_rows(projector, now=at(6, 1))}
    # Then it is not flagged overdue (a closed item can no longer be disclosed: the flag would stay)
    assert rows["2026-0002"]["overdue"] is False


def test_an_item_reopened_by_evaluation_is_overdue_past_its_new_published_deadline(
    make_workflow: StoreFactory, projector: Projector, clock: FakeClock
) -> None:
    # Given the story's lane, reopened by a dissatisfied evaluation on 20 May with a deadline of 10 June,
    # and its outcome and new deadline disclosed
    workflow = make_workflow(working_days=False)
    dark_lane_and_two_more(workflow, clock)
    clock.set(at(5, 20))
    outcome = evaluated(workflow, "2026-0002", satisfied=10, dissatisfied=10, new_deadline=at(6, 10))
    assert outcome == "reopened"
    workflow.disclose(OFFICER, "2026-0002", fields=["outcome", "deadline"], where="online register")
    projector.catch_up()

    def overdue(now: datetime) -> bool:
        return {row["number"]: row["overdue"] for row in register_rows(projector, now)}["2026-0002"]

    # Then it is overdue once 10 June has passed, as any open item past its published deadline
    assert overdue(at(6, 9)) is False
    assert overdue(at(6, 20)) is True


def test_a_register_filled_by_its_first_version_is_rebuilt_with_the_closed_items_at_start_up(
    make_workflow: StoreFactory, projector: Projector, clock: FakeClock, settings: Settings
) -> None:
    # Given the story's lane closed, and a view database as the register's first version left it:
    # no `closed` column, and the first version's marker
    workflow = make_workflow(working_days=False)
    dark_lane_and_two_more(workflow, clock)
    clock.set(at(5, 20))
    assert evaluated(workflow, "2026-0002", satisfied=20, dissatisfied=0) == "closed"
    projector.catch_up()
    before = register_rows(projector, now=at(6, 1))
    with projector.db.transaction() as tx:
        tx.execute("ALTER TABLE register DROP COLUMN closed")
        tx.execute("DELETE FROM projection_tracking WHERE name = 'view:register:v2'")
        tx.execute("INSERT INTO projection_tracking (name, position) VALUES ('view:register', 0)")
    # When a projector starts on it
    with main_projector(settings) as restarted:
        # Then the register was rebuilt from the log: the same rows, the lane known to be closed,
        # and only the current version's marker
        assert register_rows(restarted, now=at(6, 1)) == before
        with restarted.db.read() as tx:
            closed = dict(tx.fetchall("SELECT number, closed FROM register"))
            markers = [
                row[0]
                for row in tx.fetchall(
                    "SELECT name FROM projection_tracking WHERE name LIKE 'view:register%'"
                )
            ]
        assert closed == {"2026-0001": 0, "2026-0002": 1}
        assert markers == ["view:register:v2"]
