"""Personal data stays private: canaries in every private field, then grep every public output.

Every private value written below is a unique random token ("CANARY-NAME-3f9a..."), so a
hit anywhere public is a leak, whatever the field it came from. The public outputs are the
public register (query, table, `export_rows` and the CSV written by `caseline export
register`); contact details must reach no stored event, no view table and no error text at
all. A deliberately disclosed value (a "PUBLIC-..." token) must appear, or the greps prove
nothing. Every test runs on SQLite and on PostgreSQL (the `settings` fixture).
"""

from __future__ import annotations

import csv
import json
import secrets
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import typer
from typer.testing import CliRunner

from api import views_cli
from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock
from domain.contacts import Contact
from domain.errors import CaselineError
from domain.rules import Actor, Role
from domain.workflow import Workflow
from projections import queries
from projections.projector import Projector

RECORDER = Actor("Recorder Wang", role=Role.RECORDER)
OFFICER = Actor("Officer Zhao", role=Role.OFFICER)
SUPERVISOR = Actor("Supervisor Sun", role=Role.SUPERVISOR)
PUBLIC_FIELDS = ["title", "leader", "department", "deadline"]
CONTACT_TABLE = "caseline_contacts"  # PostgreSQL: contact rows share the schema with the views


def token(label: str, kind: str = "CANARY") -> str:
    """A value that cannot occur by chance anywhere else."""
    return f"{kind}-{label}-{secrets.token_hex(8)}"


@dataclass
class Seeded:
    """The world after the scenario: the services, and which values may or may not be seen."""

    workflow: Workflow
    projector: Projector
    settings: Settings
    clock: FakeClock
    contact_canaries: dict[str, str] = field(default_factory=dict)
    private_canaries: dict[str, str] = field(default_factory=dict)
    public_values: dict[str, str] = field(default_factory=dict)
    opinions_with_contact: list[UUID] = field(default_factory=list)

    def private(self, label: str) -> str:
        key, n = label, 1
        while key in self.private_canaries:  # the same field of another opinion or issue
            n += 1
            key = f"{label}#{n}"
        self.private_canaries[key] = value = token(label)
        return value

    def public(self, label: str) -> str:
        self.public_values[label] = value = token(label, "PUBLIC")
        return value

    def contact(self, **fields: bool) -> Contact:
        values = {}
        for name, wanted in fields.items():
            if wanted:
                label = f"CONTACT-{name.upper()}-{len(self.contact_canaries)}"
                self.contact_canaries[label] = values[name] = token(label)
        return Contact(**values)

    @property
    def all_canaries(self) -> dict[str, str]:
        return {**self.contact_canaries, **self.private_canaries}


def hits(text: str, canaries: dict[str, str]) -> list[str]:
    """Which canaries occur in `text` (labels, so a failure says which field leaked)."""
    return sorted(label for label, value in canaries.items() if value in text)


def dumped(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def seed(workflow: Workflow, projector: Projector, settings: Settings, clock: FakeClock) -> Seeded:
    """Five issues through every stage, each private field holding a canary; some disclosed."""
    s = Seeded(workflow, projector, settings, clock)
    wf = workflow
    days = timedelta(days=1)

    def opinion(contact: Contact | None) -> UUID:
        result = wf.record_opinion(
            RECORDER, kind="difficulty", area="security", channel="household_visit", unit="grid 4",
            text=s.private("OPINION-TEXT"), place=s.private("OPINION-PLACE"), latitude=30.1,
            longitude=120.2, contact=contact,
        )  # fmt: skip
        if contact is not None:
            s.opinions_with_contact.append(result.id)
        wf.route_opinion(OFFICER, result.id, route="coordinate", reason=s.private("ROUTE-REASON"))
        wf.answer_opinion(OFFICER, result.id, feedback=s.private("FEEDBACK"))
        return result.id

    meeting = wf.hold_meeting(
        OFFICER, kind="assignment", unit="grid 4", held_at=clock.now(), attendees=["Zhao", "Sun"],
        title="Assignment meeting of March",
    ).id  # fmt: skip
    wf.record_decision(OFFICER, meeting, decision=s.private("MEETING-DECISION"))

    # A: every kind of private note, disclosed twice (chosen fields only), closed, then reopened.
    a = wf.open_issue(
        OFFICER, title=s.public("TITLE-A"), area="security", level="village", horizon="near",
        description=s.private("DESCRIPTION"), opinion_ids=[opinion(s.contact(name=True, phone=True,
        address=True))], meeting_id=meeting,
    ).id  # fmt: skip
    wf.assign_leader(
        OFFICER, a, leader=s.public("LEADER-A"), department=s.public("DEPARTMENT-A"),
        goals=[s.private("GOAL")], measures=[s.private("MEASURE")], deadline=clock.now() + 30 * days,
        meeting_id=meeting,
    )  # fmt: skip
    wf.report_progress(OFFICER, a, note=s.private("PROGRESS-NOTE"))
    wf.request_coordination(OFFICER, a, department="Water office", request=s.private("COORD-REQUEST"))
    wf.answer_coordination(OFFICER, a, index=0, answer=s.private("COORD-ANSWER"))
    wf.extend_deadline(
        OFFICER, a, deadline=clock.now() + 40 * days, reason=s.private("EXTENSION-REASON"),
        approver="Supervisor Sun",
    )  # fmt: skip
    wf.record_inspection(OFFICER, a, inspector="Rep. Li", findings=s.private("FINDINGS"), confirmed=True)
    wf.pause_clock(OFFICER, a, reason=s.private("PAUSE-REASON"))
    clock.advance(days)
    wf.resume_clock(OFFICER, a)
    wf.disclose(OFFICER, a, fields=PUBLIC_FIELDS, where="village notice board")
    wf.hand_over(OFFICER, a, to="Leader Qian", reason=s.private("HANDOVER-REASON"))
    wf.report_resolution(OFFICER, a, summary=s.private("RESOLUTION"))
    for n in (1, 2):
        wf.record_evaluation(
            OFFICER, a, evaluator=f"Rep. {n}", verdict="satisfied", comment=s.private(f"COMMENT-{n}")
        )
    wf.conclude_evaluation(OFFICER, a)
    clock.advance(days)
    wf.reopen(SUPERVISOR, a, reason=s.private("REOPEN-REASON"), deadline=clock.now() + 20 * days)
    wf.disclose(OFFICER, a, fields=["deadline"], where="village notice board")

    # B: two reporters; an early progress note stays private, the disclosed later one is public.
    b = wf.open_issue(
        OFFICER, title=s.public("TITLE-B"), area="environment", level="grid", horizon="near",
        opinion_ids=[opinion(s.contact(phone=True))],
    ).id  # fmt: skip
    wf.merge_opinions(OFFICER, b, [opinion(s.contact(name=True, address=True))])
    wf.assign_leader(
        OFFICER, b, leader="Leader Zhou", department="Environment office", goals=["clean"],
        measures=["sweep"], deadline=clock.now() + 10 * days,
    )  # fmt: skip
    wf.report_progress(OFFICER, b, note=s.private("EARLY-PROGRESS-NOTE"))
    wf.report_progress(OFFICER, b, note=s.public("DISCLOSED-PROGRESS"))
    wf.disclose(OFFICER, b, fields=["title", "progress"], where="online register")
    wf.report_resolution(OFFICER, b, summary=s.private("RESOLUTION-B"))
    wf.record_evaluation(
        OFFICER, b, evaluator="Rep. 3", verdict="dissatisfied", comment=s.private("COMMENT-3")
    )
    wf.conclude_evaluation(OFFICER, b)  # reopened: below the target

    # C: registered and explained, with a few public fields.
    c = wf.open_issue(
        OFFICER, title=s.public("TITLE-C"), area="livelihood", level="town", horizon="long",
        description=s.private("DESCRIPTION-C"), unit="grid 9",
    ).id  # fmt: skip
    wf.register_and_explain(
        OFFICER, c, explanation=s.private("EXPLANATION"), revisit_at=clock.now() + 200 * days
    )
    wf.disclose(OFFICER, c, fields=["title", "area", "level"], where="town hall")

    # D: never disclosed, so even its title is private; fixed on the spot.
    d = wf.open_issue(
        OFFICER, title=s.private("UNDISCLOSED-TITLE"), area="culture", level="grid", horizon="immediate",
        opinion_ids=[opinion(s.contact(address=True))],
    ).id  # fmt: skip
    wf.assign_leader(
        OFFICER, d, leader=s.private("UNDISCLOSED-LEADER"), department=s.private("UNDISCLOSED-DEPT"),
        goals=["fix"], measures=["fix"], deadline=clock.now() + 2 * days,
    )  # fmt: skip
    wf.report_resolution(OFFICER, d, summary=s.private("RESOLUTION-D"))
    wf.close_fixed_at_once(OFFICER, d, note=s.private("FIXED-NOTE"))

    # E: overdue and escalated, disclosed after the escalation.
    e = wf.open_issue(
        OFFICER, title=s.public("TITLE-E"), area="development", level="grid", horizon="mid",
    ).id  # fmt: skip
    wf.assign_leader(
        OFFICER, e, leader="Leader Wu", department="Roads office", goals=[s.private("GOAL-E")],
        measures=[s.private("MEASURE-E")], deadline=clock.now() + 3 * days,
    )  # fmt: skip
    clock.advance(5 * days)
    assert wf.escalate_if_overdue(e).detail == {"escalated": True}
    wf.disclose(OFFICER, e, fields=PUBLIC_FIELDS, where="online register")

    projector.catch_up()
    return s


@pytest.fixture
def seeded(workflow: Workflow, projector: Projector, settings: Settings, clock: FakeClock) -> Seeded:
    return seed(workflow, projector, settings, clock)


def register_outputs(s: Seeded) -> dict[str, str]:
    """Every public output of the register, as text, by where it came from."""
    now = s.clock.now()
    page = queries.public_register(s.projector.db, now=now, page_size=queries.MAX_PAGE_SIZE)
    assert page.total == len(page.rows) == 4  # A, B, C and E; D was never disclosed
    with s.projector.db.read() as tx:
        table = tx.fetchall("SELECT * FROM register")
    return {
        "public_register": dumped(page.rows),
        "register table": dumped(table),
        "export_rows": dumped(views_cli.export_rows(s.projector, "register", now, target=0.95)),
    }


def test_the_public_register_shows_chosen_fields_and_no_private_value(seeded: Seeded) -> None:
    for source, text in register_outputs(seeded).items():
        assert hits(text, seeded.all_canaries) == [], source
        # Positive control: what was deliberately published is there, so the grep can fail.
        assert hits(text, seeded.public_values) == sorted(seeded.public_values), source


def test_the_open311_view_holds_no_private_value(seeded: Seeded) -> None:
    """`GET requests` answers from these tables, so they are as public as the register."""
    tables = every_table(seeded)
    open311 = {name: text for name, text in tables.items() if name.startswith("open311_")}
    assert open311, "no open311 tables found"
    for name, text in open311.items():
        assert hits(text, seeded.all_canaries) == [], name
    # Control: a disclosed title reaches the view, so its rows were really read.
    assert "TITLE-A" in hits("\n".join(open311.values()), seeded.public_values)


def test_the_register_keeps_exactly_the_published_fields(seeded: Seeded) -> None:
    page = queries.public_register(seeded.projector.db, now=seeded.clock.now(), page_size=50)
    published = {row["number"]: set(row["published"]) for row in page.rows}
    assert published == {
        "2026-0001": {"number", *PUBLIC_FIELDS},
        "2026-0002": {"number", "title", "progress"},
        "2026-0003": {"number", "title", "area", "level"},
        "2026-0005": {"number", *PUBLIC_FIELDS},
    }


def run_cli(args: list[str], s: Seeded, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run `caseline <args>` with the view commands on a fresh Typer app, against the seeded store."""
    monkeypatch.setenv("CASELINE_DATA_DIR", str(s.settings.data_dir))
    for name, value in (
        ("CASELINE_DATABASE_URL", s.settings.database_url),
        ("CASELINE_DATABASE_SCHEMA", s.settings.database_schema),
    ):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    app = typer.Typer()
    views_cli.register(app)
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_csv_export_of_the_register_has_no_private_value(
    seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "register.csv"
    run_cli(["export", "register", "--output", str(out)], seeded, monkeypatch)
    text = out.read_text(encoding="utf-8")
    with out.open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 4
    assert hits(text, seeded.all_canaries) == []
    assert hits(text, seeded.public_values) == sorted(seeded.public_values)


def test_the_csv_export_to_stdout_has_no_private_value(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = run_cli(["export", "register"], seeded, monkeypatch)
    assert hits(text, seeded.all_canaries) == []
    assert hits(text, seeded.public_values) == sorted(seeded.public_values)


def stored_events(workflow: Workflow) -> list[bytes]:
    notifications = workflow.recorder.select_notifications(start=1, limit=100_000)
    assert len(notifications) > 50
    return [bytes(n.state) for n in notifications]


def cell(value: Any) -> Any:
    """A column value as text a grep can search (stored events are bytes)."""
    if isinstance(value, memoryview):
        value = bytes(value)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def every_table(s: Seeded) -> dict[str, str]:
    """Each table of the view database (on PostgreSQL: of the schema, bar the contact rows), as text."""
    if s.projector.db.dialect == "sqlite":
        listing = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        listing = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    out: dict[str, str] = {}
    with s.projector.db.read() as tx:
        for (name,) in tx.fetchall(listing):
            if name != CONTACT_TABLE:
                out[name] = dumped([[cell(v) for v in row] for row in tx.fetchall(f'SELECT * FROM "{name}"')])
    return out


def test_contact_details_reach_no_stored_event(seeded: Seeded) -> None:
    events = b"\n".join(stored_events(seeded.workflow)).decode("utf-8")
    assert hits(events, seeded.contact_canaries) == []
    # Control: the opinion text is in the log, so the log was really searched.
    assert "OPINION-TEXT" in hits(events, seeded.private_canaries)


def test_contact_details_reach_no_view_table(seeded: Seeded) -> None:
    tables = every_table(seeded)
    assert {"board", "register", "leader_terms", "opinions"} <= set(tables)
    for name, text in tables.items():
        assert hits(text, seeded.contact_canaries) == [], name
    # Control: private notes do reach the leader chains (supervisors only), so the tables were read.
    assert "HANDOVER-REASON" in hits(tables["leader_terms"], seeded.private_canaries)


def test_no_sqlite_file_but_the_contacts_one_holds_contact_bytes(seeded: Seeded) -> None:
    if seeded.settings.uses_postgres:
        pytest.skip("file bytes are an SQLite matter")
    folder = seeded.settings.data_dir
    files = [p for p in folder.iterdir() if not p.name.startswith("contacts.sqlite")]
    assert any(p.name.startswith("events.sqlite") for p in files)
    assert any(p.name.startswith("views.sqlite") for p in files)
    for path in files:
        data = path.read_bytes()
        leaked = [label for label, value in seeded.contact_canaries.items() if value.encode() in data]
        assert leaked == [], path.name


def bad_commands(s: Seeded) -> list[Callable[[], object]]:
    """Commands refused for many reasons, each carrying a contact or private text full of canaries."""
    wf = s.workflow
    contact = s.contact(name=True, phone=True, address=True)
    opinion = s.opinions_with_contact[0]
    closed = "2026-0004"  # D: closed as fixed
    overlong = token("OVERLONG-NAME")
    s.contact_canaries["OVERLONG-NAME"] = overlong

    def record(**overrides: Any) -> Callable[[], object]:
        args: dict[str, Any] = {
            "kind": "difficulty", "area": "security", "channel": "hotline", "unit": "grid 4",
            "text": s.private("BAD-TEXT"), "place": s.private("BAD-PLACE"), "contact": contact,
        }  # fmt: skip
        return lambda: wf.record_opinion(RECORDER, **{**args, **overrides})

    wf.record_opinion(
        RECORDER, kind="opinion", area="security", channel="hotline", unit="grid 4", text="first",
        contact=contact, key="same-key",
    )  # fmt: skip
    return [
        record(kind="gossip"),
        record(area=s.private("BAD-AREA")),
        record(channel="pigeon"),
        record(unit=""),
        record(latitude=91.0, longitude=0.0),
        record(latitude=30.0),
        record(text=s.private("TOO-LONG") * 300),
        record(place=s.private("PLACE-TOO-LONG") * 20),
        record(key="same-key"),  # same key, other payload
        lambda: Contact(name=overlong * 20, phone=contact.phone),
        lambda: Contact(phone=contact.phone, address=12345),  # type: ignore[arg-type]
        lambda: wf.route_opinion(OFFICER, opinion, route="somewhere", reason=s.private("BAD-REASON")),
        lambda: wf.route_opinion(OFFICER, UUID(int=7), route="coordinate", reason=s.private("BAD-REASON-2")),
        lambda: wf.answer_opinion(OFFICER, opinion, feedback="  "),
        lambda: wf.report_progress(OFFICER, closed, note=s.private("BAD-NOTE")),
        lambda: wf.hand_over(OFFICER, closed, to="Someone", reason=s.private("BAD-HANDOVER")),
        lambda: wf.answer_coordination(OFFICER, "2026-0001", index=9, answer=s.private("BAD-ANSWER")),
        lambda: wf.report_resolution(OFFICER, "2026-0003", summary=s.private("BAD-SUMMARY")),
        lambda: wf.record_inspection(
            OFFICER, "2026-0003", inspector="Rep. Li", findings=s.private("BAD-FINDINGS"), confirmed=True
        ),
        lambda: wf.disclose(OFFICER, "2026-0003", fields=["phone"], where="anywhere"),
        lambda: wf.open_issue(
            OFFICER,
            title=s.private("BAD-TITLE"),
            area="security",
            level="village",
            horizon="near",
            opinion_ids=[opinion],
        ),
        lambda: wf.erase_contact(OFFICER, UUID(int=8)),
    ]


def error_text(error: BaseException) -> str:
    """Everything a log line or an HTTP error body could take from an exception."""
    parts = [str(error), repr(error), repr(error.args), "".join(traceback.format_exception(error))]
    parts += [repr(v) for v in vars(error).values()]
    return "\n".join(parts)


def test_refused_commands_never_echo_contact_details_or_private_text(seeded: Seeded) -> None:
    commands = bad_commands(seeded)
    for n, command in enumerate(commands):
        with pytest.raises(CaselineError) as refused:
            command()
        assert hits(error_text(refused.value), seeded.all_canaries) == [], f"bad command {n}"


def test_a_contact_prints_redacted(seeded: Seeded) -> None:
    contact = seeded.contact(name=True, phone=True, address=True)
    shown = [repr(contact), str(contact), f"{contact}", f"{contact!r}", repr([contact]), repr({"c": contact})]
    assert hits("\n".join(shown), seeded.contact_canaries) == []
    # Control: the details are really in the object, only its printed form hides them.
    assert hits(f"{contact.name} {contact.phone} {contact.address}", seeded.contact_canaries) != []


def test_an_erased_contact_is_gone_from_the_contact_store(seeded: Seeded) -> None:
    wf = seeded.workflow
    erased, kept = seeded.opinions_with_contact[0], seeded.opinions_with_contact[1]
    ref = wf.get_opinion(erased).contact_ref
    assert ref is not None
    assert wf.contact(erased) is not None

    assert wf.erase_contact(OFFICER, erased) is True

    assert wf.contact(erased) is None
    assert wf.contacts.get(ref) is None
    assert wf.erase_contact(OFFICER, erased) is False  # nothing left to erase
    assert wf.contact(kept) is not None  # only that reporter's row went
    assert wf.get_opinion(erased).contact_ref == ref  # the log is intact: the opinion still replays
    seeded.projector.rebuild()
    assert queries.public_register(seeded.projector.db, now=seeded.clock.now()).total == 4


def test_an_erased_contact_leaves_no_bytes_in_any_sqlite_file(seeded: Seeded) -> None:
    if seeded.settings.uses_postgres:
        pytest.skip("file bytes are an SQLite matter")
    opinion = seeded.opinions_with_contact[0]
    erased = seeded.workflow.contact(opinion)
    assert erased is not None
    assert erased.phone is not None
    assert seeded.workflow.erase_contact(OFFICER, opinion)
    residue = [p.name for p in seeded.settings.data_dir.iterdir() if erased.phone.encode() in p.read_bytes()]
    assert residue == []


def test_the_event_log_does_not_depend_on_the_contact_details(tmp_path: Path, clock: FakeClock) -> None:
    """Same command, same key, same moment, two reporters: every stored event must be identical.

    Not even a hash of the contact may be stored: with the rest of the command in the log, a
    hash would confirm a guessed phone number after the contact was erased."""
    logs = []
    for n, phone in enumerate(("13912345678", "13987654321")):
        workflow = build_workflow(Settings(data_dir=tmp_path / f"store{n}"), clock=FakeClock(clock.now()))
        try:
            workflow.record_opinion(
                RECORDER, kind="difficulty", area="security", channel="hotline", unit="grid 4",
                text="No light in lane 7.", contact=Contact(name="Chen", phone=phone), key="visit-1",
            )  # fmt: skip
            notifications = workflow.recorder.select_notifications(start=1, limit=100)
        finally:
            workflow.close()
        assert len(notifications) >= 2
        logs.append([(x.topic, x.originator_id, x.originator_version, bytes(x.state)) for x in notifications])
    assert logs[0] == logs[1]
