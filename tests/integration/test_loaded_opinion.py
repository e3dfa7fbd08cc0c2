"""Answering an opinion the caller has just loaded (as the HTTP API does for its reach check) acts
on it without reading it again, and falls back to the store whenever it is not the latest state."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.workflow import Workflow
from tests.conftest import StoreFactory
from tests.counting import count_calls
from tests.integration.races import CLERK


def voice(workflow: Workflow) -> UUID:
    return workflow.record_opinion(
        CLERK, kind="difficulty", area="security", channel="household_visit", unit="grid 4",
        text="The lane behind building 7 is dark", place="lane 7",
    ).id  # fmt: skip


def test_answers_the_given_opinion_without_reading_it_again(
    workflow: Workflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an opinion, loaded by the caller
    opinion_id = voice(workflow)
    loaded = workflow.get_opinion(opinion_id)
    version = loaded.version
    reads = count_calls(monkeypatch, workflow.events, "get")
    # When it is answered as loaded
    result = workflow.answer_opinion(CLERK, loaded, feedback="Lamps ordered")
    # Then the next version is saved from the copy given, and the store was not read for it
    assert reads[opinion_id] == 0
    assert (result.id, result.version) == (opinion_id, version + 1)
    assert workflow.get_opinion(opinion_id).answers == ["Lamps ordered"]


def test_a_stale_opinion_loses_no_answer_written_meanwhile(make_workflow: StoreFactory) -> None:
    # Given an opinion loaded by one process while another answers it
    first, second = make_workflow(), make_workflow()
    opinion_id = voice(first)
    stale = first.get_opinion(opinion_id)
    second.answer_opinion(CLERK, opinion_id, feedback="Lamps ordered")
    # When the first answers what it loaded
    result = first.answer_opinion(CLERK, stale, feedback="Lamps installed")
    # Then the version check sends it back to the store: both answers are kept, in order
    assert first.get_opinion(opinion_id).answers == ["Lamps ordered", "Lamps installed"]
    assert result.version == first.get_opinion(opinion_id).version


def test_ignores_changes_the_caller_made_to_the_opinion_and_did_not_save(workflow: Workflow) -> None:
    # Given a loaded opinion the caller changed without saving
    opinion_id = voice(workflow)
    changed = workflow.get_opinion(opinion_id)
    changed.answer("never meant to be saved", by=CLERK.name, actor=CLERK.name)
    # When it is answered as given
    workflow.answer_opinion(CLERK, changed, feedback="Lamps installed")
    # Then the answer acts on the stored state: the unsaved change is not written
    assert workflow.get_opinion(opinion_id).answers == ["Lamps installed"]


def test_a_repeat_by_loaded_opinion_is_the_same_request_as_by_id(workflow: Workflow) -> None:
    # Given an opinion answered by id with an idempotency key
    opinion_id = voice(workflow)
    first = workflow.answer_opinion(CLERK, opinion_id, feedback="Lamps ordered", key="k-1")
    # When the same request comes again on the loaded opinion
    again = workflow.answer_opinion(
        CLERK, workflow.get_opinion(opinion_id), feedback="Lamps ordered", key="k-1"
    )
    # Then it is recognised as a repeat and writes nothing
    assert (again.changed, again.version) == (False, first.version)
    assert workflow.get_opinion(opinion_id).answers == ["Lamps ordered"]
