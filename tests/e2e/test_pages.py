# ruff: noqa: F811, RUF001 -- fixtures imported from pages_fixtures are used as arguments; Chinese text uses
# full-width punctuation on purpose.
"""The pages over real HTTP: a live uvicorn on 127.0.0.1, httpx as the browser.

Who sees which page (and who is sent to sign in or told there is no such page), the
language switch, CSRF, the public register's privacy (canary strings), and the work itself
done through forms with real POSTs: an officer advancing an item, meetings that merge,
assign, evaluate and conclude, the recorder's visit log, the public form, replay, charts
and downloads. Browser tests in Chromium come on top of these (tests/browser/).
"""

from __future__ import annotations

import ast
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook

from api.pages import dashboards, issue, meetings
from api.pages.catalogue_zh import LABELS_ZH, MESSAGES_ZH
from api.pages.i18n import LABELS_EN, negotiate
from api.security import issue_token
from domain.rules import Role, Stage
from tests.e2e.pages_fixtures import (  # noqa: F401 -- fixtures
    CANARIES,
    Browser,
    PagesWorld,
    alert,
    browser,
    hold_meeting,
    pages_server,
    pages_world,
    signed_in,
)

PAGES = Path(__file__).parents[2] / "api" / "pages"


# -- who sees what ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/register", "/submit", "/sign-in", "/static/pages/pages.css"])
def test_public_pages_open_without_signing_in(browser: Browser, path: str) -> None:
    answer = browser.get(path)
    assert answer.status_code == 200
    if path != "/static/pages/pages.css":
        assert answer.headers["content-type"].startswith("text/html")
        assert '<html lang="en">' in answer.text


@pytest.mark.parametrize(
    "path", ["/board", "/issues/2026-0001", "/issues/2026-0001/replay", "/intake", "/meetings", "/dashboards"]
)
def test_staff_pages_send_the_anonymous_to_sign_in(browser: Browser, path: str) -> None:
    answer = browser.get(path)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == "/sign-in"
    assert parse_qs(location.query)["next"] == [path]


# role -> page -> status; "{lane}" is the officer's own item, "{water}" another department's.
EXPECTED = {
    "supervisor": {"/board": 200, "/issues/{lane}": 200, "/issues/{water}": 200, "/issues/{lane}/replay": 200,
                   "/intake": 200, "/meetings": 200, "/dashboards": 200,
                   "/dashboards/download/ledger.csv": 200},
    "admin": {"/board": 200, "/issues/{water}/replay": 200, "/meetings": 200, "/dashboards": 200},
    "officer": {"/board": 200, "/issues/{lane}": 200, "/issues/{water}": 404, "/issues/{lane}/replay": 404,
                "/intake": 200, "/meetings": 404, "/dashboards": 404, "/dashboards/download/ledger.csv": 404},
    "recorder": {"/board": 404, "/issues/{lane}": 404, "/intake": 200, "/meetings": 404, "/dashboards": 404},
}  # fmt: skip
CELLS = [(role, path, status) for role, paths in EXPECTED.items() for path, status in paths.items()]


@pytest.mark.parametrize(("role", "path", "status"), CELLS)
def test_each_page_answers_each_role_as_expected(
    pages_world: PagesWorld, signed_in: dict[str, Browser], role: str, path: str, status: int
) -> None:
    answer = signed_in[role].get(path.format(**pages_world.items))
    assert answer.status_code == status, answer.text[:400]
    if status == 404:
        assert answer.headers["content-type"].startswith("text/html")
        assert alert(answer.text)


def test_the_menu_follows_the_role(signed_in: dict[str, Browser]) -> None:
    supervisor = signed_in["supervisor"].get("/register").text
    officer = signed_in["officer"].get("/register").text
    recorder = signed_in["recorder"].get("/register").text
    public = signed_in["anonymous"].get("/register").text
    assert 'href="/dashboards"' in supervisor
    assert 'href="/meetings"' in supervisor
    assert 'href="/board"' in officer
    assert 'href="/dashboards"' not in officer
    assert 'href="/intake"' in recorder
    assert 'href="/board"' not in recorder
    assert 'href="/sign-in"' in public
    assert 'href="/intake"' not in public


def test_officers_board_shows_their_items_and_marks_overdue_ones_in_words(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    page = signed_in["officer"].get("/board", params={"overdue": "yes"}).text
    assert pages_world.items["late"] in page
    assert "⚠</span> Overdue" in page
    assert pages_world.items["water"] not in signed_in["officer"].get("/board").text
    assert pages_world.items["water"] in signed_in["supervisor"].get("/board", params={"text": "Canal"}).text


def test_board_filters_and_pages(pages_world: PagesWorld, signed_in: dict[str, Browser]) -> None:
    board = signed_in["supervisor"]
    one_stage = board.get("/board", params={"stage": "assigned", "level": "village", "text": "Canal"}).text
    assert pages_world.items["water"] in one_stage
    assert pages_world.items["lane"] not in one_stage
    assert pages_world.items["water"] not in board.get("/board", params={"stage": "closed"}).text
    assert board.get("/board", params={"page": "2"}).status_code == 200
    assert board.get("/board", params={"area": "weather"}).status_code == 422


# -- language -----------------------------------------------------------------------------------


def test_the_language_switch_shows_chinese_and_back(browser: Browser) -> None:
    switched = browser.get("/lang/zh", params={"next": "/register"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/register"
    page = browser.get("/register").text
    assert '<html lang="zh-Hans">' in page
    assert "公开登记册" in page
    assert "反映问题" in page
    browser.get("/lang/en", params={"next": "/register"})
    assert "Public register" in browser.get("/register").text


def test_the_browser_language_is_honoured_without_a_cookie(browser: Browser) -> None:
    page = browser.get("/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).text
    assert '<html lang="zh-Hans">' in page
    assert "登录" in page
    assert negotiate(None, "en-GB,en;q=0.9,zh;q=0.8") == "en"
    assert negotiate(None, "fr, zh;q=0.5") == "zh"
    assert negotiate("xx", "garbage;q=nope") == "en"


def test_the_switch_never_redirects_off_the_site(browser: Browser) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = browser.get("/lang/zh", params={"next": target})
        assert answer.headers["location"] == "/"


def _refusal(html: str) -> str:
    """The page's alert without its ✖ mark."""
    return alert(html).removeprefix("✖ ")


def _api(world: PagesWorld, name: str) -> dict[str, str]:
    """Headers for the JSON API as `name`, asking for Chinese every way a browser would."""
    settings = world.server.services.settings
    token = issue_token(name, secret=world.server.services.secret, minutes=settings.token_minutes)
    return {"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN,zh;q=0.9", "Cookie": "lang=zh"}


def test_a_refusal_reads_in_chinese_on_a_chinese_page_with_its_values(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    lane = pages_world.items["lane"]
    leader = pages_world.server.services.workflow.get_issue(lane).leader
    form = {"leader": "leader-zhou", "department": "roads", "goals": "lights on", "measures": "new cable",
            "deadline": "2026-06-30"}  # fmt: skip
    english = f"Issue {lane} already has a leader ({leader}); hand it over instead."
    before = pages_world.head()
    chinese = Browser(pages_world.server)
    try:
        chinese.get("/lang/zh")
        chinese.sign_in("sup-chen")
        refused = chinese.post(f"/issues/{lane}/do/assign", form)
        assert refused.status_code == 409
        assert '<html lang="zh-Hans">' in refused.text
        assert _refusal(refused.text) == f"项目 {lane} 已有牵头领导（{leader}），如需更换请办理移交。"
        missing = chinese.get("/issues/2026-9999")
        assert missing.status_code == 404
        assert _refusal(missing.text) == "项目 2026-9999 不存在。", "the error page too"
    finally:
        chinese.close()

    refused = signed_in["supervisor"].post(f"/issues/{lane}/do/assign", form)
    assert refused.status_code == 409
    assert _refusal(refused.text) == english, "the English page shows the domain's own message"

    with pages_world.server.client(headers=_api(pages_world, "sup-chen")) as api:
        body = {**form, "goals": ["lights on"], "measures": ["new cable"], "deadline": "2026-06-30T15:59:00Z"}
        answer = api.post(f"/api/issues/{lane}/assign", json=body)
    assert answer.status_code == 409
    assert answer.json() == {"code": "leader_already_assigned", "message": english}, "the API stays English"
    assert pages_world.head() == before, "a refusal writes nothing"


def test_a_deadline_in_the_past_is_refused_in_the_browsers_language(pages_world: PagesWorld) -> None:
    late = pages_world.items["late"]
    form = {"deadline": "2026-01-05", "reason": "more time", "approver": "sup-chen"}
    # The last minute of 5 January in Asia/Shanghai: the domain says it in UTC, the pages in the
    # town's zone, as they show every time
    english = "The deadline 2026-01-05 15:59 UTC has already passed."
    chinese = Browser(pages_world.server, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    try:
        chinese.sign_in("sup-chen")
        refused = chinese.post(f"/issues/{late}/do/extend-deadline", form)
    finally:
        chinese.close()
    assert refused.status_code == 409
    assert _refusal(refused.text) == "所填时限 2026-01-05 23:59 已经过去。"
    english_page = Browser(pages_world.server)
    try:
        english_page.sign_in("sup-chen")
        refused_in_english = english_page.post(f"/issues/{late}/do/extend-deadline", form)
    finally:
        english_page.close()
    assert _refusal(refused_in_english.text) == "The deadline 2026-01-05 23:59 has already passed."

    with pages_world.server.client(headers=_api(pages_world, "sup-chen")) as api:
        body = {**form, "deadline": "2026-01-05T15:59:00Z"}
        answer = api.post(f"/api/issues/{late}/extend-deadline", json=body)
    assert answer.status_code == 409
    assert answer.json() == {"code": "deadline_in_past", "message": english}


def _messages() -> set[str]:
    """Every message the templates and page modules translate."""
    found: set[str] = set()
    for template in (PAGES / "templates").glob("*.html"):
        found |= {m.group(2) for m in re.finditer(r"""_\(\s*(["'])((?:(?!\1).)*)\1""", template.read_text())}
    for module in PAGES.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute | ast.Name)
                and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    found |= (
        {a.title for a in issue.ACTIONS.values()} | set(issue.DONE.values()) | set(meetings.DONE.values())
    )
    return found | set(dashboards.STEP_TITLES.values()) | set(issue.FACT_TITLES.values())


def test_every_message_and_label_has_a_chinese_translation() -> None:
    messages = _messages()
    assert len(messages) > 150, "the extraction found too little to be trusted"
    assert sorted(messages - MESSAGES_ZH.keys()) == []
    for kind, labels in LABELS_EN.items():
        assert sorted(labels.keys() - LABELS_ZH.get(kind, {}).keys()) == [], kind
    for message, chinese in MESSAGES_ZH.items():
        assert set(re.findall(r"{\w+}", message)) == set(re.findall(r"{\w+}", chinese)), message


# -- CSRF and sessions --------------------------------------------------------------------------


def test_a_form_posted_without_its_csrf_token_is_refused_and_writes_nothing(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    officer = signed_in["officer"]
    before = pages_world.head()
    path = f"/issues/{pages_world.items['lane']}/do/progress"
    bare = officer.post(path, {"note": "forged"}, token=False)
    foreign = officer.post(path, {"note": "forged", "_csrf": signed_in["supervisor"].token()}, token=False)
    assert bare.status_code == 403
    assert foreign.status_code == 403
    assert "expired or did not come from this site" in alert(bare.text)
    assert pages_world.head() == before
    assert (
        signed_in["anonymous"]
        .post("/sign-in", {"username": "sup-chen", "password": "x"}, token=False)
        .status_code
        == 403
    )
    assert signed_in["anonymous"].post("/submit", {"text": "x"}, token=False).status_code == 403


def test_signing_in_sets_an_httponly_lax_session_cookie_and_signing_out_clears_it(
    pages_world: PagesWorld, browser: Browser
) -> None:
    answer = browser.sign_in("sup-chen")
    cookies = [v for k, v in answer.headers.multi_items() if k == "set-cookie"]
    session = next(c for c in cookies if c.startswith("caseline_session="))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert "Path=/" in session
    assert answer.headers["location"] == "/board"
    assert browser.get("/dashboards").status_code == 200
    out = browser.post("/sign-out", {})
    assert out.status_code == 303
    assert browser.get("/dashboards").status_code == 303


def test_a_wrong_password_is_a_page_not_a_session(pages_world: PagesWorld, browser: Browser) -> None:
    answer = browser.post(
        "/sign-in", {"username": "sup-chen", "password": "wrong password!", "next": "/board"}
    )
    assert answer.status_code == 401
    assert "The name or password is wrong." in alert(answer.text)
    assert not any(
        k == "set-cookie" and v.startswith("caseline_session=ey") for k, v in answer.headers.multi_items()
    )


def test_sign_in_returns_to_the_page_asked_for_but_never_off_the_site(
    pages_world: PagesWorld, browser: Browser
) -> None:
    lane = pages_world.items["lane"]
    back = browser.post(
        "/sign-in", {"username": "off-zhang", "password": "pages-test-password", "next": f"/issues/{lane}"}
    )
    assert back.headers["location"] == f"/issues/{lane}"
    away = Browser(pages_world.server)
    try:
        answer = away.post(
            "/sign-in", {"username": "off-zhang", "password": "pages-test-password", "next": "//evil.example"}
        )
        assert answer.headers["location"] == "/board"
    finally:
        away.close()


# -- the public register ------------------------------------------------------------------------


def test_the_register_shows_disclosed_items_and_nothing_private(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    register = signed_in["anonymous"].get("/register").text
    assert pages_world.items["lane"] in register
    assert "Street lights for lane 7" in register
    assert pages_world.items["water"] not in register, "an item nobody disclosed"
    for canary in CANARIES.values():
        assert canary not in register
    assert "off-zhang" not in register, "the leader was not among the published fields"
    # The canaries are real: the supervisor's issue page shows the contact, the officer's does not.
    supervisor = signed_in["supervisor"].get(f"/issues/{pages_world.items['lane']}").text
    officer = signed_in["officer"].get(f"/issues/{pages_world.items['lane']}").text
    assert CANARIES["phone"] in supervisor
    assert CANARIES["text"] in supervisor
    assert CANARIES["phone"] not in officer
    assert CANARIES["name"] not in officer


# -- work through forms -------------------------------------------------------------------------


def _forms(html: str) -> set[str]:
    return set(re.findall(r'action="/issues/[^/"]+/do/([a-z-]+)"', html))


def test_an_officer_advances_an_item_from_assignment_to_resolution_through_forms(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    officer, lane = signed_in["officer"], pages_world.items["lane"]
    forms = _forms(officer.get(f"/issues/{lane}").text)
    assert {"progress", "resolution", "hand-over", "disclosures"} <= forms
    assert not forms & {"assign", "evaluations", "conclusion", "reopen", "extend-deadline"}, (
        "supervisors' forms"
    )

    answer = officer.post(f"/issues/{lane}/do/progress", {"note": "Cable moved; poles ordered", "_key": "k1"})
    assert answer.status_code == 303
    page = officer.get(answer.headers["location"]).text
    assert "Saved: Report progress." in page
    assert "Cable moved; poles ordered" in page
    assert pages_world.stage("lane") == Stage.IN_PROGRESS

    answer = officer.post(f"/issues/{lane}/do/resolution", {"summary": "Six lights installed", "_key": "k2"})
    assert answer.status_code == 303
    page = officer.get(answer.headers["location"]).text
    assert pages_world.stage("lane") == Stage.RESOLVED
    assert "Six lights installed" in page
    assert _forms(page) == {"inspections", "hand-over", "disclosures"}, "what an officer may do once resolved"

    refused = officer.post(f"/issues/{lane}/do/progress", {"note": "one more", "_key": "k3"})
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("text/html")
    assert "it cannot take progress reports now" in alert(refused.text)


def test_a_form_submitted_twice_records_once(pages_world: PagesWorld, signed_in: dict[str, Browser]) -> None:
    officer, late = signed_in["officer"], pages_world.items["late"]
    form = {"department": "power company", "request": "move the cable", "_key": "double-click"}
    first = officer.post(f"/issues/{late}/do/coordination", form)
    second = officer.post(f"/issues/{late}/do/coordination", form)
    assert first.status_code == second.status_code == 303
    assert len(pages_world.server.services.workflow.get_issue(late).coordinations) == 1


def test_a_role_that_may_not_act_gets_a_page_saying_so_and_nothing_is_written(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    before = pages_world.head()
    answer = signed_in["officer"].post(
        f"/issues/{pages_world.items['late']}/do/extend-deadline",
        {"deadline": "2027-01-01", "reason": "more time", "approver": "me"},
    )
    assert answer.status_code == 403
    assert "may not extend the deadline" in alert(answer.text)
    unknown = signed_in["officer"].post(f"/issues/{pages_world.items['water']}/do/progress", {"note": "x"})
    assert unknown.status_code == 404
    assert pages_world.head() == before


def test_bad_form_values_come_back_as_a_page_naming_the_field(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    answer = signed_in["officer"].post(f"/issues/{pages_world.items['late']}/do/progress", {"note": " "})
    assert answer.status_code == 422
    assert "Note" in alert(answer.text)
    big = signed_in["officer"].post(f"/issues/{pages_world.items['late']}/do/progress", {"note": "x" * 5000})
    assert big.status_code == 422
    assert "x" * 4001 not in big.text, "an oversized value is not echoed back"


def test_the_recorder_writes_a_visit_log_entry(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    form = {
        "kind": "dispute", "area": "livelihood", "channel": "household_visit", "unit": "grid 9",
        "text": "Neighbours quarrel over a shared wall", "name": "Mr Sun", "phone": "13800000000",
    }  # fmt: skip
    answer = signed_in["recorder"].post("/intake", form)
    assert answer.status_code == 200
    assert "Recorded (reference" in answer.text
    assert "Neighbours quarrel" not in answer.text, "the form is cleared for the next household"
    unanswered = answer.text.split("Your records not yet answered")[1]
    assert "grid 9" in unanswered
    missing = signed_in["recorder"].post("/intake", {**form, "text": ""})
    assert missing.status_code == 422
    assert "What was said" in alert(missing.text)


def test_anyone_may_report_an_issue_through_the_public_form(
    pages_world: PagesWorld, browser: Browser
) -> None:
    before = pages_world.head()
    answer = browser.post(
        "/submit",
        {"kind": "opinion", "area": "environment", "unit": "grid 4", "text": "Rubbish by the canal"},
    )
    assert answer.status_code == 200
    assert "Thank you" in answer.text
    assert pages_world.head() > before
    invalid = browser.post("/submit", {"kind": "opinion", "area": "weather", "unit": "grid 4", "text": "x"})
    assert invalid.status_code == 422


def test_a_supervisor_replays_an_item_and_sees_its_earlier_leader(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    number = pages_world.items["replay"]
    history = pages_world.server.services.workflow.history(number)
    assigned = next(e.originator_version for e in history if type(e).__name__ == "LeaderAssigned")
    page = (
        signed_in["supervisor"]
        .get(f"/issues/{number}/replay", params={"a": assigned, "compare": "1", "b": len(history)})
        .text
    )
    moment_a, moment_b = page.split('aria-label="Moment B"')
    assert "off-zhang" in moment_a.split('aria-label="Moment A"')[1]
    assert "successor-li" in moment_b.split("<section")[0]
    assert "≠" in page
    assert 'type="range"' in page
    assert 'type="datetime-local"' in page
    # A moment between the assignment (2026-03-03 17:00 in Asia/Shanghai) and the handover two days later.
    by_time = (
        signed_in["supervisor"].get(f"/issues/{number}/replay", params={"at_a": "2026-03-04T12:00"}).text
    )
    assert "off-zhang" in by_time.split('aria-label="Moment A"')[1]
    before = signed_in["supervisor"].get(f"/issues/{number}/replay", params={"at_a": "2020-01-01T00:00"})
    assert before.status_code == 200
    assert "There is no issue" in alert(before.text)


def test_an_evaluation_meeting_closes_one_item_and_reopens_another(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    supervisor = signed_in["supervisor"]
    meeting = hold_meeting(supervisor, "evaluation")
    page = supervisor.get(meeting).text
    assert pages_world.items["pass"] in page
    assert pages_world.items["fail"] in page
    for name, satisfied in (("pass", 5), ("fail", 3)):
        number = pages_world.items[name]
        verdicts: dict[str, object] = {}
        for row in range(5):
            verdicts[f"evaluator_{row}"] = f"rep {row}"
            verdicts[f"verdict_{row}"] = "satisfied" if row < satisfied else "dissatisfied"
        answer = supervisor.post(f"{meeting}/evaluate/{number}", verdicts)
        assert answer.status_code == 303, alert(answer.text)
        shown = supervisor.get(answer.headers["location"]).text
        assert f"{satisfied * 20}% satisfied against the target of 95%" in shown
        concluded = supervisor.post(f"{meeting}/conclude/{number}", {})
        assert concluded.status_code == 303, alert(concluded.text)
    assert pages_world.stage("pass") == Stage.CLOSED
    assert pages_world.stage("fail") == Stage.IN_PROGRESS
    assert _forms(supervisor.get(f"/issues/{pages_world.items['pass']}").text) == {"reopen"}
    timeline = supervisor.get(f"/issues/{pages_world.items['pass']}").text
    assert "at the Evaluation meeting of village, 2026-03-03" in timeline


def test_an_analysis_meeting_merges_a_voice_into_a_new_item_and_routes_it(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    supervisor = signed_in["supervisor"]
    meeting = hold_meeting(supervisor, "analysis")
    voice = str(pages_world.opinions["unmerged"])
    assert voice in supervisor.get(meeting).text
    answer = supervisor.post(
        f"{meeting}/merge",
        {"opinion_ids": voice, "target": "new", "title": "Stray dogs near the school", "area": "security",
         "level": "village", "horizon": "near", "route": "coordinate", "reason": "needs the animal office"},
    )  # fmt: skip
    assert answer.status_code == 303, alert(answer.text)
    opinion = pages_world.server.services.workflow.get_opinion(pages_world.opinions["unmerged"])
    assert opinion.issue_id is not None
    assert opinion.route == "coordinate"
    assert voice not in supervisor.get(answer.headers["location"]).text


def test_an_assignment_meeting_assigns_a_leader_and_discloses_it(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    supervisor, number = signed_in["supervisor"], pages_world.items["opened"]
    meeting = hold_meeting(supervisor, "assignment")
    assert number in supervisor.get(meeting).text
    answer = supervisor.post(
        f"{meeting}/assign/{number}",
        {"leader": "leader-zhou", "department": "roads", "goals": "benches installed\nchecked",
         "measures": "order benches", "deadline": "2026-04-30", "disclose": "1",
         "where": "the village board", "fields": ["title", "leader", "deadline"]},
    )  # fmt: skip
    assert answer.status_code == 303, alert(answer.text)
    issue_now = pages_world.server.services.workflow.get_issue(number)
    assert issue_now.leader == "leader-zhou"
    assert issue_now.goals == ["benches installed", "checked"]
    assert issue_now.deadline is not None
    assert issue_now.deadline.isoformat().startswith("2026-04-30T15:59")
    pages_world.server.settle()
    register = signed_in["anonymous"].get("/register").text
    assert number in register
    assert "Benches for the square" in register


def test_dashboards_draw_accessible_charts_and_download_each_table(signed_in: dict[str, Browser]) -> None:
    supervisor = signed_in["supervisor"]
    page = supervisor.get("/dashboards").text
    assert page.count('<svg role="img"') == 4
    for name in ("satisfaction", "overdue-by-level", "funnel", "ledger"):
        assert f'href="/dashboards/download/{name}.csv"' in page
        csv = supervisor.get(f"/dashboards/download/{name}.csv")
        assert csv.status_code == 200
        assert csv.headers["content-type"].startswith("text/csv")
        xlsx = supervisor.get(f"/dashboards/download/{name}.xlsx")
        assert xlsx.status_code == 200
        assert xlsx.content[:2] == b"PK"
    assert supervisor.get("/dashboards/download/funnel.csv").text.splitlines()[0] == "step,items"
    assert supervisor.get("/dashboards/download/secrets.csv").status_code == 422


def _workbook_parts(data: bytes) -> dict[str, bytes]:
    """A workbook's parts, less the moments it was created and saved (the clock at saving)."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    parts["docProps/core.xml"] = re.sub(
        rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\1", parts["docProps/core.xml"]
    )
    return parts


def test_dashboard_downloads_are_the_bytes_the_exports_write(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    supervisor = signed_in["supervisor"]
    server = pages_world.server
    with server.client(headers=server.bearer("sup-chen", Role.SUPERVISOR)) as api:
        # Tables the JSON API exports too: the same bytes (the workbook's save times aside)
        for name in ("ledger", "satisfaction"):
            for fmt in ("csv", "xlsx"):
                page = supervisor.get(f"/dashboards/download/{name}.{fmt}")
                export = api.get(f"/api/exports/{name}.{fmt}")
                assert page.status_code == export.status_code == 200, (name, fmt)
                for header in ("content-type", "content-disposition"):
                    assert page.headers[header] == export.headers[header], (name, fmt, header)
                if fmt == "csv":
                    assert page.content == export.content, name
                    assert name != "ledger" or page.content.count(b"\n") > 1, "rows, not a header alone"
                else:
                    assert _workbook_parts(page.content) == _workbook_parts(export.content), name
    # Tables only the dashboards have: a header of the keys, then a line per row, comma-separated
    # (nothing in them needs quoting), and one sheet named after the table with the same cells
    now = server.clock.now()
    for name, rows in (
        ("overdue-by-level", dashboards.overdue_by_level(server.services, now)),
        ("funnel", dashboards.funnel(server.services)),
    ):
        cells = [list(rows[0]), *(list(row.values()) for row in rows)]
        written = "".join(",".join(str(cell) for cell in line) + "\n" for line in cells)
        download = supervisor.get(f"/dashboards/download/{name}.csv")
        assert download.content == written.encode(), name
        assert download.headers["content-disposition"] == f'attachment; filename="{name}.csv"'
        book = load_workbook(io.BytesIO(supervisor.get(f"/dashboards/download/{name}.xlsx").content))
        assert book.sheetnames == [name]
        assert [list(line) for line in book[name].iter_rows(values_only=True)] == cells, name


def test_signing_in_loads_the_account_once(
    pages_world: PagesWorld, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = pages_world.server.services.workflow
    loaded: list[str] = []
    original = workflow.get_account

    def get_account(name: str) -> object:
        loaded.append(name)
        return original(name)

    monkeypatch.setattr(workflow, "get_account", get_account)
    answer = browser.sign_in("off-zhang")
    assert answer.headers["location"] == "/board", "the account's role chose the page"
    assert loaded == ["off-zhang"]


def test_pages_report_their_server_time(signed_in: dict[str, Browser]) -> None:
    timing = signed_in["supervisor"].get("/board").headers["server-timing"]
    assert re.fullmatch(r"page;dur=\d+(\.\d+)?", timing)


def test_an_ageing_session_is_renewed_and_a_bad_one_is_dropped(
    pages_world: PagesWorld, browser: Browser
) -> None:
    services = pages_world.server.services
    minutes = services.settings.token_minutes
    ageing = issue_token(
        "sup-chen",
        secret=services.secret,
        minutes=minutes,
        now=datetime.now(tz=UTC) - timedelta(minutes=minutes * 0.75),
    )
    browser.http.cookies.set("caseline_session", ageing)
    answer = browser.get("/board")
    assert answer.status_code == 200
    renewed = [
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("caseline_session=")
    ]
    assert len(renewed) == 1
    assert ageing not in renewed[0]
    browser.http.cookies.clear()
    browser.http.cookies.set("caseline_session", "not-a-token")
    dropped = browser.get("/board")
    assert dropped.status_code == 303
    assert any(
        v.startswith('caseline_session=""') for k, v in dropped.headers.multi_items() if k == "set-cookie"
    )


def test_every_staff_page_renders_in_chinese(pages_world: PagesWorld) -> None:
    chinese = Browser(pages_world.server)
    try:
        chinese.get("/lang/zh")
        chinese.sign_in("sup-chen")
        meeting = hold_meeting(chinese, "analysis")
        lane = pages_world.items["lane"]
        for path in ("/board", f"/issues/{lane}", f"/issues/{lane}/replay?a=1&compare=1&b=3", "/intake",
                     "/meetings", meeting, "/dashboards", "/register", "/submit"):  # fmt: skip
            answer = chinese.get(path)
            assert answer.status_code == 200, path
            assert '<html lang="zh-Hans">' in answer.text
            assert "退出" in answer.text, "the menu is in Chinese"
    finally:
        chinese.close()
