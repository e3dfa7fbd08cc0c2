# ruff: noqa: F811 -- the fixtures imported from pages_fixtures are used as arguments
"""How often a meeting's forms load the item they act on (counted on the live server's workflow);
test_pages.py covers what the meetings do.

A form loads its item once and hands that copy to each command it runs: assigning and
disclosing, every verdict entered, merging voices into an existing item.
"""

from __future__ import annotations

import pytest

from tests.counting import counting
from tests.e2e.pages_fixtures import (  # noqa: F401 -- fixtures
    Browser,
    PagesWorld,
    hold_meeting,
    pages_server,
    pages_world,
    signed_in,
)


def test_assigning_and_disclosing_at_a_meeting_loads_the_item_once(
    pages_world: PagesWorld, signed_in: dict[str, Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    supervisor, number = signed_in["supervisor"], pages_world.items["opened"]
    workflow = pages_world.server.services.workflow
    path = f"{hold_meeting(supervisor, 'assignment')}/assign/{number}"
    token = supervisor.token()
    with counting(monkeypatch, workflow.repository, "get") as loads:
        answer = supervisor.http.post(
            path,
            data={"leader": "leader-zhou", "department": "roads", "goals": "benches installed",
                  "measures": "order benches", "deadline": "2026-04-30", "disclose": "1",
                  "where": "the village board", "fields": ["title", "leader"], "_csrf": token},
        )  # fmt: skip
    assert answer.status_code == 303, answer.text[:500]
    events = [type(e).__name__ for e in workflow.history(number)]
    assert events[-2:] == ["LeaderAssigned", "Disclosed"]
    assert loads[workflow.issue_id(number)] == 1


def test_entering_verdicts_at_a_meeting_loads_the_item_once(
    pages_world: PagesWorld, signed_in: dict[str, Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    supervisor, number = signed_in["supervisor"], pages_world.items["pass"]
    workflow = pages_world.server.services.workflow
    path = f"{hold_meeting(supervisor, 'evaluation')}/evaluate/{number}"
    verdicts: dict[str, object] = {"_csrf": supervisor.token()}
    for row in range(3):
        verdicts[f"evaluator_{row}"] = f"rep {row}"
        verdicts[f"verdict_{row}"] = "satisfied"
    with counting(monkeypatch, workflow.repository, "get") as loads:
        answer = supervisor.http.post(path, data=verdicts)
    assert answer.status_code == 303, answer.text[:500]
    assert len(workflow.get_issue(number).evaluations) == 3
    assert loads[workflow.issue_id(number)] == 1, "three verdicts, one load"


def test_merging_a_voice_into_an_existing_item_at_a_meeting_loads_the_item_once(
    pages_world: PagesWorld, signed_in: dict[str, Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    supervisor, number = signed_in["supervisor"], pages_world.items["water"]
    voice = pages_world.opinions["unmerged"]
    workflow = pages_world.server.services.workflow
    path = f"{hold_meeting(supervisor, 'analysis')}/merge"
    token = supervisor.token()
    with counting(monkeypatch, workflow.repository, "get") as loads:
        answer = supervisor.http.post(
            path, data={"opinion_ids": str(voice), "target": "existing", "number": number, "_csrf": token}
        )
    assert answer.status_code == 303, answer.text[:500]
    assert voice in workflow.get_issue(number).opinion_ids
    assert workflow.get_opinion(voice).issue_id == workflow.issue_id(number)
    assert loads[workflow.issue_id(number)] == 1
