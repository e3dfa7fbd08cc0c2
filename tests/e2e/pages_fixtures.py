"""Fixtures for the page tests: a small world on the live server, and signed-in browsers.

`pages_world` builds, through the application service (as staff would through other
screens), accounts with passwords for each role and a few items at known stages, with
canary strings in everything private (the reporter's text and contact, the description, an
undisclosed goal) so a test can prove none of it reaches the public register.

`Browser` is an httpx client that keeps cookies like a browser, signs in through the form
and reads the CSRF token out of the pages, as a person's browser would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from api.settings import Settings
from domain.contacts import Contact
from domain.rules import Actor, Role
from tests.e2e.conftest import START, LiveServer, serve

PASSWORD = "pages-test-password"
SUPERVISOR = Actor("sup-chen", role=Role.SUPERVISOR)
CANARIES = {
    "text": "CANARY-TEXT-lane7-dark",
    "name": "CANARY-NAME-Wu-Lan",
    "phone": "CANARY-PHONE-13900001111",
    "address": "CANARY-ADDR-Building-12",
    "description": "CANARY-DESC-old-man-fell",
    "goal": "CANARY-GOAL-undisclosed",
}
ACCOUNTS = {
    "supervisor": ("sup-chen", Role.SUPERVISOR, None),
    "officer": ("off-zhang", Role.OFFICER, "roads"),
    "other_officer": ("off-wang", Role.OFFICER, "water"),
    "recorder": ("rec-xu", Role.RECORDER, None),
    "admin": ("adm-lin", Role.ADMIN, None),
}
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@dataclass
class PagesWorld:
    """The live server and the items the page tests act on, by purpose."""

    server: LiveServer
    items: dict[str, str] = field(default_factory=dict)
    opinions: dict[str, UUID] = field(default_factory=dict)

    def head(self) -> int:
        """The newest position in the event log (to prove a refused form wrote nothing)."""
        return self.server.services.projector.log.head()

    def stage(self, item: str) -> str:
        return str(self.server.services.workflow.get_issue(self.items[item]).stage)


class Browser:
    """A cookie-keeping HTTP client on the live server, optionally signed in through the form."""

    def __init__(self, server: LiveServer, **options: object) -> None:
        self.http = server.client(follow_redirects=False, **options)  # type: ignore[arg-type]

    def get(self, path: str, **options: object) -> httpx.Response:
        return self.http.get(path, **options)  # type: ignore[arg-type]

    def token(self, path: str = "/sign-in") -> str:
        """The CSRF token the pages put in their forms for this session."""
        found = CSRF.search(self.get(path).text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def post(self, path: str, data: dict[str, object], *, token: bool = True) -> httpx.Response:
        """Post a form as the page would, with the session's CSRF token unless told not to."""
        body = {**data, "_csrf": self.token()} if token else dict(data)
        return self.http.post(path, data=body)  # type: ignore[arg-type]

    def sign_in(self, name: str, password: str = PASSWORD) -> httpx.Response:
        answer = self.post("/sign-in", {"username": name, "password": password, "next": ""})
        assert answer.status_code == 303, answer.text[:500]
        return answer

    def close(self) -> None:
        self.http.close()


def _world(server: LiveServer) -> PagesWorld:
    wf = server.services.workflow
    for name, role, department in ACCOUNTS.values():
        server.account(name, role, department)
        server.services.credentials.set_password(name, PASSWORD)
    world = PagesWorld(server)
    recorder = Actor("rec-xu", role=Role.RECORDER)
    contact = Contact(name=CANARIES["name"], phone=CANARIES["phone"], address=CANARIES["address"])

    def voice(text: str, *, with_contact: bool = False) -> UUID:
        return wf.record_opinion(
            recorder, kind="difficulty", area="security", channel="household_visit", unit="grid 4",
            text=text, place="behind building 7", contact=contact if with_contact else None,
        ).id  # fmt: skip

    def item(title: str, opinions: list[UUID] | None = None, **extra: str) -> str:
        result = wf.open_issue(
            SUPERVISOR, title=title, area="security", level="village", horizon="near",
            opinion_ids=opinions or [], **extra,
        )  # fmt: skip
        assert result.number is not None
        return result.number

    def assign(
        number: str, leader: str, department: str, days: int = 30, goals: list[str] | None = None
    ) -> None:
        wf.assign_leader(
            SUPERVISOR, number, leader=leader, department=department,
            goals=goals or ["lights working"], measures=["move the cable"],
            deadline=START + timedelta(days=days),
        )  # fmt: skip

    world.opinions["lane"] = voice(CANARIES["text"], with_contact=True)
    lane = item("Street lights for lane 7", [world.opinions["lane"]], description=CANARIES["description"])
    assign(lane, "off-zhang", "roads", goals=[CANARIES["goal"]])
    wf.disclose(SUPERVISOR, lane, fields=["title", "area", "level", "deadline"], where="the village board")
    world.items["lane"] = lane

    world.items["water"] = item("Burst main on Canal Road")
    assign(world.items["water"], "someone-else", "water")

    world.items["late"] = item("Pothole at the school gate")
    assign(world.items["late"], "off-zhang", "roads", days=1)

    world.items["opened"] = item("Benches for the square")
    world.items["replay"] = item("Drain by the market")
    assign(world.items["replay"], "off-zhang", "roads")
    # Two days later (the pages show Asia/Shanghai time: the assignment was 2026-03-03 17:00 there).
    server.clock.advance(timedelta(days=2))
    wf.hand_over(SUPERVISOR, world.items["replay"], to="successor-li", reason="transferred")

    for name in ("pass", "fail"):
        number = item(f"Evaluation case {name}")
        assign(number, "off-zhang", "roads")
        wf.report_resolution(SUPERVISOR, number, summary="done")
        world.items[name] = number

    world.opinions["unmerged"] = voice("A stray dog pack near the school")
    server.settle()
    return world


@pytest.fixture(scope="module")
def pages_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`live_server`, but with room for the many sign-ins of a test module (10 a minute by default)."""
    folder: Path = tmp_path_factory.mktemp("pages")
    with serve(Settings(data_dir=folder / "var", login_per_minute=10_000)) as server:
        yield server


@pytest.fixture(scope="module")
def pages_world(pages_server: LiveServer) -> PagesWorld:
    """The page tests' world on this module's live server."""
    return _world(pages_server)


@pytest.fixture
def browser(pages_server: LiveServer) -> Iterator[Browser]:
    """An anonymous browser."""
    client = Browser(pages_server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def signed_in(pages_world: PagesWorld) -> Iterator[dict[str, Browser]]:
    """One signed-in browser per role of `ACCOUNTS` (and an anonymous one)."""
    browsers = {"anonymous": Browser(pages_world.server)}
    try:
        for role, (name, _, _) in ACCOUNTS.items():
            browsers[role] = Browser(pages_world.server)
            browsers[role].sign_in(name)
        yield browsers
    finally:
        for client in browsers.values():
            client.close()


def hold_meeting(supervisor: Browser, kind: str) -> str:
    """Record a meeting of `kind` in the village through its form; the meeting page's path."""
    answer = supervisor.post(
        "/meetings",
        {"kind": kind, "title": f"{kind} meeting", "unit": "village", "held_at": "2026-03-03T17:00",
         "attendees": "rep Li\nrep Zhou"},
    )  # fmt: skip
    assert answer.status_code == 303, answer.text[:500]
    return answer.headers["location"]


def alert(html: str) -> str:
    """The text of a page's alert (a refusal or a notice), or "" when it shows none."""
    found = re.search(r'role="alert">([^<]*)<', html)
    return found.group(1) if found else ""
