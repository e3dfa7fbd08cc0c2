"""Bad days: bad input and broken rules get a clear, specific error and write nothing, on every store.

Each refusal is checked three ways: the exact error class (not merely a parent), its stable
`code`, and the event log's last notification id, which must not move. Settings and the
application service refuse a broken configuration before anything runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4, uuid5

import psycopg
import pytest
from pydantic import ValidationError

from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock
from domain.contacts import Contact, MemoryContacts
from domain.errors import (
    CaselineError,
    DeadlineInPastError,
    InvalidInputError,
    IssueClosedError,
    IssueNotFoundError,
    LeaderAlreadyAssignedError,
    MeetingNotFoundError,
    OpinionAlreadyMergedError,
    OpinionNotFoundError,
    SameLeaderError,
)
from domain.rules import Actor, Role
from domain.workflow import NAMESPACE, MisconfiguredError, Workflow
from tests.conftest import POSTGRES_URL, START, postgres_available

CLERK = Actor("Village clerk")
WANG = Actor("Wang", role=Role.RECORDER)
FIVE_MB = "x" * (5 * 1024 * 1024)
NEVER_HELD = UUID("00000000-0000-4000-8000-00000000dead")


@dataclass
class World:
    """A small store to be refused against: voices, items in several stages, a meeting."""

    workflow: Workflow
    clock: FakeClock
    merged: UUID  # a voice already merged into `assigned`
    free: UUID  # a voice merged nowhere yet
    opened: str  # an item with no leader yet
    assigned: str  # an item led by Zhang
    closed: str  # an item the people were satisfied with
    meeting: UUID

    @property
    def now(self) -> datetime:
        return self.clock.now()


def record(workflow: Workflow, **overrides: Any) -> UUID:
    fields: dict[str, Any] = {
        "kind": "difficulty",
        "area": "security",
        "channel": "household_visit",
        "unit": "grid 4",
        "text": "The lane behind building 7 has no street light.",
    }
    return workflow.record_opinion(WANG, **{**fields, **overrides}).id


def open_issue(workflow: Workflow, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "title": "Street lights",
        "area": "security",
        "level": "village",
        "horizon": "near",
    }
    number = workflow.open_issue(CLERK, **{**fields, **overrides}).number
    assert number is not None
    return number


def assign(world: World, ref: UUID | str, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "leader": "Zhang",
        "department": "Public works office",
        "goals": ["lights working and inspected"],
        "measures": ["move the cable"],
        "deadline": world.now + timedelta(days=30),
    }
    return world.workflow.assign_leader(CLERK, ref, **{**fields, **overrides})


def build_world(workflow: Workflow, clock: FakeClock) -> World:
    """Voices, an opened, an assigned and a closed item, and a meeting, an hour in the past."""
    merged, free = record(workflow), record(workflow, text="Another dark lane, by the school.")
    opened = open_issue(workflow, title="Benches for the square")
    assigned = open_issue(workflow, opinion_ids=[merged])
    closed = open_issue(workflow, title="Blocked drain by the market", horizon="immediate")
    meeting = workflow.hold_meeting(
        CLERK, kind="analysis", unit="Village 3", held_at=clock.now(), attendees=["Wang"], title="Analysis"
    ).id
    world = World(workflow, clock, merged, free, opened, assigned, closed, meeting)
    for number in (assigned, closed):
        assign(world, number)
    workflow.report_resolution(CLERK, closed, summary="Drain cleared with the sanitation crew.")
    workflow.record_evaluation(CLERK, closed, evaluator="Representative Sun", verdict="satisfied")
    workflow.conclude_evaluation(CLERK, closed)
    assert workflow.get_issue(closed).stage == "closed"
    clock.advance(timedelta(hours=1))
    return world


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world per store for the table of refusals, built once to keep the suite quick.

    Sharing is safe because every refusal asserts that it wrote nothing. It mirrors the
    `settings` and `postgres_schema` fixtures of conftest, which are function-scoped.
    """
    folder = tmp_path_factory.mktemp("bad-input") / "var"
    schema = None
    if request.param == "sqlite":
        settings = Settings(data_dir=folder)
    else:
        reason = postgres_available()
        if reason is not None:
            if os.environ.get("CASELINE_REQUIRE_POSTGRES") == "1":
                pytest.fail(f"{reason}; CI requires the PostgreSQL tests to run")
            pytest.skip(f"{reason}; these tests run in CI, where PostgreSQL is required")
        schema = f"t_{uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        settings = Settings(database_url=POSTGRES_URL, database_schema=schema, data_dir=folder)
    clock = FakeClock(START)
    workflow = build_workflow(settings, clock=clock)
    try:
        yield build_world(workflow, clock)
    finally:
        workflow.close()
        if schema is not None:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def refused(
    workflow: Workflow, error: type[CaselineError], code: str, command: Callable[[], object]
) -> CaselineError:
    """Run `command`; check it raised exactly `error` with `code` and that nothing was written."""
    before = workflow.recorder.max_notification_id()
    with pytest.raises(CaselineError) as raised:
        command()
    assert type(raised.value) is error, f"{type(raised.value).__name__}: {raised.value}"
    assert raised.value.code == code
    assert raised.value.message
    assert workflow.recorder.max_notification_id() == before
    return raised.value


Case = Callable[[World], object]

# Each case: what is sent, the exact error class, and its code.
CASES: dict[str, tuple[Case, type[CaselineError], str]] = {
    # -- texts: empty, blank, oversized ---------------------------------------------------
    "an empty opinion text": (lambda w: record(w.workflow, text=""), InvalidInputError, "invalid_input"),
    "a blank opinion text": (lambda w: record(w.workflow, text=" \n\t "), InvalidInputError, "invalid_input"),
    "an opinion text of 4001 characters": (
        lambda w: record(w.workflow, text="x" * 4001),
        InvalidInputError,
        "invalid_input",
    ),
    "a 5 MB opinion text": (lambda w: record(w.workflow, text=FIVE_MB), InvalidInputError, "invalid_input"),
    "an unknown kind of voice": (
        lambda w: record(w.workflow, kind="complaint"),
        InvalidInputError,
        "invalid_input",
    ),
    "a latitude without a longitude": (
        lambda w: record(w.workflow, latitude=30.0),
        InvalidInputError,
        "invalid_input",
    ),
    "an oversized contact name": (
        lambda w: record(w.workflow, contact=Contact(name="x" * 1000)),
        InvalidInputError,
        "invalid_input",
    ),
    "an empty title": (lambda w: open_issue(w.workflow, title=""), InvalidInputError, "invalid_input"),
    "a blank title": (lambda w: open_issue(w.workflow, title="    "), InvalidInputError, "invalid_input"),
    "a title of 201 characters": (
        lambda w: open_issue(w.workflow, title="t" * 201),
        InvalidInputError,
        "invalid_input",
    ),
    "a 5 MB description": (
        lambda w: open_issue(w.workflow, description=FIVE_MB),
        InvalidInputError,
        "invalid_input",
    ),
    "an unknown level": (
        lambda w: open_issue(w.workflow, level="province"),
        InvalidInputError,
        "invalid_input",
    ),
    "a progress note of 4001 characters": (
        lambda w: w.workflow.report_progress(CLERK, w.assigned, note="n" * 4001),
        InvalidInputError,
        "invalid_input",
    ),
    "a blank progress note": (
        lambda w: w.workflow.report_progress(CLERK, w.assigned, note="   "),
        InvalidInputError,
        "invalid_input",
    ),
    "an empty list of goals": (lambda w: assign(w, w.opened, goals=[]), InvalidInputError, "invalid_input"),
    "a blank leader": (lambda w: assign(w, w.opened, leader=" "), InvalidInputError, "invalid_input"),
    "merging no opinions": (
        lambda w: w.workflow.merge_opinions(CLERK, w.opened, []),
        InvalidInputError,
        "invalid_input",
    ),
    # -- ids that name nothing --------------------------------------------------------------
    "an unknown opinion id when opening an item": (
        lambda w: open_issue(w.workflow, opinion_ids=[uuid4()]),
        OpinionNotFoundError,
        "opinion_not_found",
    ),
    "an unknown opinion id when merging": (
        lambda w: w.workflow.merge_opinions(CLERK, w.opened, [w.free, uuid4()]),
        OpinionNotFoundError,
        "opinion_not_found",
    ),
    "an unknown opinion id when routing": (
        lambda w: w.workflow.route_opinion(CLERK, uuid4(), route="coordinate", reason="cable"),
        OpinionNotFoundError,
        "opinion_not_found",
    ),
    "an issue's id given as an opinion": (
        lambda w: w.workflow.answer_opinion(CLERK, w.workflow.issue_id(w.opened), feedback="done"),
        OpinionNotFoundError,
        "opinion_not_found",
    ),
    "an unknown issue id": (lambda w: assign(w, uuid4()), IssueNotFoundError, "issue_not_found"),
    "an unknown issue id as text": (lambda w: assign(w, str(uuid4())), IssueNotFoundError, "issue_not_found"),
    "an unknown issue number": (lambda w: assign(w, "2026-9999"), IssueNotFoundError, "issue_not_found"),
    "an issue number of another year": (
        lambda w: assign(w, "2025-0001"),
        IssueNotFoundError,
        "issue_not_found",
    ),
    "something that is neither id nor number": (
        lambda w: assign(w, "'; DROP TABLE stored_events; --"),
        IssueNotFoundError,
        "issue_not_found",
    ),
    "an opinion's id given as an issue": (lambda w: assign(w, w.free), IssueNotFoundError, "issue_not_found"),
    "a meeting's id given as an issue": (
        lambda w: w.workflow.report_progress(CLERK, w.meeting, note="x"),
        IssueNotFoundError,
        "issue_not_found",
    ),
    "an unknown meeting when opening an item": (
        lambda w: open_issue(w.workflow, meeting_id=NEVER_HELD),
        MeetingNotFoundError,
        "meeting_not_found",
    ),
    "an unknown meeting when assigning": (
        lambda w: assign(w, w.opened, meeting_id=NEVER_HELD),
        MeetingNotFoundError,
        "meeting_not_found",
    ),
    "an unknown meeting when recording a decision": (
        lambda w: w.workflow.record_decision(CLERK, uuid4(), decision="Merge the voices."),
        MeetingNotFoundError,
        "meeting_not_found",
    ),
    # -- times ------------------------------------------------------------------------------
    "a deadline yesterday": (
        lambda w: assign(w, w.opened, deadline=w.now - timedelta(days=1)),
        DeadlineInPastError,
        "deadline_in_past",
    ),
    "a deadline in 1970": (
        lambda w: assign(w, w.opened, deadline=datetime(1970, 1, 1, tzinfo=UTC)),
        DeadlineInPastError,
        "deadline_in_past",
    ),
    "a deadline this very moment": (
        lambda w: assign(w, w.opened, deadline=w.now),
        DeadlineInPastError,
        "deadline_in_past",
    ),
    "a naive deadline": (
        lambda w: assign(w, w.opened, deadline=datetime(2026, 12, 31, 12, 0)),
        InvalidInputError,
        "invalid_input",
    ),
    "a naive extended deadline": (
        lambda w: w.workflow.extend_deadline(
            CLERK, w.assigned, deadline=datetime(2026, 12, 31, 12, 0), reason="cable", approver="Chen"
        ),
        InvalidInputError,
        "invalid_input",
    ),
    "a naive meeting time": (
        lambda w: w.workflow.hold_meeting(
            CLERK,
            kind="analysis",
            unit="Village 3",
            held_at=datetime(2026, 3, 14, 9, 0),
            attendees=["Wang"],
            title="Analysis",
        ),
        InvalidInputError,
        "invalid_input",
    ),
    "a naive revisit date": (
        lambda w: w.workflow.register_and_explain(
            CLERK, w.opened, explanation="Not solvable at this level now.", revisit_at=datetime(2027, 3, 1)
        ),
        InvalidInputError,
        "invalid_input",
    ),
    # -- rules --------------------------------------------------------------------------------
    "merging into a closed item": (
        lambda w: w.workflow.merge_opinions(CLERK, w.closed, [w.free]),
        IssueClosedError,
        "issue_closed",
    ),
    "reporting progress on a closed item": (
        lambda w: w.workflow.report_progress(CLERK, w.closed, note="more work"),
        IssueClosedError,
        "issue_closed",
    ),
    "merging an opinion already merged elsewhere": (
        lambda w: w.workflow.merge_opinions(CLERK, w.opened, [w.free, w.merged]),
        OpinionAlreadyMergedError,
        "opinion_already_merged",
    ),
    "opening an item from an opinion already merged elsewhere": (
        lambda w: open_issue(w.workflow, opinion_ids=[w.free, w.merged]),
        OpinionAlreadyMergedError,
        "opinion_already_merged",
    ),
    "assigning an item twice": (
        lambda w: assign(w, w.assigned),
        LeaderAlreadyAssignedError,
        "leader_already_assigned",
    ),
    "assigning an item twice to another leader": (
        lambda w: assign(w, w.assigned, leader="Li"),
        LeaderAlreadyAssignedError,
        "leader_already_assigned",
    ),
    "handing an item over to its own leader": (
        lambda w: w.workflow.hand_over(CLERK, w.assigned, to="Zhang", reason="none"),
        SameLeaderError,
        "same_leader",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refuses_bad_input_with_its_own_error_and_writes_nothing(shared_world: World, case: str) -> None:
    # Given a store with voices, items in several stages and a meeting
    command, error, code = CASES[case]

    # When the bad command is sent
    # Then it is refused with its own error class and code, and nothing is written
    refused(shared_world.workflow, error, code, lambda: command(shared_world))


def test_writes_no_contact_row_when_the_voice_is_refused(shared_world: World) -> None:
    # Given a voice whose text is too long, sent with the reporter's contact and a key
    contact = Contact(name="Wang Xiuying", phone="13912345678")

    # When it is recorded
    refused(
        shared_world.workflow,
        InvalidInputError,
        "invalid_input",
        lambda: shared_world.workflow.record_opinion(
            WANG,
            kind="difficulty",
            area="security",
            channel="hotline",
            unit="grid 4",
            text=FIVE_MB,
            contact=contact,
            key="visit-9",
        ),
    )

    # Then not even the contact row was written (its reference is derived from the key)
    opinion_id = uuid5(NAMESPACE, f"opinion/{WANG.name}/visit-9")
    assert shared_world.workflow.contacts.get(uuid5(opinion_id, "contact")) is None


def test_refuses_an_opened_item_whose_opinion_is_merged_elsewhere_without_using_a_number(
    workflow: Workflow,
) -> None:
    # Given a voice already merged into item 2026-0001
    voice = record(workflow)
    first = open_issue(workflow, opinion_ids=[voice])

    # When another item is opened from it, and is refused
    error = refused(
        workflow,
        OpinionAlreadyMergedError,
        "opinion_already_merged",
        lambda: open_issue(workflow, title="Lamps again", opinion_ids=[voice]),
    )

    # Then the message names the item the voice is already in, and the next item gets the next number
    assert first in str(error)
    assert open_issue(workflow) == "2026-0002"


def test_names_the_item_an_opinion_already_belongs_to_when_merging(shared_world: World) -> None:
    # Given a voice merged into one item
    # When a clerk merges it into another
    error = refused(
        shared_world.workflow,
        OpinionAlreadyMergedError,
        "opinion_already_merged",
        lambda: shared_world.workflow.merge_opinions(CLERK, shared_world.opened, [shared_world.merged]),
    )

    # Then the message names the item it is already in, not the one it was being merged into
    assert shared_world.assigned in str(error)
    assert shared_world.opened not in str(error)


def test_keeps_a_5_mb_reference_out_of_the_not_found_message(shared_world: World) -> None:
    # Given a store
    # When an item is asked for by a 5 MB reference
    error = refused(
        shared_world.workflow,
        IssueNotFoundError,
        "issue_not_found",
        lambda: shared_world.workflow.get_issue(FIVE_MB),
    )

    # Then the message stays short
    assert len(str(error)) < 200


def test_refuses_to_replay_an_unknown_issue_as_of_a_version(shared_world: World) -> None:
    # Given a store
    # When a supervisor asks for an unknown item as of version 1
    # Then it is the same "no such item" as anywhere else, not a storage library error
    refused(
        shared_world.workflow,
        IssueNotFoundError,
        "issue_not_found",
        lambda: shared_world.workflow.issue_at(uuid4(), version=1),
    )


@pytest.mark.parametrize(
    "as_of",
    [
        pytest.param({"version": 0}, id="version 0"),
        pytest.param({"at": datetime(2026, 5, 3, 9, 0)}, id="a naive moment"),
        pytest.param({"version": 1, "at": datetime(2026, 5, 3, 9, 0, tzinfo=UTC)}, id="both"),
    ],
)
def test_refuses_a_replay_as_of_a_bad_version_or_moment(shared_world: World, as_of: dict[str, Any]) -> None:
    # Given an item
    # When it is replayed as of a version below 1, a naive moment, or both a version and a moment
    # Then the request is refused as bad input
    refused(
        shared_world.workflow,
        InvalidInputError,
        "invalid_input",
        lambda: shared_world.workflow.issue_at(shared_world.assigned, **as_of),
    )


def test_names_the_moment_in_utc_when_replaying_before_the_item_existed(shared_world: World) -> None:
    # Given an item opened on March 3 at 09:00 UTC
    # When it is replayed as of 08:00 on March 3 in Beijing (00:00 UTC), before it existed
    beijing = timezone(timedelta(hours=8))
    error = refused(
        shared_world.workflow,
        IssueNotFoundError,
        "issue_not_found",
        lambda: shared_world.workflow.issue_at(
            shared_world.assigned, at=datetime(2026, 3, 3, 8, 0, tzinfo=beijing)
        ),
    )

    # Then the message gives that moment in UTC, as it says it does
    assert "2026-03-03 00:00 UTC" in str(error)


def test_accepts_texts_at_their_limits(workflow: Workflow) -> None:
    # Given an empty store
    # When a voice of exactly 4000 characters and an item titled with exactly 200 are sent
    voice = record(workflow, text="v" * 4000)
    number = open_issue(workflow, title="t" * 200, opinion_ids=[voice])

    # Then both are recorded in full
    assert workflow.get_opinion(voice).text == "v" * 4000
    assert workflow.get_issue(number).title == "t" * 200


# -- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root@127.0.0.1:3306/caseline",
        "sqlite:///var/events.sqlite",
        "postgresql://postgres@127.0.0.1:5432",
        "postgresql://postgres@127.0.0.1:5432/",
    ],
    ids=["mysql", "sqlite url", "no database", "no database, trailing slash"],
)
def test_settings_refuse_a_database_url_that_is_not_a_postgresql_database(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    # Given CASELINE_DATABASE_URL set to another engine, or to a server without a database
    monkeypatch.setenv("CASELINE_DATABASE_URL", url)

    # When the settings are read
    # Then they refuse to start, naming the setting
    with pytest.raises(ValidationError, match="CASELINE_DATABASE_URL"):
        Settings()


def test_settings_accept_a_postgresql_url_with_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a PostgreSQL URL naming a database
    monkeypatch.setenv("CASELINE_DATABASE_URL", "postgresql://caseline:s%40cret@db.internal:6432/cases")

    # When the settings are read
    env = Settings().event_store_env()

    # Then the event store is PostgreSQL with every part of the URL
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.internal",
        "6432",
        "cases",
    )
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("caseline", "s@cret")


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"PERSISTENCE_MODULE": ""}, id="empty"),
        pytest.param({"PERSISTENCE_MODULE": "eventsourcing.mysql"}, id="unknown module"),
    ],
)
def test_refuses_to_start_without_a_persistent_event_store(env: dict[str, str]) -> None:
    # Given an environment that names no persistent event store
    # When the application service is built on it
    # Then it refuses, instead of falling back to memory
    with pytest.raises(MisconfiguredError, match="PERSISTENCE_MODULE"):
        Workflow(env, clock=FakeClock(START), contacts=MemoryContacts())
