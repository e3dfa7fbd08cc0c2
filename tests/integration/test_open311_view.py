"""The Open311 view against requests written out by hand from stories, on SQLite and PostgreSQL.

What the view promises (projections/open311.py, docs/open311.md): a request's `status` follows
its item's lifecycle (closed when the item is closed; when it is registered and explained, or
not merged but routed to be fixed or explained, once the reporter is answered; open otherwise,
and open again on a reopen or revisit); `status_notes` is the latest *disclosed* outcome,
resolution, progress or note; `agency_responsible` the disclosed department; `expected_datetime`
the disclosed deadline; `description` the disclosed title. Only Open311 requests are rows, only
listed ones are found, and a batch service's place and media are never shown.

Requests are recorded as the gateway records them (`api/open311.py`): channel online, recorder
open311, and its trailer line at the end of the private text. Each request is read as the
gateway answers `GET requests` (`request_body` over the view's rows).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

from api.open311 import request_body
from domain.clock import FakeClock
from domain.rules import Actor, Role
from domain.workflow import Workflow
from projections.open311 import RequestFilter, find_requests, request_by_token, token_for, trailer
from projections.projector import Projector

APP = Actor("Civic app", role=Role.RECORDER)  # a key-holder: its realtime requests are listed at once
PUBLIC = Actor("public", role=Role.PUBLIC)  # no key: its requests wait for triage
OFFICER = Actor("Officer Wang")
SUPERVISOR = Actor("Supervisor Liu", role=Role.SUPERVISOR)
LIGHTS = "Street lights for the back lanes of grid 4"
PHOTO = "https://photos.example/lamp.jpg"


def at(month: int, day: int, hour: int = 9) -> datetime:
    """A moment of 2026, in UTC."""
    return datetime(2026, month, day, hour, tzinfo=UTC)


def submit(workflow: Workflow, service: str, words: str, *, key_holder: bool = True, **place: Any) -> UUID:
    """A request as the gateway records it; a realtime service's place and media are publishable."""
    kind, area = service.split("-")
    realtime = kind not in ("dispute", "disaster")
    media_url = place.pop("media_url", None)
    line = trailer(listed=key_holder and realtime, details=realtime, media_url=media_url, address_id=None)
    return workflow.record_opinion(
        APP if key_holder else PUBLIC, kind=kind, area=area, channel="online", unit="grid 4",
        text=f"{words}\n{line}", recorder="open311", **place,
    ).id  # fmt: skip


class Shown(NamedTuple):
    """What `GET requests` shows of a request's progress."""

    status: str
    notes: str | None = None
    agency: str | None = None
    expected: str | None = None
    description: str | None = None


def shown(projector: Projector, **requests: UUID) -> dict[str, Shown]:
    """Each named request as the gateway answers it, after the views have caught up."""
    projector.catch_up()
    ids = {str(opinion_id): name for name, opinion_id in requests.items()}
    found = find_requests(projector.db, RequestFilter(ids=tuple(ids)))
    bodies = [request_body(row) for row in found]
    return {
        ids[body["service_request_id"]]: Shown(
            body["status"], body["status_notes"], body["agency_responsible"], body["expected_datetime"],
            body["description"],
        )
        for body in bodies
    }  # fmt: skip


def updated(projector: Projector, request: UUID) -> str:
    [row] = find_requests(projector.db, RequestFilter(ids=(str(request),)))
    return str(request_body(row)["updated_datetime"])


def test_a_request_follows_its_item_and_shows_only_what_was_disclosed(
    workflow: Workflow, projector: Projector, clock: FakeClock
) -> None:
    wf = workflow
    # Given two residents' requests about the dark lane, the first merged into a new item at once
    clock.set(at(3, 3))
    lamp = submit(wf, "difficulty-security", "Dark lane; my father fell.")
    clock.set(at(3, 4))
    neighbour = submit(wf, "difficulty-security", "No light behind building 7.")
    clock.set(at(3, 5))
    lane = wf.open_issue(
        OFFICER, title=LIGHTS, area="security", level="village", horizon="near", opinion_ids=[lamp]
    ).id
    assert shown(projector, lamp=lamp, neighbour=neighbour) == {
        "lamp": Shown("open"),
        "neighbour": Shown("open"),
    }

    # When the item is assigned and progresses, and the second request is merged, nothing disclosed yet
    clock.set(at(3, 10))
    wf.merge_opinions(OFFICER, lane, [neighbour])
    wf.assign_leader(
        OFFICER, lane, leader="Zhang", department="Public works office", goals=["lights working"],
        measures=["move the cable"], deadline=at(4, 30, 18),
    )  # fmt: skip
    wf.report_progress(OFFICER, lane, note="Power company asked for a permit.")
    # Then both are open, and show nothing of it
    assert shown(projector, lamp=lamp, neighbour=neighbour) == {
        "lamp": Shown("open"),
        "neighbour": Shown("open"),
    }

    # When the title, department, deadline and latest progress are disclosed
    clock.set(at(3, 21))
    wf.report_progress(OFFICER, lane, note="Cable moved; six lamps ordered.")
    wf.disclose(OFFICER, lane, fields=["title", "department", "deadline", "progress"], where="notice board")
    # Then both show exactly those
    disclosed = Shown(
        "open", notes="Cable moved; six lamps ordered.", agency="Public works office",
        expected="2026-04-30T18:00:00Z", description=LIGHTS,
    )  # fmt: skip
    assert shown(projector, lamp=lamp, neighbour=neighbour) == {"lamp": disclosed, "neighbour": disclosed}

    # When the deadline is extended and more progress reported, undisclosed
    clock.set(at(4, 20))
    wf.extend_deadline(OFFICER, lane, deadline=at(5, 20, 18), reason="Permit late.", approver="Director Liu")
    wf.report_progress(OFFICER, lane, note="Zhang's cousin will do the wiring.")
    # Then nothing changes; once the deadline alone is disclosed, the expected moment moves, notes stay
    assert shown(projector, lamp=lamp) == {"lamp": disclosed}
    clock.set(at(4, 22))
    wf.disclose(OFFICER, lane, fields=["deadline"], where="notice board")
    moved = disclosed._replace(expected="2026-05-20T18:00:00Z")
    assert shown(projector, lamp=lamp) == {"lamp": moved}

    # When the people are satisfied (the resolution undisclosed), the requests close
    clock.set(at(5, 15))
    wf.report_resolution(OFFICER, lane, summary="Six lamps installed by Zhang's cousin.")
    wf.record_evaluation(OFFICER, lane, evaluator="Rep. Zhou", verdict="satisfied")
    assert wf.conclude_evaluation(OFFICER, lane).detail == {"outcome": "closed"}
    assert shown(projector, lamp=lamp, neighbour=neighbour) == {
        "lamp": moved._replace(status="closed"), "neighbour": moved._replace(status="closed"),
    }  # fmt: skip
    assert updated(projector, lamp) == "2026-05-15T09:00:00Z"  # the close: the latest change

    # When a supervisor reopens it, and the outcome is disclosed with new progress
    clock.set(at(5, 20))
    wf.reopen(SUPERVISOR, lane, reason="Lamp 4 is out again.", deadline=at(6, 30))
    assert shown(projector, lamp=lamp) == {"lamp": moved}
    clock.set(at(5, 21))
    wf.report_progress(OFFICER, lane, note="Lamp 4 replaced.")
    wf.disclose(OFFICER, lane, fields=["progress", "outcome"], where="notice board")
    # Then the outcome is the note shown (most telling first), and the progress is not
    assert shown(projector, lamp=lamp) == {"lamp": moved._replace(notes="reopened after evaluation")}

    # When a note alone is disclosed, then it is the note shown
    clock.set(at(6, 10))
    wf.disclose(
        OFFICER, lane, fields=[], note="All six lamps work; inspected by Rep. Zhou.", where="notice board"
    )
    noted = moved._replace(notes="All six lamps work; inspected by Rep. Zhou.")
    assert shown(projector, lamp=lamp) == {"lamp": noted}
    assert updated(projector, lamp) == "2026-06-10T09:00:00Z"  # the disclosure: the latest change

    # When the next evaluation closes it again, then both requests are closed with that note
    clock.set(at(6, 15))
    wf.report_resolution(OFFICER, lane, summary="Lamp 4 replaced by the power company.")
    wf.record_evaluation(OFFICER, lane, evaluator="Rep. Zhou", verdict="basically_satisfied")
    assert wf.conclude_evaluation(OFFICER, lane).detail == {"outcome": "closed"}
    assert shown(projector, lamp=lamp, neighbour=neighbour) == {
        "lamp": noted._replace(status="closed"), "neighbour": noted._replace(status="closed"),
    }  # fmt: skip


def test_a_request_closes_once_fixed_or_explained_and_its_reporter_told_and_opens_on_a_revisit(
    workflow: Workflow, projector: Projector, clock: FakeClock
) -> None:
    wf = workflow
    # Given four requests
    clock.set(at(3, 6))
    drain = submit(wf, "difficulty-environment", "The drain by the market is blocked.")
    wall = submit(wf, "opinion-environment", "Graffiti on the school wall.")
    bus = submit(wf, "suggestion-development", "A bus to the district hospital, please.")
    bench = submit(wf, "difficulty-culture", "The bench in the park is broken.")

    def statuses() -> dict[str, str]:
        return {
            name: state.status
            for name, state in shown(projector, drain=drain, wall=wall, bus=bus, bench=bench).items()
        }

    def found(status: str) -> set[str]:
        names = {str(drain): "drain", str(wall): "wall", str(bus): "bus", str(bench): "bench"}
        return {
            names[row["service_request_id"]]
            for row in find_requests(projector.db, RequestFilter(statuses=(status,)))
        }

    # When the drain is to be fixed at once, the wall coordinated, the bus registered and explained,
    # and the bench mended on the spot as an immediate item, nobody answered yet
    clock.set(at(3, 7))
    wf.route_opinion(OFFICER, drain, route="fix_at_once", reason="Sanitation crew nearby.")
    wf.route_opinion(OFFICER, wall, route="coordinate", reason="The school must agree.")
    explained = wf.open_issue(
        OFFICER, title="Bus line to the district hospital", area="development", level="town", horizon="long",
        opinion_ids=[bus],
    ).id  # fmt: skip
    wf.register_and_explain(OFFICER, explained, explanation="No budget this year.", revisit_at=at(12, 1))
    fixed = wf.open_issue(
        OFFICER, title="Broken park bench", area="culture", level="grid", horizon="immediate",
        opinion_ids=[bench],
    ).id  # fmt: skip
    wf.assign_leader(
        OFFICER, fixed, leader="Grid member Sun", department="Parks office", goals=["bench mended"],
        measures=["new slats"], deadline=at(3, 8),
    )  # fmt: skip
    wf.report_resolution(OFFICER, fixed, summary="New slats fitted.")
    wf.close_fixed_at_once(OFFICER, fixed, note="Mended the same day.")
    # Then only the bench, whose item is closed, is closed
    assert statuses() == {"drain": "open", "wall": "open", "bus": "open", "bench": "closed"}

    # When every reporter is answered (the wall's answer only an interim one)
    clock.set(at(3, 8))
    for request, feedback in ((drain, "Cleared this morning."), (wall, "We are asking the school."),
                              (bus, "Explained at the reception."), (bench, "Mended.")):  # fmt: skip
        wf.answer_opinion(OFFICER, request, feedback=feedback)
    # Then all but the coordinated wall are closed, and the status filter agrees
    assert statuses() == {"drain": "closed", "wall": "open", "bus": "closed", "bench": "closed"}
    assert (found("closed"), found("open")) == ({"drain", "bus", "bench"}, {"wall"})

    # When the registered item comes back to the analysis meeting, its request opens again
    clock.set(at(12, 1))
    wf.revisit(OFFICER, explained)
    assert statuses() == {"drain": "closed", "wall": "open", "bus": "open", "bench": "closed"}
    assert (found("closed"), found("open")) == ({"drain", "bench"}, {"wall", "bus"})


def test_only_listed_open311_requests_are_found_and_a_batch_service_keeps_its_place(
    workflow: Workflow, projector: Projector, clock: FakeClock
) -> None:
    wf = workflow
    # Given a key-holder's realtime request with a place and a photo, a resident's dispute (batch,
    # no key) with the same, and the same lane reported on the hotline
    clock.set(at(3, 3))
    place: dict[str, Any] = {"place": "Lane 3, building 7", "latitude": 30.1, "longitude": 120.2}
    lamp = submit(wf, "difficulty-security", "Dark lane.", media_url=PHOTO, **place)
    clock.set(at(3, 4))
    quarrel = submit(
        wf, "dispute-security", "My neighbour's lamp shines into my room.", key_holder=False,
        media_url="https://photos.example/quarrel.jpg", **place,
    )  # fmt: skip
    hotline = wf.record_opinion(
        OFFICER, kind="difficulty", area="security", channel="hotline", unit="grid 4", text="Dark lane.",
        **place,
    ).id  # fmt: skip
    projector.catch_up()

    def public(row: dict[str, Any]) -> tuple[Any, ...]:
        body = request_body(row)
        return tuple(
            body[name]
            for name in ("service_code", "requested_datetime", "address", "lat", "long", "media_url")
        )

    # Then only the key-holder's request is listed, with its place and photo
    lamp_shown = ("difficulty-security", "2026-03-03T09:00:00Z", "Lane 3, building 7", 30.1, 120.2, PHOTO)
    assert [public(row) for row in find_requests(projector.db, RequestFilter())] == [lamp_shown]
    # ...the dispute is found by its token alone, unlisted, without its place or photo
    waiting = request_by_token(projector.db, token_for(quarrel))
    assert waiting is not None
    assert (waiting["listed"], waiting["status"], public(waiting)) == (
        False, "open", ("dispute-security", "2026-03-04T09:00:00Z", None, None, None, None),
    )  # fmt: skip
    # ...and the hotline voice is no request at all
    assert request_by_token(projector.db, token_for(hotline)) is None
    assert find_requests(projector.db, RequestFilter(ids=(str(hotline),))) == []

    # When staff triage the dispute, then it is listed, newest first, still without its place
    clock.set(at(3, 5))
    wf.route_opinion(OFFICER, quarrel, route="coordinate", reason="Talk to both households.")
    projector.catch_up()
    assert [public(row) for row in find_requests(projector.db, RequestFilter())] == [
        ("dispute-security", "2026-03-04T09:00:00Z", None, None, None, None),
        lamp_shown,
    ]
    assert [row["service_request_id"] for row in find_requests(projector.db, RequestFilter())] == [
        str(quarrel), str(lamp),
    ]  # fmt: skip
