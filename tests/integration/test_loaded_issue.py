"""Commands given an issue the caller has just loaded (as the HTTP API does for its reach check)
act on it once, and fall back to the store whenever it is not the latest state."""

from __future__ import annotations

from typing import Any

import pytest

from domain.clock import FakeClock
from domain.workflow import Workflow, WouldPauseError
from tests.builders import replay
from tests.conftest import StoreFactory
from tests.integration.races import CLERK, assigned_issue, of_kind


def progress_notes(workflow: Workflow, number: str) -> list[str]:
    return [e.note for e in of_kind(workflow.history(number), "ProgressReported")]


def test_acts_on_the_given_issue_and_saves_the_next_version(workflow: Workflow, clock: FakeClock) -> None:
    # Given an assigned issue, loaded by the caller
    number = assigned_issue(workflow, clock)
    loaded = workflow.get_issue(number)
    # When progress is reported on the loaded issue
    result = workflow.report_progress(CLERK, loaded, note="poles ordered")
    # Then the next version is saved, and the issue reads as if it had been named by number
    assert result.version == loaded.version
    assert result.number == number
    assert progress_notes(workflow, number) == ["poles ordered"]


def test_a_stale_issue_loses_no_update_written_meanwhile(
    make_workflow: StoreFactory, clock: FakeClock
) -> None:
    # Given an issue loaded by one process while another reports progress on it
    first, second = make_workflow(), make_workflow()
    number = assigned_issue(first, clock)
    stale = first.get_issue(number)
    second.report_progress(CLERK, number, note="trench dug")
    # When the first reports progress on what it loaded
    result = first.report_progress(CLERK, stale, note="cable laid")
    # Then the version check sends it back to the store: both reports are kept, in order
    assert progress_notes(first, number) == ["trench dug", "cable laid"]
    assert result.version == first.get_issue(number).version


def test_ignores_changes_the_caller_made_and_did_not_save(workflow: Workflow, clock: FakeClock) -> None:
    # Given a loaded issue the caller changed without saving
    number = assigned_issue(workflow, clock)
    changed = workflow.get_issue(number)
    changed.report_progress(note="never meant to be saved", actor=CLERK.name)
    # When a command is given that issue
    workflow.report_progress(CLERK, changed, note="lamps installed")
    # Then it acts on the stored state: the unsaved change is not written
    assert progress_notes(workflow, number) == ["lamps installed"]


def test_a_repeat_by_loaded_issue_is_the_same_request_as_by_number(
    workflow: Workflow, clock: FakeClock
) -> None:
    # Given progress reported by number with an idempotency key
    number = assigned_issue(workflow, clock)
    first = workflow.report_progress(CLERK, number, note="poles ordered", key="k-1")
    # When the same request comes again on the loaded issue
    again = workflow.report_progress(CLERK, workflow.get_issue(number), note="poles ordered", key="k-1")
    # Then it is recognised as a repeat and writes nothing
    assert (again.changed, again.version) == (False, first.version)
    assert progress_notes(workflow, number) == ["poles ordered"]


def test_a_cached_item_reads_what_another_process_wrote_since(
    make_workflow: StoreFactory, clock: FakeClock
) -> None:
    # Given an item one process has loaded, and so keeps in its cache
    first, second = make_workflow(), make_workflow()
    number = assigned_issue(first, clock)
    first.get_issue(number)
    # When another process reports progress on it twice
    second.report_progress(CLERK, number, note="trench dug")
    second.report_progress(CLERK, number, note="cable laid")
    # Then the first reads both reports, in the same state as a process with no cache
    cached = first.get_issue(number)
    cold = make_workflow(issue_cache=0).get_issue(number)
    assert cached.last_progress == "cable laid"
    assert vars(cached) == vars(cold)


def test_a_change_to_a_loaded_item_never_reaches_the_cache(workflow: Workflow, clock: FakeClock) -> None:
    # Given an item loaded (and so cached), then changed by the caller without saving
    number = assigned_issue(workflow, clock)
    loaded = workflow.get_issue(number)
    loaded.report_progress(note="never meant to be saved", actor=CLERK.name)
    # When the item is loaded again
    again = workflow.get_issue(number)
    # Then it is the stored state: each load is a copy of what the cache holds
    assert again.version == loaded.version - 1
    assert again.last_progress is None


def test_a_conflict_without_pauses_raises_and_writes_nothing(
    make_workflow: StoreFactory, clock: FakeClock
) -> None:
    # Given an item loaded by one process while another reports progress on it
    first, second = make_workflow(), make_workflow()
    number = assigned_issue(first, clock)
    stale = first.get_issue(number)
    second.report_progress(CLERK, number, note="trench dug")
    # When the first reports progress on what it loaded, in a block that must not pause
    with first.without_pauses(), pytest.raises(WouldPauseError):
        first.report_progress(CLERK, stale, note="cable laid")
    # Then nothing of it was written, and outside the block the same command succeeds
    assert progress_notes(first, number) == ["trench dug"]
    first.report_progress(CLERK, stale, note="cable laid")
    assert progress_notes(first, number) == ["trench dug", "cable laid"]


def snapshot_and_replay(workflow: Workflow, number: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """The item's latest snapshot: its version, its state, and the state its events replay to there."""
    issue_id = workflow.issue_id(number)
    assert workflow.snapshots is not None
    (snapshot,) = workflow.snapshots.get(issue_id, desc=True, limit=1)
    replayed = replay(workflow.events.get(issue_id, lte=snapshot.originator_version))
    return snapshot.originator_version, vars(snapshot.mutate(None)), vars(replayed)


def test_the_snapshot_at_an_items_50th_event_is_the_state_its_events_replay_to(
    workflow: Workflow, clock: FakeClock
) -> None:
    # Given an assigned item (two events)
    number = assigned_issue(workflow, clock)
    # When 48 progress reports bring it to its 50th event, where it is snapshotted from the state in hand
    for n in range(48):
        workflow.report_progress(CLERK, number, note=f"report {n}")
    # Then the snapshot is the state the 50 events replay to
    version, snapshotted, replayed = snapshot_and_replay(workflow, number)
    assert version == 50
    assert snapshotted == replayed


def test_a_write_that_passes_the_50th_event_snapshots_the_50th_as_replayed(
    workflow: Workflow, clock: FakeClock
) -> None:
    # Given an assigned item at its 49th event, and two voices to merge
    number = assigned_issue(workflow, clock)
    for n in range(47):
        workflow.report_progress(CLERK, number, note=f"report {n}")
    voices = [
        workflow.record_opinion(
            CLERK, kind="opinion", area="livelihood", channel="household_visit", unit="grid 1", text=text
        ).id
        for text in ("The lamp is out again.", "Still dark at night.")
    ]
    # When one write links both (events 50 and 51)
    workflow.merge_opinions(CLERK, number, voices)
    # Then the snapshot is taken at the 50th, as its events replay to it (not the 51st in hand)
    version, snapshotted, replayed = snapshot_and_replay(workflow, number)
    assert version == 50
    assert snapshotted == replayed
    assert workflow.get_issue(number).version == 51
