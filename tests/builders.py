"""Builders for tests: aggregates in a given stage, every event stamped with a known moment.

Nothing here touches a store. Built aggregates keep their events pending, so a test may
inspect them or save them; `refused` checks that a refused command wrote nothing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, StoredEvent, UUIDAsHex

from domain.base import CaselineAggregate
from domain.clock import event_time
from domain.issue import Issue, ServiceLevels
from domain.meeting import Meeting
from domain.opinion import Opinion

T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
DEADLINE = datetime(2026, 4, 30, 18, 0, tzinfo=UTC)
REVISIT = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
NUMBER = "2026-0001"
TITLE = "Street lights for the back lanes of grid 4"
LEADER = "Zhang"
DEPARTMENT = "Public works office"
OFFICER = "Wang"
LEVELS = ServiceLevels()

STAGES = ("opened", "registered", "assigned", "in_progress", "resolved", "closed")

E = TypeVar("E", bound=BaseException)


def open_issue(
    *,
    at: datetime = T0,
    number: str = NUMBER,
    title: str = TITLE,
    area: str = "security",
    level: str = "village",
    horizon: str = "near",
    unit: str | None = "grid 4",
    description: str | None = None,
    opinion_ids: Sequence[UUID] = (),
    meeting_id: UUID | None = None,
) -> Issue:
    """A freshly opened issue."""
    with event_time(at):
        return Issue.open(
            id=uuid4(), number=number, title=title, area=area, level=level, horizon=horizon,
            unit=unit, description=description, opinion_ids=list(opinion_ids), actor=OFFICER,
            meeting_id=meeting_id,
        )  # fmt: skip


def assign(issue: Issue, *, at: datetime = T0, leader: str = LEADER, deadline: datetime = DEADLINE) -> Issue:
    """Give `issue` its leader, with one goal, one measure and `deadline`."""
    with event_time(at):
        issue.assign_leader(
            leader=leader, department=DEPARTMENT, goals=["lights working and inspected"],
            measures=["move the cable"], deadline=deadline, now=at, actor=OFFICER, meeting_id=None,
        )  # fmt: skip
    return issue


def resolve(issue: Issue, *, at: datetime = T0, summary: str = "Lights installed.") -> Issue:
    """Report `issue` resolved."""
    with event_time(at):
        issue.report_resolution(summary=summary, actor=LEADER)
    return issue


def evaluate(
    issue: Issue,
    *,
    at: datetime = T0,
    satisfied: int = 0,
    basically: int = 0,
    dissatisfied: int = 0,
) -> Issue:
    """Record that many verdicts on a resolved `issue`, one per numbered representative."""
    verdicts = ["satisfied"] * satisfied + ["basically_satisfied"] * basically
    verdicts += ["dissatisfied"] * dissatisfied
    with event_time(at):
        for n, verdict in enumerate(verdicts, start=1):
            issue.record_evaluation(
                evaluator=f"representative {n}", verdict=verdict, comment=None, actor=OFFICER,
                meeting_id=None,
            )  # fmt: skip
    return issue


def issue_in(stage: str, *, at: datetime = T0, **opened: Any) -> Issue:
    """An issue brought to `stage` (one of STAGES) by the ordinary commands, all at `at`."""
    if stage not in STAGES:
        raise ValueError(f"no such stage {stage!r}; choose from {', '.join(STAGES)}")
    issue = open_issue(at=at, **opened)
    if stage == "opened":
        return issue
    if stage == "registered":
        with event_time(at):
            issue.register_and_explain(
                explanation="Not solvable at this level now.", revisit_at=REVISIT, now=at,
                actor=OFFICER, meeting_id=None,
            )  # fmt: skip
        return issue
    deadline = DEADLINE if at < DEADLINE else at + timedelta(days=30)
    assign(issue, at=at, deadline=deadline)
    if stage == "assigned":
        return issue
    with event_time(at):
        issue.report_progress(note="Cable moved.", actor=LEADER)
    if stage == "in_progress":
        return issue
    resolve(issue, at=at)
    if stage == "resolved":
        return issue
    evaluate(issue, at=at, satisfied=1)
    with event_time(at):
        issue.conclude_evaluation(
            threshold=0.95, new_deadline=None, levels=LEVELS, now=at, actor=OFFICER, meeting_id=None
        )
    return issue


def record_opinion(*, at: datetime = T0, **overrides: Any) -> Opinion:
    """A recorded opinion; any argument of `Opinion.record` may be overridden."""
    args: dict[str, Any] = {
        "id": uuid4(), "kind": "difficulty", "area": "security", "channel": "household_visit",
        "unit": "grid 4", "text_": "The lane behind building 7 has no street light.",
        "recorder": OFFICER, "actor": OFFICER,
    }  # fmt: skip
    args.update(overrides)
    with event_time(at):
        return Opinion.record(**args)


def hold_meeting(*, at: datetime = T0, **overrides: Any) -> Meeting:
    """A held meeting; any argument of `Meeting.hold` may be overridden."""
    args: dict[str, Any] = {
        "id": uuid4(), "kind": "assignment", "unit": "village 3", "held_at": at,
        "attendees": ["Zhang", "Li"], "title": "Assignment meeting", "actor": OFFICER,
    }  # fmt: skip
    args.update(overrides)
    with event_time(at):
        return Meeting.hold(**args)


def state_of(aggregate: CaselineAggregate) -> dict[str, Any]:
    """A deep copy of the aggregate's state, without its pending events."""
    return copy.deepcopy({k: v for k, v in vars(aggregate).items() if k != "_pending_events"})


def replay(events: Iterable[CaselineAggregate.Event]) -> Any:
    """The aggregate the events describe, rebuilt without running any rule."""
    aggregate: Any = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def stored_before(domain_event: CaselineAggregate.Event, *missing: str) -> Any:
    """`domain_event` as a store written before its `missing` fields existed gives it back."""
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    mapper: Mapper[UUID] = Mapper(transcoder=transcoder)
    stored = mapper.to_stored_event(domain_event)
    state = json.loads(stored.state)
    for name in missing:
        del state[name]
    older = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state).encode(),
    )
    return mapper.to_domain_event(older)


def new_events(aggregate: CaselineAggregate, before: int) -> list[Any]:
    """The events recorded since the aggregate had `before` pending events."""
    return list(aggregate.pending_events[before:])


@contextmanager
def refused(aggregate: CaselineAggregate, error: type[E]) -> Iterator[pytest.ExceptionInfo[E]]:
    """Expect `error` from the block, and that the aggregate recorded nothing and did not change."""
    pending = list(aggregate.pending_events)
    before = state_of(aggregate)
    with pytest.raises(error) as caught:
        yield caught
    assert aggregate.pending_events == pending, "a refused command recorded an event"
    assert state_of(aggregate) == before, "a refused command changed the aggregate"
