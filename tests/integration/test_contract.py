"""The contract every store must keep: one story, told against SQLite and PostgreSQL alike.

Each test is given / when / then. The stores come from the `settings` fixture in
`tests/conftest.py`, so every test here runs once per store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.clock import FakeClock
from domain.contacts import Contact
from domain.errors import CaselineError, IssueNotFoundError
from domain.issue import Issue
from domain.rules import Actor, Role
from domain.workflow import Workflow
from tests.conftest import StoreFactory
from tests.integration.races import of_kind

WANG = Actor("Wang", role=Role.RECORDER)
ZHAO = Actor("Zhao", role=Role.RECORDER)
OPERATOR = Actor("Hotline operator", role=Role.RECORDER)
CLERK = Actor("Village clerk")
ZHANG = Actor("Zhang")
LI = Actor("Li")

APRIL_30 = datetime(2026, 4, 30, 16, 0, tzinfo=UTC)  # midnight in Beijing


def on(month: int, day: int, hour: int = 9) -> datetime:
    """A moment of 2026, in UTC."""
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def names(events: list[Any]) -> list[str]:
    """The event class names, in order: what the audit trail would list."""
    return [type(e).__name__ for e in events]


def record(workflow: Workflow, actor: Actor = WANG, **overrides: Any) -> UUID:
    """Record one voice from grid 4 and answer its id."""
    fields: dict[str, Any] = {
        "kind": "difficulty",
        "area": "security",
        "channel": "household_visit",
        "unit": "grid 4",
        "text": "The lane behind building 7 has no street light.",
    }
    return workflow.record_opinion(actor, **{**fields, **overrides}).id


def open_plain_issue(workflow: Workflow, title: str = "Street lights") -> str:
    number = workflow.open_issue(CLERK, title=title, area="security", level="village", horizon="near").number
    assert number is not None
    return number


# -- scenario 1: the dark lane ----------------------------------------------------------


def test_carries_the_dark_lane_from_four_voices_to_a_closed_item(
    workflow: Workflow, clock: FakeClock
) -> None:
    # Given four voices about the same dark lane, recorded in the first week of March
    old_man_household = Contact(name="Household 12, grid 4", phone="13800000012")
    voices = [
        record(workflow, WANG, contact=old_man_household, place="behind building 7"),
    ]
    clock.set(on(3, 5))
    voices += [
        record(workflow, ZHAO, text="No light in the back lane; hard to walk at night."),
        record(workflow, ZHAO, text="The back lane of grid 4 is dark, please fix the lamp."),
    ]
    clock.set(on(3, 6))
    voices.append(record(workflow, OPERATOR, channel="hotline", text="Dark lane behind building 7, grid 4."))

    # When the village analysis meeting merges them into one item, routed to coordinate
    clock.set(on(3, 14))
    analysis = workflow.hold_meeting(
        CLERK, kind="analysis", unit="Village 3", held_at=on(3, 14), attendees=["Wang", "Zhao", "Zhang"],
        title="March analysis meeting",
    ).id  # fmt: skip
    opened = workflow.open_issue(
        CLERK, title="Street lights for the back lanes of grid 4", area="security", level="village",
        horizon="near", opinion_ids=voices[:1], meeting_id=analysis,
    )  # fmt: skip
    number = opened.number
    assert number == "2026-0001"
    merged = workflow.merge_opinions(CLERK, number, voices[1:], meeting_id=analysis)
    for voice in voices:
        workflow.route_opinion(
            CLERK,
            voice,
            route="coordinate",
            reason="the power company must move a cable",
            meeting_id=analysis,
        )

    # Then the item holds the four voices, each voice points at it, and the meeting is on record
    assert merged.id == opened.id
    item = workflow.get_issue(number)
    assert sorted(item.opinion_ids) == sorted(voices)
    for voice in voices:
        opinion = workflow.get_opinion(voice)
        assert (opinion.issue_id, opinion.route) == (opened.id, "coordinate")
    opened_event, *links = workflow.history(number)[:4]
    assert opened_event.meeting_id == analysis
    assert [e.meeting_id for e in links] == [analysis] * 3
    assert names(links) == ["OpinionLinked"] * 3

    # When the assignment meeting gives it to Zhang with a deadline, and it is disclosed twice
    clock.set(on(3, 20))
    assignment = workflow.hold_meeting(
        CLERK, kind="assignment", unit="Village 3", held_at=on(3, 20), attendees=["Zhang", "Li"],
        title="March assignment meeting",
    ).id  # fmt: skip
    workflow.assign_leader(
        CLERK, number, leader="Zhang", department="Public works office",
        goals=["lights working and inspected"], measures=["move the cable", "install four lamps"],
        deadline=APRIL_30, meeting_id=assignment,
    )  # fmt: skip
    for where in ("village bulletin board", "public register"):
        disclosed = workflow.disclose(
            CLERK, number, fields=["title", "leader", "department", "goals", "deadline"], where=where
        )
        assert disclosed.detail["published"]["leader"] == "Zhang"

    # Then the assignment carries the meeting's id and each disclosure keeps what was published
    item = workflow.get_issue(number)
    assert (item.leader, item.department, item.deadline, item.stage) == (
        "Zhang",
        "Public works office",
        APRIL_30,
        "assigned",
    )
    history = workflow.history(number)
    assert of_kind(history, "LeaderAssigned")[0].meeting_id == assignment
    disclosures = of_kind(history, "Disclosed")
    assert [d.where for d in disclosures] == ["village bulletin board", "public register"]
    assert disclosures[0].published["department"] == "Public works office"

    # When coordination is asked of the power company, answered, and progress reported
    clock.set(on(4, 10))
    asked = workflow.request_coordination(
        ZHANG, number, department="Power company", request="Move the cable behind building 7."
    )
    clock.set(on(4, 18))
    workflow.answer_coordination(
        Actor("Power company desk"), number, index=asked.detail["coordination"], answer="Cable moved."
    )
    workflow.report_progress(ZHANG, number, note="Cable moved; lamps ordered.")

    # Then the item is in progress with its coordination answered
    item = workflow.get_issue(number)
    assert item.stage == "in_progress"
    assert item.coordinations == [
        {
            "department": "Power company",
            "request": "Move the cable behind building 7.",
            "answer": "Cable moved.",
        }
    ]

    # When the deadline passes and the scheduler runs overnight (twice, as schedulers do)
    clock.set(on(5, 1, hour=2))
    first_run = workflow.escalate_if_overdue(number)
    second_run = workflow.escalate_if_overdue(number)

    # Then the item climbs to the town once, with a new deadline, the missed one held against Zhang
    assert (first_run.changed, first_run.detail) == (True, {"escalated": True})
    assert (second_run.changed, second_run.detail) == (False, {"escalated": False})
    item = workflow.get_issue(number)
    # The town's service level is 30 working days: from Fri 1 May, the Labour Day break (1-5 May) is
    # off and Sat 9 May is worked, so the 30th working day is Mon 15 June (counted by hand).
    town_deadline = on(6, 15, hour=2)
    assert (item.level, item.deadline, item.escalated_for) == ("town", town_deadline, [APRIL_30])
    (escalated,) = of_kind(workflow.history(number), "Escalated")
    assert (escalated.from_level, escalated.to_level, escalated.for_deadline, escalated.leader) == (
        "village",
        "town",
        APRIL_30,
        "Zhang",
    )

    # When Zhang is transferred and hands the item over to Li
    clock.set(on(5, 6))
    workflow.hand_over(ZHANG, number, to="Li", reason="Zhang is transferred to the county office")

    # Then Li is accountable from now on and the record says who held it before
    assert workflow.get_issue(number).leader == "Li"
    (handover,) = of_kind(workflow.history(number), "LeadershipHandedOver")
    assert (handover.previous, handover.leader, handover.timestamp) == ("Zhang", "Li", on(5, 6))

    # When Li reports the lights installed and a representative confirms on the spot
    clock.set(on(5, 25))
    workflow.report_resolution(LI, number, summary="Four lamps installed and lit.")
    workflow.record_inspection(
        Actor("Representative Sun"), number, inspector="Sun", findings="All four lamps light up.",
        confirmed=True,
    )  # fmt: skip
    assert workflow.get_issue(number).stage == "resolved"

    # When the June evaluation meeting gives 17 satisfied, 1 basically, 2 dissatisfied
    clock.set(on(6, 12))
    june = workflow.hold_meeting(
        CLERK, kind="evaluation", unit="Village 3", held_at=on(6, 12),
        attendees=[f"Representative {n}" for n in range(1, 21)], title="June evaluation meeting",
    ).id  # fmt: skip
    verdicts = ["satisfied"] * 17 + ["basically_satisfied"] + ["dissatisfied"] * 2
    for n, verdict in enumerate(verdicts, start=1):
        workflow.record_evaluation(
            CLERK, number, evaluator=f"Representative {n}", verdict=verdict, meeting_id=june,
            comment="one lamp already out" if verdict == "dissatisfied" else None,
        )  # fmt: skip
    june_outcome = workflow.conclude_evaluation(CLERK, number, meeting_id=june)

    # Then 90% is below the 95% target: reopened under the same leader, with a new deadline
    assert june_outcome.detail == {"outcome": "reopened"}
    item = workflow.get_issue(number)
    assert (item.stage, item.leader) == ("in_progress", "Li")
    assert item.deadline is not None
    assert item.deadline > on(6, 12)
    (reopened,) = of_kind(workflow.history(number), "Reopened")
    assert (reopened.rate, reopened.leader, reopened.meeting_id) == (0.9, "Li", june)
    assert reopened.counts == {"satisfied": 17, "basically_satisfied": 1, "dissatisfied": 2}

    # When July's fix satisfies all twenty
    clock.set(on(7, 8))
    workflow.report_resolution(LI, number, summary="The broken lamp replaced.")
    clock.set(on(7, 20))
    july = workflow.hold_meeting(
        CLERK, kind="evaluation", unit="Village 3", held_at=on(7, 20),
        attendees=[f"Representative {n}" for n in range(1, 21)], title="July evaluation meeting",
    ).id  # fmt: skip
    for n in range(1, 21):
        workflow.record_evaluation(
            CLERK, number, evaluator=f"Representative {n}", verdict="satisfied", meeting_id=july
        )
    july_outcome = workflow.conclude_evaluation(CLERK, number, meeting_id=july)
    for voice in voices:
        workflow.answer_opinion(CLERK, voice, feedback="The lights are installed; the item is closed.")

    # Then the item is closed under Li and every reporter heard the outcome
    assert july_outcome.detail == {"outcome": "closed"}
    item = workflow.get_issue(number)
    assert (item.stage, item.leader, item.rounds) == ("closed", "Li", 2)
    assert all(workflow.get_opinion(v).answered for v in voices)
    (closed,) = of_kind(workflow.history(number), "Closed")
    assert (closed.rate, closed.leader, closed.meeting_id) == (1.0, "Li", july)

    # And a supervisor replaying the item as of May 3 sees it at town level, overdue, under Zhang
    may_3 = workflow.issue_at(number, at=on(5, 3))
    assert (may_3.level, may_3.leader, may_3.stage) == ("town", "Zhang", "in_progress")
    assert may_3.escalated_for == [APRIL_30], "the missed deadline shows in the replay"
    # ...and as of the night the deadline passed, before the scheduler ran, it was overdue at village level
    night = workflow.issue_at(number, at=on(5, 1, hour=1))
    assert (night.level, night.leader, night.is_overdue(on(5, 1, hour=1))) == ("village", "Zhang", True)


def handed_over_item(workflow: Workflow, clock: FakeClock) -> str:
    """An item opened, assigned to Zhang a day later, and handed over to Li a day after that."""
    number = open_plain_issue(workflow)
    clock.advance(timedelta(days=1))
    workflow.assign_leader(
        CLERK, number, leader="Zhang", department="Public works office", goals=["lights"],
        measures=["lamps"], deadline=clock.now() + timedelta(days=30),
    )  # fmt: skip
    clock.advance(timedelta(days=1))
    workflow.hand_over(CLERK, number, to="Li", reason="transfer")
    return number


def test_replays_an_issue_as_of_each_version(workflow: Workflow, clock: FakeClock) -> None:
    # Given an item opened, assigned, then handed over
    number = handed_over_item(workflow, clock)

    # When it is replayed as of each version, by number and by id
    states = [workflow.issue_at(number, version=v) for v in (1, 2, 3)]
    by_id = workflow.issue_at(workflow.issue_id(number), version=2)

    # Then each version shows the state it had then
    assert [(s.version, s.stage, s.leader) for s in states] == [
        (1, "opened", None),
        (2, "assigned", "Zhang"),
        (3, "assigned", "Li"),
    ]
    assert (by_id.version, by_id.leader) == (2, "Zhang")
    assert workflow.get_issue(number).version == 3


def test_replays_an_issue_as_of_the_moment_of_each_event(workflow: Workflow, clock: FakeClock) -> None:
    # Given an item opened on March 3 and assigned on March 4
    opened_at = clock.now()
    number = open_plain_issue(workflow)
    clock.set(opened_at + timedelta(days=1))
    workflow.assign_leader(
        CLERK, number, leader="Zhang", department="Public works office", goals=["lights"],
        measures=["lamps"], deadline=clock.now() + timedelta(days=30),
    )  # fmt: skip

    # When it is replayed at, just before, and just after its events
    at_opening = workflow.issue_at(number, at=opened_at)
    before_assignment = workflow.issue_at(number, at=opened_at + timedelta(hours=23))
    after_assignment = workflow.issue_at(number, at=opened_at + timedelta(days=2))

    # Then each replay shows exactly the events up to that moment
    assert (at_opening.version, at_opening.leader) == (1, None)
    assert (before_assignment.version, before_assignment.leader) == (1, None)
    assert (after_assignment.version, after_assignment.leader) == (2, "Zhang")


def as_answered(call: Callable[[], Issue]) -> tuple[str, Any]:
    """What a replay answers: the state it gives, or the error it raises, comparable."""
    try:
        return "state", vars(call())
    except CaselineError as error:
        return type(error).__name__, str(error)


def test_replays_from_a_history_already_read_as_from_the_store(
    workflow: Workflow, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an item opened, assigned, handed over a day apart, then reported on past its 50th
    # event (so the store replays from a snapshot)
    number = handed_over_item(workflow, clock)
    for n in range(50):
        clock.advance(timedelta(minutes=1))
        workflow.report_progress(CLERK, number, note=f"report {n}")
    history = workflow.history(number)
    issue_id = workflow.issue_id(number)
    versions = [*range(0, len(history) + 2)]
    moments = [e.timestamp + delta for e in history[:4] for delta in (timedelta(0), timedelta(seconds=-1))]
    moments += [history[-1].timestamp, history[-1].timestamp + timedelta(days=1)]
    asked: list[dict[str, Any]] = [{}, *({"version": v} for v in versions), *({"at": m} for m in moments)]
    asked.append({"at": on(5, 3).replace(tzinfo=None)})
    refs = (number, issue_id)
    from_store = [as_answered(lambda r=r, a=a: workflow.issue_at(r, **a)) for r in refs for a in asked]

    # When the same replays are asked of the history already read, by number and by id
    def unread(*args: object, **kwargs: object) -> None:
        raise AssertionError("the history given is read again")

    monkeypatch.setattr(workflow.events, "get", unread)
    from_history = [
        as_answered(lambda r=r, a=a: workflow.issue_at(r, history=history, **a)) for r in refs for a in asked
    ]

    # Then they answer exactly as the store does, states and refusals alike, without reading it
    assert from_history == from_store
    assert {kind for kind, _ in from_store} == {"state", "InvalidInputError", "IssueNotFoundError"}


def test_the_history_of_anything_but_an_issue_is_no_issue(workflow: Workflow) -> None:
    # Given a voice (an aggregate, but no issue) and an item
    voice = record(workflow)
    number = open_plain_issue(workflow)

    # When the history of the voice's id, of an unknown number and of an unknown id are asked for
    # Then each is refused as no such issue, as loading it would be; the item's is its events
    for ref in (voice, "2026-9999", UUID(int=7)):
        with pytest.raises(IssueNotFoundError, match=f"There is no issue {ref}"):
            workflow.history(ref)
        with pytest.raises(IssueNotFoundError, match=f"There is no issue {ref}"):
            workflow.get_issue(ref)
    assert names(workflow.history(number)) == ["Opened"]
    # ...and a replay is never folded from another item's history
    other = open_plain_issue(workflow, title="Benches")
    with pytest.raises(ValueError, match="not that of issue"):
        workflow.issue_at(number, history=workflow.history(other))


# -- issue numbers ----------------------------------------------------------------------


def test_numbers_issues_uniquely_and_in_sequence_and_resolves_them_by_number(workflow: Workflow) -> None:
    # Given a fresh store
    # When twelve items are opened
    opened = [
        workflow.open_issue(CLERK, title=f"Item {n}", area="environment", level="grid", horizon="near")
        for n in range(1, 13)
    ]

    # Then they are numbered 2026-0001 to 2026-0012, each number naming its own item
    assert [r.number for r in opened] == [f"2026-{n:04d}" for n in range(1, 13)]
    for result in opened:
        assert result.number is not None
        issue = workflow.get_issue(result.number)
        assert (issue.id, issue.number) == (result.id, result.number)
        assert workflow.issue_id(f"  {result.number} ") == result.id
        assert workflow.get_issue(str(result.id)).number == result.number


def test_starts_numbering_again_in_a_new_year(workflow: Workflow, clock: FakeClock) -> None:
    # Given two items opened in 2026
    open_plain_issue(workflow, "First")
    open_plain_issue(workflow, "Second")

    # When the year turns and another item is opened
    clock.set(datetime(2027, 1, 2, tzinfo=UTC))
    number = open_plain_issue(workflow, "Third")

    # Then it is the first of 2027, and the 2026 numbers still resolve
    assert number == "2027-0001"
    assert workflow.get_issue("2027-0001").title == "Third"
    assert workflow.get_issue("2026-0002").title == "Second"


def test_sees_the_same_issues_from_a_second_application_instance(make_workflow: StoreFactory) -> None:
    # Given an item written by one application instance
    writer, reader = make_workflow(), make_workflow()
    number = open_plain_issue(writer)

    # When another instance over the same store reads it
    issue = reader.get_issue(number)

    # Then it sees the same item
    assert isinstance(issue, Issue)
    assert (issue.number, issue.title, issue.version) == ("2026-0001", "Street lights", 1)


# -- personal data ----------------------------------------------------------------------


NAME = "Wang Xiuying"
PHONE = "13912345678"
ADDRESS = "Household 12, building 7, grid 4"


def stored_bytes(workflow: Workflow) -> list[bytes]:
    return [n.state for n in workflow.recorder.select_notifications(start=1, limit=10000)]


def test_keeps_a_reporters_contact_details_out_of_the_event_log(workflow: Workflow) -> None:
    # Given a voice recorded with the reporter's contact details, then merged, routed and answered
    contact = Contact(name=NAME, phone=PHONE, address=ADDRESS)
    voice = record(
        workflow, contact=contact, text="The lane behind building 7 is dark at night.", key="visit-1"
    )
    workflow.open_issue(
        CLERK, title="Street lights", area="security", level="village", horizon="near", opinion_ids=[voice]
    )
    workflow.route_opinion(CLERK, voice, route="coordinate", reason="cable")
    workflow.answer_opinion(CLERK, voice, feedback="An item was opened.")

    # When every stored event is read back as bytes
    stored = stored_bytes(workflow)

    # Then the voice itself is there but the name, phone and address are in no event
    assert len(stored) >= 4
    assert any(b"The lane behind building 7 is dark at night." in s for s in stored), (
        "the search can find text"
    )
    for secret in (NAME, PHONE, ADDRESS):
        assert not [s for s in stored if secret.encode() in s], f"{secret!r} leaked into the log"
    # ...while officers who may see them still can, from the contact store
    assert workflow.contact(voice) == contact


def test_keeps_non_latin_contact_details_out_of_the_event_log(workflow: Workflow) -> None:
    # Given a voice recorded with a contact written in Chinese
    contact = Contact(name="王秀英", phone="139-1234-5678", address="四网格七号楼十二户")
    voice = record(workflow, contact=contact, text="七号楼后面的小巷没有路灯。")

    # When every stored event is read back as bytes
    stored = stored_bytes(workflow)

    # Then the Chinese text of the voice is stored as UTF-8, and none of the contact is
    assert any("七号楼后面的小巷没有路灯。".encode() in s for s in stored)
    for secret in ("王秀英", "139-1234-5678", "四网格七号楼十二户"):
        assert not [s for s in stored if secret.encode() in s]
        assert not [s for s in stored if secret.encode("unicode_escape") in s]
    assert workflow.contact(voice) == contact


def test_erases_a_reporters_contact_without_touching_the_event_log(make_workflow: StoreFactory) -> None:
    # Given a voice with contact details, merged into an item
    workflow, elsewhere = make_workflow(), make_workflow()
    contact = Contact(name=NAME, phone=PHONE)
    voice = record(workflow, contact=contact)
    workflow.open_issue(
        CLERK, title="Street lights", area="security", level="village", horizon="near", opinion_ids=[voice]
    )
    events_before = stored_bytes(workflow)
    assert elsewhere.contact(voice) == contact

    # When the reporter asks to be forgotten
    erased = workflow.erase_contact(Actor("Data officer", role=Role.ADMIN), voice)

    # Then the details are gone for every instance, the log is unchanged, the voice still stands
    assert erased is True
    assert workflow.contact(voice) is None
    assert elsewhere.contact(voice) is None
    assert stored_bytes(workflow) == events_before
    opinion = workflow.get_opinion(voice)
    assert (opinion.text, opinion.issue_id is not None) == (
        "The lane behind building 7 has no street light.",
        True,
    )
    # ...and erasing again finds nothing to erase
    assert workflow.erase_contact(Actor("Data officer", role=Role.ADMIN), voice) is False


def test_keeps_nothing_after_erasure_that_could_confirm_a_guessed_phone_number(workflow: Workflow) -> None:
    # Given a voice recorded with a key and the reporter's phone, whose contact was then erased
    voice = record(workflow, contact=Contact(name=NAME, phone=PHONE), key="visit-1")
    assert workflow.erase_contact(Actor("Data officer", role=Role.ADMIN), voice) is True

    def resend_with(phone: str) -> str:
        """How the store answers the same keyed request carrying a guessed phone number."""
        try:
            result = workflow.record_opinion(
                WANG, kind="difficulty", area="security", channel="household_visit", unit="grid 4",
                text="The lane behind building 7 has no street light.",
                contact=Contact(name=NAME, phone=phone), key="visit-1",
            )  # fmt: skip
        except CaselineError as error:
            return error.code
        return "answered as before" if result.id == voice and not result.changed else "recorded anew"

    # When someone holding the key resends the request with the right phone and with a wrong one
    right, wrong = resend_with(PHONE), resend_with("13900000000")

    # Then the two answers are alike: nothing left in the log tells which phone the reporter had
    assert right == wrong, f"the log still tells the erased phone apart: {right!r} vs {wrong!r}"


def test_erases_nothing_for_a_voice_recorded_without_contact(workflow: Workflow) -> None:
    # Given an anonymous voice
    voice = record(workflow)

    # When its contact is erased
    erased = workflow.erase_contact(Actor("Data officer", role=Role.ADMIN), voice)

    # Then there was nothing to erase
    assert (erased, workflow.contact(voice)) == (False, None)


def test_answers_a_number_of_another_year_as_not_found(workflow: Workflow) -> None:
    # Given one item of 2026
    open_plain_issue(workflow)

    # When the same sequence number of another year is asked for
    # Then there is no such item
    with pytest.raises(IssueNotFoundError):
        workflow.get_issue("2025-0001")
