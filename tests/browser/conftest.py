# ruff: noqa: RUF001 -- Chinese text uses full-width punctuation on purpose.
"""Browser fixtures: the demo town served on 127.0.0.1, and headless Chromium to look at it.

`town` (one for the package) fills an empty store with the demo town (`api.demo.seed_demo`: six
months of Yanghang, the dark lane among them), opens the demo sign-ins with the demo password,
serves it with uvicorn on a free port of 127.0.0.1 (`tests.e2e.conftest.serve`, the same live
server the HTTP tests use) and adds a few items of its own, through the application service as
staff would through other screens, so that each test starts from a known stage:

- ``advance``: assigned to the officer 李卫东 (in his department), nothing reported yet;
- ``pass`` and ``fail``: resolved under 李卫东, waiting for the people's verdict;
- ``private``: disclosed (title, area, level, deadline only), with canary strings in every
  private field: the reporter's words, name, phone and address, the description, the goals
  and the measures.

The server's clock is a `FakeClock` set to the moment the session started (the demo ends just
before it), so the overdue flags and deadlines the pages show are today's.

`chromium` is Debian's `/usr/bin/chromium` launched by Playwright (never `playwright install`,
which downloads a browser). Without it, or without Playwright, the tests skip and say why;
with `CI=true` (set by `.ci/run`, which installs chromium) they fail instead.

`page` is a fresh browser context (its own cookies, English unless a test asks otherwise) and
tab per test; whatever the outcome, the page is saved as `artifacts/screenshots/<test>.png`,
and `shot(page, name)` saves the steps in between.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from api.cli import DEMO_ACCOUNTS, DEMO_PASSWORD
from api.demo import LI, DemoReport, demo_start, seed_demo
from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock
from domain.contacts import Contact
from domain.rules import Actor, Role
from tests.e2e.conftest import LiveServer, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
TIMEOUT_MS = 15_000  # a page that has not answered in 15 s is broken, not slow

SUPERVISOR = Actor("supervisor", role=Role.SUPERVISOR)
RECORDER = Actor("recorder", role=Role.RECORDER)
OFFICER = Actor(LI, role=Role.OFFICER)
# The demo officer's department (the board shows an officer his department's items).
DEPARTMENT = next(d for name, _, d in DEMO_ACCOUNTS if name == LI) or "镇建设管理办公室"
CANARIES = {
    "text": "CANARY-TEXT-railing-wobbles",
    "name": "CANARY-NAME-Zhou-Min",
    "phone": "CANARY-PHONE-13911112222",
    "address": "CANARY-ADDR-Building-9-Room-301",
    "description": "CANARY-DESC-child-nearly-fell",
    "goal": "CANARY-GOAL-undisclosed",
    "measure": "CANARY-MEASURE-undisclosed",
}


@dataclass
class Town:
    """The live server over the demo town, its report, and the items added for the tests."""

    server: LiveServer
    report: DemoReport
    items: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def stage(self, item: str) -> str:
        """The item's stage as the aggregate has it (not as a page says)."""
        return str(self.server.services.workflow.get_issue(self.items[item]).stage)


def _chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401 -- only whether it imports
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    """Headless Chromium, launched once for the browser tests."""
    reason = _chromium_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI requires the browser tests to run (.ci/run installs chromium)")
        pytest.skip(f"{reason}; the browser tests run in CI, where chromium is installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _seed(settings: Settings, today: datetime) -> DemoReport:
    """The demo town in an empty store, as `caseline demo` writes it."""
    clock = FakeClock(demo_start(today))
    workflow = build_workflow(settings, clock=clock)
    try:
        return seed_demo(workflow, clock, seed=7, today=today)
    finally:
        workflow.close()


def _add_items(server: LiveServer) -> dict[str, str]:
    """The tests' own items on top of the demo town (see the module docstring)."""
    wf = server.services.workflow
    # A deadline as the assignment form sets one: the end of a day in the town's zone.
    due = datetime.combine(
        (server.clock.now() + timedelta(days=20)).astimezone(server.services.settings.zone).date(),
        time(23, 59),
        tzinfo=server.services.settings.zone,
    )

    def item(
        title: str, area: str, *, opinion_ids: tuple[Any, ...] = (), description: str | None = None
    ) -> str:
        opened = wf.open_issue(
            SUPERVISOR, title=title, area=area, level="village", horizon="near", unit="第4网格",
            opinion_ids=opinion_ids, description=description,
        )  # fmt: skip
        assert opened.number is not None
        return opened.number

    def assign(number: str, goals: list[str], measures: list[str]) -> None:
        wf.assign_leader(
            SUPERVISOR, number, leader=LI, department=DEPARTMENT, goals=goals, measures=measures, deadline=due
        )

    items = {"advance": item("运河步行桥栏杆松动", "security")}
    assign(items["advance"], ["栏杆加固到位"], ["更换锈蚀螺栓"])

    for purpose, title in (("pass", "村口路灯更换"), ("fail", "菜场排水沟清淤")):
        items[purpose] = item(title, "environment")
        assign(items[purpose], ["完成整改"], ["组织施工"])
        wf.report_progress(OFFICER, items[purpose], note="施工队已进场")
        wf.report_resolution(OFFICER, items[purpose], summary="已完工，待群众评议")

    contact = Contact(name=CANARIES["name"], phone=CANARIES["phone"], address=CANARIES["address"])
    voice = wf.record_opinion(
        RECORDER, kind="difficulty", area="security", channel="household_visit", unit="第4网格",
        text=CANARIES["text"], place="运河步行桥", contact=contact,
    )  # fmt: skip
    items["private"] = item(
        "运河步行桥护栏加高", "security", opinion_ids=(voice.id,), description=CANARIES["description"]
    )
    assign(items["private"], [CANARIES["goal"]], [CANARIES["measure"]])
    wf.disclose(
        SUPERVISOR, items["private"], fields=["title", "area", "level", "deadline"], where="村务公开栏"
    )
    return items


@pytest.fixture(scope="package")
def town(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    """The demo town on a live server (built only when there is a browser to look at it)."""
    today = datetime.now(tz=UTC)
    settings = Settings(data_dir=tmp_path_factory.mktemp("browser") / "var", login_per_minute=10_000)
    report = _seed(settings, today)
    with serve(settings, clock=FakeClock(today)) as server:
        for name, role, department in DEMO_ACCOUNTS:
            server.account(name, role, department)
            server.services.credentials.set_password(name, DEMO_PASSWORD)
        town = Town(server, report, _add_items(server))
        server.settle(timeout=60)
        yield town


def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save the page (all of it, or what the window shows) as `artifacts/screenshots/<name>.png`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def context(chromium: Browser, town: Town) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) that reads English (`Accept-Language: en-US`)."""
    ctx = chromium.new_context(
        base_url=town.base_url, locale="en-US", viewport={"width": 1280, "height": 900}
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A tab in `context`; the page as it ends up is saved under the test's name."""
    tab = context.new_page()
    yield tab
    shot(tab, re.sub(r"[^\w.-]+", "_", request.node.name))


def sign_in(page: Page, name: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the form, as a person would (the page's labels find the fields)."""
    page.goto("/sign-in")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)
