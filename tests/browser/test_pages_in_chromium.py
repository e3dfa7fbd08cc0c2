# ruff: noqa: RUF001 -- Chinese text uses full-width punctuation on purpose.
"""The pages in headless Chromium, used as people use them: signing in through the form,
clicking the buttons, choosing moments with the page's own controls, switching language.

Each test works on the demo town (tests/browser/conftest.py) and saves screenshots under
artifacts/screenshots/. The HTTP-level page tests (tests/e2e/test_pages.py) cover the rules
and refusals in depth; these prove a real browser gets through the same work.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING

from api.demo import LI, ZHANG
from tests.browser.conftest import CANARIES, DEPARTMENT, TIMEOUT_MS, Town, shot, sign_in

# Without Playwright the `chromium` fixture skips (with CI=true: fails) and says why.
with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page


def _fact(scope: Locator, title: str) -> Locator:
    """The value beside `title` in a definition list (`<dt>title</dt><dd>value</dd>`)."""
    return scope.locator("dt", has_text=re.compile(f"^{re.escape(title)}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def _stage(page: Page) -> Locator:
    return page.locator(".status .badge.stage")


# -- an officer's work ----------------------------------------------------------------------------


def test_an_officer_advances_an_item_from_assignment_through_resolution(town: Town, page: Page) -> None:
    # Given 李卫东, signed in, with an item assigned to him and nothing reported yet
    number = town.items["advance"]
    sign_in(page, LI)
    expect(page).to_have_url(re.compile(r"/board$"))
    page.get_by_label("Title or number").fill(number)
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("link", name=re.compile(re.escape(number))).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("运河步行桥栏杆松动")
    expect(_stage(page)).to_have_text("Assigned")
    shot(page, "officer-1-assigned")

    # When he reports progress through the page's form
    progress = page.locator("#do-progress")
    progress.get_by_label("Note").fill("旧栏杆已拆除，新立柱已订购")
    progress.get_by_role("button", name="Report progress").click()

    # Then the page says so, the item is in progress and the timeline names him
    expect(page.locator(".flash")).to_have_text("✔ Saved: Report progress.")
    expect(_stage(page)).to_have_text("In progress")
    expect(_fact(page.locator("dl.facts"), "Progress")).to_have_text("旧栏杆已拆除，新立柱已订购")
    latest = page.locator("ol.timeline > li").last
    expect(latest).to_contain_text("Progress reported")
    expect(latest).to_contain_text(f"by {LI}")
    shot(page, "officer-2-in-progress")

    # When he reports the resolution
    resolution = page.locator("#do-resolution")
    resolution.get_by_label("Summary").fill("新栏杆已安装并验收")
    resolution.get_by_role("button", name="Report the resolution").click()

    # Then the item is resolved and waits for the people's verdict: no more progress reports
    expect(page.locator(".flash")).to_have_text("✔ Saved: Report the resolution.")
    expect(_stage(page)).to_have_text("Resolved")
    expect(_fact(page.locator("dl.facts"), "Resolution")).to_have_text("新栏杆已安装并验收")
    expect(page.locator("ol.timeline > li").last).to_contain_text("Resolution reported")
    expect(page.locator("#do-progress")).to_have_count(0)
    expect(page.locator("#do-resolution")).to_have_count(0)
    assert town.stage("advance") == "resolved"


# -- an evaluation meeting --------------------------------------------------------------------------


def _enter_verdicts(item: Locator, verdicts: list[str]) -> None:
    """One row per representative: a name and a verdict (the form has five rows)."""
    form = item.locator("form", has=item.page.get_by_role("button", name="Record the verdicts"))
    for row, verdict in enumerate(verdicts):
        form.get_by_label(f"Evaluator {row + 1}", exact=True).fill(f"代表{row + 1}")
        form.get_by_label(f"Verdict {row + 1}", exact=True).select_option(verdict)
    form.get_by_role("button", name="Record the verdicts").click()


def test_an_evaluation_meeting_closes_one_item_and_reopens_another(town: Town, page: Page) -> None:
    # Given two resolved items under 李卫东 and a supervisor who holds an evaluation meeting
    passing, failing = town.items["pass"], town.items["fail"]
    sign_in(page, "supervisor")
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Meetings").click()
    hold = page.locator("form", has=page.get_by_role("button", name="Hold the meeting"))
    hold.get_by_label("Kind").select_option("evaluation")
    hold.get_by_label("Title").fill("第四季度群众评议会")
    hold.get_by_label("Unit or grid").fill("杨行镇")
    hold.get_by_label("Attendees").fill("代表1\n代表2\n代表3\n代表4\n代表5")
    hold.get_by_role("button", name="Hold the meeting").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("第四季度群众评议会")

    def card(number: str) -> Locator:
        return page.locator(
            "article.evaluation", has=page.get_by_role("link", name=re.compile(re.escape(number)))
        )

    # When five representatives are satisfied with one item...
    _enter_verdicts(card(passing), ["satisfied"] * 5)
    expect(card(passing).locator(".rate")).to_contain_text("5 verdicts: 100% satisfied")
    expect(card(passing).locator(".rate")).to_contain_text("Concluding closes the item.")
    # ...and one of five is dissatisfied with the other (80%, below the 95% target)
    _enter_verdicts(
        card(failing), ["satisfied", "satisfied", "dissatisfied", "satisfied", "basically_satisfied"]
    )
    expect(card(failing).locator(".rate")).to_contain_text(
        "5 verdicts: 80% satisfied against the target of 95%"
    )
    expect(card(failing).locator(".rate")).to_contain_text(
        "Concluding reopens the item under the same leader."
    )
    shot(page, "evaluation-1-verdicts")

    # And the meeting concludes both
    card(passing).get_by_role("button", name="Conclude the evaluation").click()
    expect(page.locator(".flash")).to_contain_text(f"{passing}: closed")
    card(failing).get_by_role("button", name="Conclude the evaluation").click()
    expect(page.locator(".flash")).to_contain_text(f"{failing}: reopened")

    # Then the first is closed, the second reopened under the same leader; neither waits any more
    expect(card(passing)).to_have_count(0)
    expect(card(failing)).to_have_count(0)
    shot(page, "evaluation-2-concluded")
    assert town.stage("pass") == "closed"
    assert town.stage("fail") == "in_progress"
    page.goto(f"/issues/{failing}")
    expect(_stage(page)).to_have_text("In progress")
    expect(_fact(page.locator("dl.facts"), "Leader")).to_have_text(LI)
    expect(page.locator("ol.timeline > li").last).to_contain_text("Reopened")
    page.goto(f"/issues/{passing}")
    expect(_stage(page)).to_have_text("Closed")


# -- replay -----------------------------------------------------------------------------------------


def test_a_supervisor_replays_the_dark_lane_and_sees_its_earlier_leader(town: Town, page: Page) -> None:
    # Given the dark lane, led by Zhang until he was transferred and Li took over, now closed
    number = town.report.dark_lane
    then = town.report.dark_lane_replay_at.astimezone(town.server.services.settings.zone)
    sign_in(page, "supervisor")
    page.goto(f"/issues/{number}")
    expect(_fact(page.locator("dl.facts"), "Leader")).to_have_text(LI)
    page.get_by_role("link", name="Replay this item").click()

    # When the supervisor picks the story's "May 3" for moment A and the latest version for B
    moment_a = page.get_by_role("group", name="Moment A")
    moment_a.get_by_label(re.compile(r"^or a moment")).fill(then.strftime("%Y-%m-%dT%H:%M"))
    moment_b = page.get_by_role("group", name="Moment B")
    moment_b.get_by_label("Compare with a second moment").check()
    slider = moment_b.get_by_role("slider")
    slider.focus()
    page.keyboard.press("End")  # the slider, moved with the keyboard: the newest version
    expect(moment_b.locator("output")).to_have_text(f"v{slider.get_attribute('max')}")
    page.get_by_role("button", name="Show").click()

    # Then moment A shows Zhang leading it at town level, moment B Li, and the leader differs
    earlier = page.get_by_role("region", name="Moment A")
    later = page.get_by_role("region", name="Moment B")
    expect(_fact(earlier, "Leader")).to_contain_text(ZHANG)
    expect(_fact(earlier, "Level")).to_contain_text("Town / street")
    expect(_fact(earlier, "Stage")).to_contain_text("In progress")
    expect(_fact(later, "Leader")).to_contain_text(LI)
    expect(_fact(later, "Stage")).to_contain_text("Closed")
    expect(_fact(later, "Leader").locator(".changed-badge")).to_be_visible()
    expect(page.locator("ol.timeline li.chosen")).to_have_count(2)
    shot(page, "replay-dark-lane")


# -- the public register ----------------------------------------------------------------------------


def test_the_public_register_shows_a_disclosed_item_and_none_of_its_private_fields(
    town: Town, page: Page, chromium: Browser
) -> None:
    # Given an item disclosed with title, area, level and deadline, canaries in all the rest
    number = town.items["private"]

    # When anyone opens the public register (no sign-in)
    page.goto("/register")

    # Then the item is there, as published...
    card = page.locator("ol.register > li", has_text=number)
    expect(card).to_be_visible()
    expect(card.get_by_role("heading")).to_contain_text("运河步行桥护栏加高")
    expect(_fact(card, "Area")).to_have_text("Public security")
    expect(_fact(card, "Level")).to_have_text("Village / community")
    expect(_fact(card, "Deadline")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    expect(card).to_contain_text("Published on 村务公开栏")
    # ...and nothing private is anywhere in the page, shown or hidden
    html, text = page.content(), page.locator("body").inner_text()
    leaked = {name: c for name, c in CANARIES.items() if c in html or c in text}
    assert leaked == {}, "private fields reached the public register"
    assert LI not in card.inner_text(), "the leader was not published"
    assert DEPARTMENT not in card.inner_text(), "the department was not published"
    shot(page, "register-public")

    # The canaries are real: a supervisor's view of the same item shows them
    staff = chromium.new_context(base_url=town.base_url, locale="en-US")
    staff.set_default_timeout(TIMEOUT_MS)
    try:
        supervisor = staff.new_page()
        sign_in(supervisor, "supervisor")
        supervisor.goto(f"/issues/{number}")
        seen = supervisor.locator("main").inner_text()
        assert {name for name, c in CANARIES.items() if c in seen} == set(CANARIES)
        shot(supervisor, "register-private-as-supervisor")
    finally:
        staff.close()


# -- languages --------------------------------------------------------------------------------------


def test_the_language_switch_goes_to_chinese_and_back_and_the_browser_language_is_honoured(
    town: Town, page: Page, chromium: Browser
) -> None:
    # Given an English browser on the register
    page.goto("/register")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Public register")

    # When the reader presses 中文, then the page is in Simplified Chinese, on the same page
    page.get_by_role("link", name="中文").click()
    expect(page).to_have_url(re.compile(r"/register$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("公开登记册")
    expect(page.get_by_role("navigation").get_by_role("link", name="反映问题")).to_be_visible()
    shot(page, "language-1-chinese")

    # And it stays Chinese on the next page, until English is pressed
    page.get_by_role("link", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    expect(page.get_by_label("用户名")).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    # Given a browser set to Chinese (Accept-Language: zh-CN), with no language chosen yet
    chinese = chromium.new_context(base_url=town.base_url, locale="zh-CN")
    chinese.set_default_timeout(TIMEOUT_MS)
    try:
        tab = chinese.new_page()
        tab.goto("/sign-in")
        # Then the pages answer in Chinese
        expect(tab.locator("html")).to_have_attribute("lang", "zh-Hans")
        expect(tab.get_by_role("heading", level=1)).to_have_text("登录")
        shot(tab, "language-2-accept-language-zh")
        # And the switch wins over the browser's language
        tab.get_by_role("link", name="English").click()
        expect(tab.get_by_role("heading", level=1)).to_have_text("Sign in")
        tab.goto("/register")
        expect(tab.get_by_role("heading", level=1)).to_have_text("Public register")
    finally:
        chinese.close()


# -- keyboard ---------------------------------------------------------------------------------------


def _focused(page: Page) -> str:
    """What has the focus: `tag#id` and its text."""
    return str(
        page.evaluate(
            "() => { const e = document.activeElement;"
            " return `${e.tagName.toLowerCase()}#${e.id}:${(e.textContent || '').trim()}`; }"
        )
    )


def test_signing_in_works_from_the_keyboard_alone_and_every_field_has_a_label(page: Page) -> None:
    # Given the sign-in page
    page.goto("/sign-in")

    # Then every field of the page has a label of its own
    unlabelled = page.evaluate(
        "() => Array.from(document.querySelectorAll('main input:not([type=hidden]), main select,"
        " main textarea')).filter(e => e.labels.length === 0).map(e => e.name)"
    )
    assert unlabelled == []
    expect(page.get_by_label("Name")).to_have_attribute("id", "username")
    expect(page.get_by_label("Password")).to_have_attribute("id", "password")

    # And the name field has the focus, so a clerk can start typing at once
    assert _focused(page) == "input#username:"

    # When the officer types, moving on with Tab and pressing Enter on the button
    page.keyboard.type(LI)
    page.keyboard.press("Tab")
    assert _focused(page) == "input#password:"
    page.keyboard.type("caseline-demo")
    page.keyboard.press("Tab")
    assert _focused(page) == "button#:Sign in"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", "a keyboard user sees where the focus is"
    shot(page, "keyboard-1-focus-on-button")
    page.keyboard.press("Enter")

    # Then the officer is signed in and on the board
    expect(page).to_have_url(re.compile(r"/board$"))
    expect(page.locator(".me")).to_contain_text(LI)

    # And on any page the first Tab reaches the skip link, which takes the focus to the content
    page.goto("/register")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None
    assert box["x"] >= 0, "the skip link shows itself when focused"
    shot(page, "keyboard-2-skip-link", full_page=False)
    page.keyboard.press("Enter")
    assert _focused(page).startswith("main#main:")
