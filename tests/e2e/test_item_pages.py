# ruff: noqa: F811 -- the fixtures imported from pages_fixtures are used as arguments
"""The item page's answer forms, and how often the item pages read the item from the store
(counted on the live server's workflow); test_pages.py covers the rest of these pages.

A form on an item page loads the item once, for the reach check, and hands that copy to the
command (answering a voice, to the voice's reach check, whose copy of the voice is the one
answered, as the JSON API's answer route does); the replay page reads the item's events once and
folds every state it shows from them.
"""

from __future__ import annotations

import pytest

from tests.counting import counting
from tests.e2e.pages_fixtures import (  # noqa: F401 -- fixtures
    Browser,
    PagesWorld,
    alert,
    pages_server,
    pages_world,
    signed_in,
)


def test_a_form_on_an_item_page_loads_the_item_once(
    pages_world: PagesWorld, signed_in: dict[str, Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    officer, late = signed_in["officer"], pages_world.items["late"]
    workflow = pages_world.server.services.workflow
    issue_id = workflow.issue_id(late)
    before = workflow.get_issue(late).version
    token = officer.token()
    with counting(monkeypatch, workflow.repository, "get") as loads:
        answer = officer.http.post(
            f"/issues/{late}/do/progress", data={"note": "Cable moved", "_csrf": token}
        )
    assert answer.status_code == 303, answer.text[:500]
    assert workflow.get_issue(late).version == before + 1
    assert loads[issue_id] == 1


def test_answering_a_coordination_request_on_an_item_page_loads_the_item_once(
    pages_world: PagesWorld, signed_in: dict[str, Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    officer, lane = signed_in["officer"], pages_world.items["lane"]
    workflow = pages_world.server.services.workflow
    asked = officer.post(
        f"/issues/{lane}/do/coordination", {"department": "water", "request": "shut the main"}
    )
    assert asked.status_code == 303, asked.text[:500]
    index = len(workflow.get_issue(lane).coordinations) - 1
    token = officer.token()
    with counting(monkeypatch, workflow.repository, "get") as loads:
        answer = officer.http.post(
            f"/issues/{lane}/coordination/{index}/answer", data={"answer": "Shut on Monday", "_csrf": token}
        )
    assert answer.status_code == 303, answer.text[:500]
    assert workflow.get_issue(lane).coordinations[index]["answer"] == "Shut on Monday"
    assert loads[workflow.issue_id(lane)] == 1


def test_the_answer_forms_record_an_answer_and_refuse_a_bad_one_with_the_page(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    officer, lane = signed_in["officer"], pages_world.items["lane"]
    workflow = pages_world.server.services.workflow
    voice = pages_world.opinions["lane"]
    # A reporter's voice: answered, then a blank answer refused by the schema, naming the field
    answered = officer.post(f"/issues/{lane}/opinions/{voice}/answer", {"feedback": "Lights on Friday"})
    assert answered.status_code == 303, answered.text[:500]
    assert answered.headers["location"].startswith(f"/issues/{lane}?done=answer&wait=")
    assert workflow.get_opinion(voice).answers[-1] == "Lights on Friday"
    before = pages_world.head()
    blank = officer.post(f"/issues/{lane}/opinions/{voice}/answer", {"feedback": " "})
    assert blank.status_code == 422
    assert "Feedback" in alert(blank.text)
    assert pages_world.head() == before, "a refused answer writes nothing"
    # A coordination request: answered, then answered again, which the item refuses
    asked = officer.post(
        f"/issues/{lane}/do/coordination", {"department": "parks", "request": "trim the tree"}
    )
    assert asked.status_code == 303, asked.text[:500]
    index = len(workflow.get_issue(lane).coordinations) - 1
    first = officer.post(f"/issues/{lane}/coordination/{index}/answer", {"answer": "Trimmed"})
    assert first.status_code == 303, first.text[:500]
    assert first.headers["location"].startswith(f"/issues/{lane}?done=coordination-answer&wait=")
    before = pages_world.head()
    again = officer.post(f"/issues/{lane}/coordination/{index}/answer", {"answer": "Trimmed twice"})
    assert again.status_code == 409
    assert "already answered" in alert(again.text)
    assert "Street lights for lane 7" in again.text, "the item's own page"
    blank = officer.post(f"/issues/{lane}/coordination/{index}/answer", {"answer": ""})
    assert blank.status_code == 422
    assert pages_world.head() == before, "a refused answer writes nothing"


@pytest.mark.parametrize(
    "params",
    [
        {"a": "2", "compare": "1", "b": "3"},
        {"at_a": "2026-03-04T12:00", "compare": "1", "at_b": "2026-03-06T12:00"},
        {"a": "2"},
        {"at_a": "2020-01-01T00:00"},
    ],
    ids=["two-versions", "two-moments", "one-version", "before-the-item"],
)
def test_the_replay_page_reads_the_items_events_once(
    pages_world: PagesWorld,
    signed_in: dict[str, Browser],
    monkeypatch: pytest.MonkeyPatch,
    params: dict[str, str],
) -> None:
    number = pages_world.items["replay"]
    workflow = pages_world.server.services.workflow
    with counting(monkeypatch, workflow.events, "get") as reads:
        page = signed_in["supervisor"].get(f"/issues/{number}/replay", params=params)
    assert page.status_code == 200
    assert 'aria-label="Moment A"' in page.text
    assert reads[workflow.issue_id(number)] == 1


def test_answering_a_voice_on_an_item_page_loads_the_item_and_the_voice_once(
    pages_world: PagesWorld, signed_in: dict[str, Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    officer, lane = signed_in["officer"], pages_world.items["lane"]
    workflow = pages_world.server.services.workflow
    voice = pages_world.opinions["lane"]
    token = officer.token()
    with (
        counting(monkeypatch, workflow.repository, "get") as loads,
        counting(monkeypatch, workflow.events, "get") as reads,
    ):
        answer = officer.http.post(
            f"/issues/{lane}/opinions/{voice}/answer", data={"feedback": "Poles on order", "_csrf": token}
        )
    assert answer.status_code == 303, answer.text[:500]
    assert workflow.get_opinion(voice).answers[-1] == "Poles on order"
    assert loads[workflow.issue_id(lane)] == 1, "the page's reach check, whose copy the answer's check uses"
    assert reads[voice] == 1, "the voice loaded for its reach check is the one answered"


def test_answering_a_voice_through_the_api_loads_the_item_and_the_voice_once(
    pages_world: PagesWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, lane, voice = pages_world.server, pages_world.items["lane"], pages_world.opinions["lane"]
    workflow = server.services.workflow
    headers = server.bearer("off-zhang", "officer", "roads")
    with (
        server.client() as http,
        counting(monkeypatch, workflow.repository, "get") as loads,
        counting(monkeypatch, workflow.events, "get") as reads,
    ):
        answer = http.post(f"/api/opinions/{voice}/answers", headers=headers, json={"feedback": "Wired"})
    assert answer.status_code == 200, answer.text[:500]
    assert workflow.get_opinion(voice).answers[-1] == "Wired"
    assert loads[workflow.issue_id(lane)] == 1, "the officer's reach is the item's"
    assert reads[voice] == 1


def test_a_voice_of_another_item_is_checked_against_its_own_item(
    pages_world: PagesWorld, signed_in: dict[str, Browser]
) -> None:
    # An officer of the water department reaches the burst main, not the lane the voice is merged into
    other, water = signed_in["other_officer"], pages_world.items["water"]
    voice = pages_world.opinions["lane"]
    before = pages_world.head()
    answer = other.post(f"/issues/{water}/opinions/{voice}/answer", {"feedback": "Not ours to answer"})
    assert answer.status_code == 404
    assert str(voice) in alert(answer.text)
    assert pages_world.head() == before, "nothing written"
