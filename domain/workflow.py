"""The application service: the only writer of Caseline's event log.

One method per command. Each command runs against freshly loaded aggregates, inside the
moment read once from the injected clock; all the aggregates it touched are saved in one
atomic write. A concurrent writer shows itself as a record conflict on (aggregate id,
version): the command is re-run on reloaded state a bounded number of times, then
`ConflictError` is raised.

Idempotency: a client key becomes a deterministic receipt id (uuid5). The receipt is saved
atomically with the command's events and holds the first answer, so a repeat writes
nothing and answers as the first did, even when two processes race with the same key.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import event
from eventsourcing.persistence import RecordConflictError

from domain.access import Account
from domain.base import CaselineAggregate
from domain.clock import Clock, event_time
from domain.contacts import Contact, ContactStore
from domain.duty import Duty
from domain.errors import (
    CaselineError,
    ConflictError,
    IdempotencyKeyReusedError,
    InvalidInputError,
    IssueNotFoundError,
    MeetingNotFoundError,
    NotFoundError,
    OpinionNotFoundError,
    utc_text,
)
from domain.issue import Issue, ServiceLevels
from domain.meeting import Meeting
from domain.opinion import Opinion
from domain.rules import MAX_LIST, Actor, Role, text

NAMESPACE = UUID("6f1c2a52-8f0e-4d7e-9c61-2b0c3a7d5e10")
NUMBER_PATTERN = re.compile(r"^(\d{4})-(\d{4,6})$")
MAX_KEY = 200

A = TypeVar("A", bound=CaselineAggregate)
# An issue named by id, by number (2026-0041), or handed over as just loaded (the HTTP API loads
# it to check the caller's reach): a command acts first on a given issue that has no pending
# events, and on reloaded state after a conflict. A stale one costs a retry, never a lost update,
# since saving checks the version.
IssueRef = UUID | str | Issue
# An opinion named by id, or handed over as just loaded (the HTTP API loads it to check the
# caller's reach), taken the same way.
OpinionRef = UUID | Opinion
NUMBERS_KEPT = 100_000  # issue numbers resolved and remembered (an alias never changes)


class Receipt(CaselineAggregate):
    """The first answer to an idempotent command, kept so a repeat can give it again."""

    TOPIC = "caseline:Receipt"

    class Created(CaselineAggregate.Created):
        TOPIC = "caseline:Receipt.Created"

    @event("Issued", topic="caseline:Receipt.Issued")
    def __init__(self, *, id: UUID, command: str, fingerprint: str, answer: dict[str, Any]) -> None:
        self.command = command
        self.fingerprint = fingerprint
        self.answer = answer


class IssueCounter(CaselineAggregate):
    """Hands out the short human numbers of one year's issues, one at a time."""

    TOPIC = "caseline:IssueCounter"

    class Created(CaselineAggregate.Created):
        TOPIC = "caseline:IssueCounter.Created"

    @event("Started", topic="caseline:IssueCounter.Started")
    def __init__(self, *, id: UUID, year: int) -> None:
        self.year = year
        self.last = 0

    def take(self) -> str:
        """The next number, such as 2026-0041."""
        self._taken(number=self.last + 1)
        return f"{self.year}-{self.last:04d}"

    @event("NumberTaken", topic="caseline:IssueCounter.NumberTaken")
    def _taken(self, number: int) -> None:
        self.last = number


class IssueNumber(CaselineAggregate):
    """Points a human issue number at the issue's id."""

    TOPIC = "caseline:IssueNumber"

    class Created(CaselineAggregate.Created):
        TOPIC = "caseline:IssueNumber.Created"

    @event("Allocated", topic="caseline:IssueNumber.Allocated")
    def __init__(self, *, id: UUID, issue_id: UUID) -> None:
        self.issue_id = issue_id


def fast_projector(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply events in order: the library's `project_aggregate` minus its per-event Protocol check."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


@dataclass(frozen=True)
class Result:
    """What a command answers: the aggregate it acted on, its new version and the log position."""

    id: UUID
    version: int
    position: int | None
    number: str | None = None
    changed: bool = True
    detail: dict[str, Any] = field(default_factory=dict)

    def answer(self) -> dict[str, Any]:
        """The part a receipt keeps for repeats."""
        return {
            "id": str(self.id),
            "version": self.version,
            "number": self.number,
            "detail": self.detail,
        }


@dataclass
class Outcome:
    """What a command body produced: the aggregates to save and the one it is about."""

    subject: CaselineAggregate
    touched: list[CaselineAggregate]
    number: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class MisconfiguredError(RuntimeError):
    """Raised at start-up when no persistent event store is configured."""


class WouldPauseError(RuntimeError):
    """Raised inside `Workflow.without_pauses()` when a command met a conflicting write and would
    pause before retrying; nothing of the command was written, so it can be run again as a whole."""


# Set by `Workflow.without_pauses()` for the commands run in this context.
_WITHOUT_PAUSES: ContextVar[bool] = ContextVar("caseline_without_pauses", default=False)


class Workflow(Application[UUID]):
    """The Caseline application service: one method per command, plus state and history queries."""

    name = "caseline"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Issue: 50, IssueCounter: 100}
    snapshotting_projectors: ClassVar[dict[type[Any], Any]] = {
        Issue: fast_projector,
        IssueCounter: fast_projector,
    }

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        clock: Clock,
        contacts: ContactStore,
        levels: ServiceLevels | None = None,
        satisfaction_target: float = 0.95,
        retries: int = 16,
    ) -> None:
        module = env.get("PERSISTENCE_MODULE", "")
        # A persistence module by name, or a factory class by topic (module:Class), such as the
        # SQLite factory the composition root configures; never the library's silent default.
        if module not in ("eventsourcing.sqlite", "eventsourcing.postgres", "eventsourcing.popo") and (
            ":" not in module
        ):
            raise MisconfiguredError(
                "PERSISTENCE_MODULE must name eventsourcing.sqlite or eventsourcing.postgres; "
                "Caseline never falls back to an in-memory store"
            )
        super().__init__(env=dict(env))
        self.clock = clock
        self.contacts = contacts
        self.levels = levels or ServiceLevels()
        self.satisfaction_target = satisfaction_target
        self.retries = retries
        self._issue_ids: dict[str, UUID] = {}

    def close(self) -> None:
        """Release the event store's and the contact store's connections."""
        super().close()
        self.contacts.close()

    # -- the command runner -------------------------------------------------------------

    @contextmanager
    def without_pauses(self) -> Iterator[None]:
        """Commands run in this block never sleep: one that meets a conflicting write raises
        `WouldPauseError` instead of pausing and retrying (for a caller whose thread must not
        sleep, such as an event loop, which then runs the command again where it may)."""
        token = _WITHOUT_PAUSES.set(True)
        try:
            yield
        finally:
            _WITHOUT_PAUSES.reset(token)

    def _execute(
        self,
        command: str,
        key: str | None,
        args: Mapping[str, Any],
        body: Callable[[datetime], Outcome | None],
        *,
        actor: Actor | None,
        what: str | None = None,
    ) -> Result:
        receipt_id, fingerprint = self._receipt_for(command, key, args, actor)
        for attempt in range(self.retries):
            if receipt_id is not None:
                prior = self._prior_answer(receipt_id, fingerprint)
                if prior is not None:
                    return prior
            now = self.clock.now()
            with event_time(now):
                outcome = body(now)
                if outcome is None:
                    raise AssertionError("command bodies return an outcome")  # pragma: no cover
                pending = [a for a in outcome.touched if a.pending_events]
                subject = outcome.subject
                result = Result(
                    id=subject.id,
                    version=subject.version,
                    position=None,
                    number=outcome.number,
                    changed=bool(pending),
                    detail=outcome.detail,
                )
                if pending and receipt_id is not None:
                    pending.append(
                        Receipt(
                            id=receipt_id,
                            command=command,
                            fingerprint=fingerprint,
                            answer=result.answer(),
                        )
                    )
            if not pending:
                return result
            try:
                recordings = self.save(*pending)
            except RecordConflictError:
                if _WITHOUT_PAUSES.get():
                    raise WouldPauseError(command) from None
                # Someone else wrote first: reload and decide again after a jittered, growing pause
                # (capped at 25 ms), which breaks the symmetry of writers that keep colliding.
                time.sleep(random.uniform(0, min(0.025, 0.0005 * 2**attempt)))
                continue
            position = max(r.notification.id for r in recordings)
            return Result(
                id=result.id,
                version=result.version,
                position=position,
                number=result.number,
                changed=True,
                detail=result.detail,
            )
        raise ConflictError(what or command.replace("_", " ").capitalize())

    def _receipt_for(
        self, command: str, key: str | None, args: Mapping[str, Any], actor: Actor | None
    ) -> tuple[UUID | None, str]:
        """A key is scoped to its actor and command; the fingerprint tells a repeat from a reuse."""
        if key is None:
            return None, ""
        digest = hashlib.sha256(
            json.dumps({"command": command, **args}, sort_keys=True, default=str).encode()
        ).hexdigest()
        key = text(key, field="idempotency key", limit=MAX_KEY)
        scope = actor.name if actor is not None else "-"
        return uuid5(NAMESPACE, f"receipt/{scope}/{command}/{key}"), digest

    def _prior_answer(self, receipt_id: UUID, fingerprint: str) -> Result | None:
        receipt = self._replay(receipt_id)
        if receipt is None:
            return None
        assert isinstance(receipt, Receipt)
        if receipt.fingerprint != fingerprint:
            raise IdempotencyKeyReusedError
        answer = receipt.answer
        return Result(
            id=UUID(answer["id"]),
            version=answer["version"],
            position=self.recorder.max_notification_id(),
            number=answer["number"],
            changed=False,
            detail=answer["detail"],
        )

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot an aggregate just saved at its interval from the state in hand, which is the
        state its events replay to (the state-machine tests hold them equal), instead of reading
        it back from the store as the library does: that read replayed up to 50 events, and made
        every 50th command on an item several times as costly. An aggregate saved past its
        interval in one write is read back at the interval, as the library does."""
        if self.snapshots is None:
            return
        for saved in processing_event.events:
            aggregate = processing_event.aggregates.get(saved.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if aggregate is None or interval is None or saved.originator_version % interval:
                continue
            if aggregate.version == saved.originator_version:
                snapshot_class = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
                assert snapshot_class is not None, "the library's default snapshot class is kept"
                self.snapshots.put([snapshot_class.take(aggregate)])
            else:
                self.take_snapshot(
                    saved.originator_id,
                    version=saved.originator_version,
                    projector_func=self.snapshotting_projectors[type(aggregate)],
                )

    # -- loading ------------------------------------------------------------------------

    def _load(self, aggregate_id: UUID, cls: type[A], missing: CaselineError) -> A:
        if cls in self.snapshotting_intervals:
            try:
                aggregate = self.repository.get(aggregate_id, projector_func=fast_projector)
            except AggregateNotFoundError:
                raise missing from None
        else:
            aggregate = self._replay(aggregate_id)
        if not isinstance(aggregate, cls):
            raise missing
        return aggregate

    def _replay(self, aggregate_id: UUID) -> Any:
        """An aggregate that is never snapshotted (receipts, accounts, aliases, opinions…), from its
        events alone, without asking the snapshot table first: one query instead of two."""
        return fast_projector(None, self.events.get(aggregate_id))

    def issue_id(self, ref: UUID | str) -> UUID:
        """Resolve an issue's id from its id or its human number (e.g. 2026-0041)."""
        if isinstance(ref, UUID):
            return ref
        ref = ref.strip()
        if NUMBER_PATTERN.match(ref):
            # An alias is saved once, with its issue, and never changes: remember what it says.
            known = self._issue_ids.get(ref)
            if known is None:
                alias = self._load(
                    uuid5(NAMESPACE, f"issue-number/{ref}"),
                    IssueNumber,
                    IssueNotFoundError(ref),
                )
                if len(self._issue_ids) >= NUMBERS_KEPT:
                    self._issue_ids.clear()
                known = self._issue_ids[ref] = alias.issue_id
            return known
        try:
            return UUID(ref)
        except ValueError:
            raise IssueNotFoundError(ref[:40]) from None

    def get_issue(self, ref: UUID | str) -> Issue:
        """The issue as it stands now."""
        return self._load(self.issue_id(ref), Issue, IssueNotFoundError(ref))

    def get_opinion(self, opinion_id: UUID) -> Opinion:
        """The opinion as it stands now."""
        return self._load(opinion_id, Opinion, OpinionNotFoundError(opinion_id))

    def get_meeting(self, meeting_id: UUID) -> Meeting:
        """The meeting and its decisions."""
        return self._load(meeting_id, Meeting, MeetingNotFoundError(meeting_id))

    def _meeting_id(self, meeting_id: UUID | None) -> UUID | None:
        if meeting_id is not None:
            self.get_meeting(meeting_id)
        return meeting_id

    def issue_at(
        self,
        ref: UUID | str,
        *,
        version: int | None = None,
        at: datetime | None = None,
        history: Sequence[CaselineAggregate.Event] | None = None,
    ) -> Issue:
        """The issue as it stood at a version, or at a moment (the last event not after it).

        Given `history`, its events as `history(ref)` returned them, the state is folded from those
        instead of read again: a caller showing the history and several moments reads it once."""
        issue_id = self.issue_id(ref)
        if version is not None and at is not None:
            raise InvalidInputError("as of", "give a version or a moment, not both")
        if version is not None and version < 1:
            raise InvalidInputError("version", "must be 1 or more")
        if at is not None and at.tzinfo is None:
            raise InvalidInputError("at", "must carry a time zone")
        if history is None and at is None:
            # Now, or at a version: from the store, by way of the latest snapshot not after it.
            if version is None:
                return self.get_issue(issue_id)
            try:
                issue = self.repository.get(issue_id, version=version, projector_func=fast_projector)
            except AggregateNotFoundError:
                raise IssueNotFoundError(ref) from None
        else:
            # At a moment, or from the history given: the events up to it, folded.
            events = self._events_of(issue_id) if history is None else history
            if events and events[0].originator_id != issue_id:
                raise ValueError(f"the history given is not that of issue {ref}")
            if version is not None:
                events = [e for e in events if e.originator_version <= version]
            elif at is not None:
                events = [e for e in events if e.timestamp <= at]
                if not events:
                    raise IssueNotFoundError(f"{ref} as of {utc_text(at)}")
            issue = fast_projector(None, events)
        if not isinstance(issue, Issue):
            raise IssueNotFoundError(ref)
        if version is not None and issue.version < version:
            raise InvalidInputError("version", f"issue {issue.number} has only {issue.version} versions")
        return issue

    def replay(
        self, ref: UUID | str, *, version: int | None = None, at: datetime | None = None
    ) -> tuple[Issue, list[CaselineAggregate.Event]]:
        """The issue as of a version or a moment (`issue_at`, with its refusals) and its events up
        to then, from one read of its stream."""
        events = self._events_of(self.issue_id(ref))
        state = self.issue_at(ref, version=version, at=at, history=events)
        return state, [e for e in events if e.originator_version <= state.version]

    def _events_of(self, aggregate_id: UUID) -> list[CaselineAggregate.Event]:
        return cast("list[CaselineAggregate.Event]", list(self.events.get(aggregate_id)))

    def history(self, ref: UUID | str) -> list[CaselineAggregate.Event]:
        """Every event of the issue, oldest first (one read of its stream)."""
        events = self._events_of(self.issue_id(ref))
        if not isinstance(fast_projector(None, events[:1]), Issue):
            raise IssueNotFoundError(ref)
        return events

    def contact(self, opinion_id: UUID) -> Contact | None:
        """The reporter's contact details, for roles that may see them."""
        opinion = self.get_opinion(opinion_id)
        return self.contacts.get(opinion.contact_ref) if opinion.contact_ref else None

    # -- opinions -----------------------------------------------------------------------

    def record_opinion(
        self,
        actor: Actor,
        *,
        kind: str,
        area: str,
        channel: str,
        unit: str,
        text: str,
        recorder: str | None = None,
        place: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        contact: Contact | None = None,
        key: str | None = None,
    ) -> Result:
        """Record one voice; the contact details go to the contact store, never into an event."""
        args = {
            "kind": kind, "area": area, "channel": channel, "unit": unit, "text": text,
            "recorder": recorder, "place": place, "latitude": latitude, "longitude": longitude,
            # Contact details stay out of the fingerprint: receipts live in the log, which must
            # not be able to confirm a guessed phone number once the contact is erased.
            "contact": contact is not None,
        }  # fmt: skip
        opinion_id = uuid5(NAMESPACE, f"opinion/{actor.name}/{key}") if key else uuid4()

        def body(now: datetime) -> Outcome:
            contact_ref = uuid5(opinion_id, "contact") if contact is not None else None
            opinion = Opinion.record(
                id=opinion_id,
                kind=kind,
                area=area,
                channel=channel,
                unit=unit,
                text_=text,
                recorder=recorder or actor.name,
                place=place,
                latitude=latitude,
                longitude=longitude,
                contact_ref=contact_ref,
                actor=actor.name,
            )
            if contact is not None and contact_ref is not None:
                # Before the event: a crash between the two leaves an unreferenced row, never
                # an opinion whose reporter cannot be reached.
                self.contacts.put(contact_ref, contact)
            return Outcome(opinion, [opinion])

        return self._execute("record_opinion", key, args, body, actor=actor)

    def route_opinion(
        self,
        actor: Actor,
        opinion_id: UUID,
        *,
        route: str,
        reason: str,
        meeting_id: UUID | None = None,
        key: str | None = None,
    ) -> Result:
        """Decide how a voice is handled: fix at once, coordinate, or register and explain."""

        def body(now: datetime) -> Outcome:
            opinion = self.get_opinion(opinion_id)
            opinion.route_to(route, reason, actor=actor.name, meeting_id=self._meeting_id(meeting_id))
            return Outcome(opinion, [opinion])

        args = {
            "opinion": opinion_id,
            "route": route,
            "reason": reason,
            "meeting": meeting_id,
        }
        return self._execute("route_opinion", key, args, body, actor=actor)

    def answer_opinion(
        self,
        actor: Actor,
        ref: OpinionRef,
        *,
        feedback: str,
        by: str | None = None,
        key: str | None = None,
    ) -> Result:
        """Record the feedback a reporter received."""
        if isinstance(ref, Opinion):
            opinion_id, load = ref.id, self._given_once(ref, lambda: self.get_opinion(ref.id))
        else:
            opinion_id, load = ref, lambda: self.get_opinion(ref)

        def body(now: datetime) -> Outcome:
            opinion = load()
            opinion.answer(feedback, by=by or actor.name, actor=actor.name)
            return Outcome(opinion, [opinion])

        args = {"opinion": opinion_id, "feedback": feedback, "by": by}
        return self._execute("answer_opinion", key, args, body, actor=actor)

    def erase_contact(self, actor: Actor, opinion_id: UUID) -> bool:
        """Erase a reporter's contact details on request; the log keeps only the opaque reference."""
        opinion = self.get_opinion(opinion_id)
        return self.contacts.erase(opinion.contact_ref) if opinion.contact_ref else False

    # -- issues -------------------------------------------------------------------------

    def _opinions(self, opinion_ids: Sequence[UUID]) -> list[Opinion]:
        if len(opinion_ids) > MAX_LIST:
            raise InvalidInputError("opinions", f"at most {MAX_LIST} at a time")
        return [self.get_opinion(oid) for oid in dict.fromkeys(opinion_ids)]

    def open_issue(
        self,
        actor: Actor,
        *,
        title: str,
        area: str,
        level: str,
        horizon: str,
        description: str | None = None,
        opinion_ids: Sequence[UUID] = (),
        unit: str | None = None,
        meeting_id: UUID | None = None,
        key: str | None = None,
    ) -> Result:
        """Open a rectification item, merging the given opinions into it; numbers it (2026-0041).

        The item's unit defaults to the unit of its first opinion.
        """
        issue_id = uuid5(NAMESPACE, f"issue/{actor.name}/{key}") if key else uuid4()

        def body(now: datetime) -> Outcome:
            meeting = self._meeting_id(meeting_id)
            opinions = self._opinions(opinion_ids)
            counter_id = uuid5(NAMESPACE, f"issue-counter/{now.year}")
            try:
                counter = self._load(counter_id, IssueCounter, NotFoundError("counter"))
            except NotFoundError:
                counter = IssueCounter(id=counter_id, year=now.year)
            number = counter.take()
            issue = Issue.open(
                id=issue_id,
                number=number,
                title=title,
                area=area,
                level=level,
                horizon=horizon,
                description=description,
                unit=unit or (opinions[0].unit if opinions else None),
                opinion_ids=[o.id for o in opinions],
                actor=actor.name,
                meeting_id=meeting,
            )
            for opinion in opinions:
                opinion.merge_into(issue.id, number, actor=actor.name, meeting_id=meeting)
            alias = IssueNumber(id=uuid5(NAMESPACE, f"issue-number/{number}"), issue_id=issue.id)
            return Outcome(issue, [issue, counter, alias, *opinions], number=number)

        args = {
            "title": title, "area": area, "level": level, "horizon": horizon,
            "description": description, "opinions": list(opinion_ids), "meeting": meeting_id, "unit": unit,
        }  # fmt: skip
        return self._execute("open_issue", key, args, body, actor=actor)

    def _on_issue(
        self,
        command: str,
        ref: IssueRef,
        key: str | None,
        args: Mapping[str, Any],
        act: Callable[[Issue, datetime], dict[str, Any] | None],
        *,
        actor: Actor | None,
    ) -> Result:
        """Run a command that loads one issue, acts on it and saves it."""
        issue_id, load = self._issue_loader(ref)

        def body(now: datetime) -> Outcome:
            issue = load()
            detail = act(issue, now) or {}
            return Outcome(issue, [issue], number=issue.number, detail=detail)

        args = {"issue": str(issue_id), **args}
        named = ref.number if isinstance(ref, Issue) else str(ref)
        return self._execute(command, key, args, body, actor=actor, what=f"Issue {named[:40]}")

    def _issue_loader(self, ref: IssueRef) -> tuple[UUID, Callable[[], Issue]]:
        """The issue's id, and what each attempt acts on: a given issue once, then fresh state.

        A number is resolved once, not on every retry; the fingerprint then names the item
        itself, so a repeat sent by number, by id or as a loaded issue is the same request."""
        if not isinstance(ref, Issue):
            issue_id = self.issue_id(ref)
            return issue_id, lambda: self.get_issue(issue_id)
        return ref.id, self._given_once(ref, lambda: self.get_issue(ref.id))

    @staticmethod
    def _given_once(given: A, load: Callable[[], A]) -> Callable[[], A]:
        """What each attempt of a command acts on: the aggregate given, once (unless it holds
        changes not saved), then what `load` reads from the store."""
        kept = [] if given.pending_events else [given]
        return lambda: kept.pop() if kept else load()

    def merge_opinions(
        self,
        actor: Actor,
        ref: IssueRef,
        opinion_ids: Sequence[UUID],
        *,
        meeting_id: UUID | None = None,
        key: str | None = None,
    ) -> Result:
        """Merge more voices into an existing item."""
        if not opinion_ids:
            raise InvalidInputError("opinions", "name at least one opinion")

        issue_id, load = self._issue_loader(ref)

        def body(now: datetime) -> Outcome:
            meeting = self._meeting_id(meeting_id)
            issue = load()
            opinions = self._opinions(opinion_ids)
            for opinion in opinions:
                issue.link_opinion(opinion.id, actor=actor.name, meeting_id=meeting)
                opinion.merge_into(issue.id, issue.number, actor=actor.name, meeting_id=meeting)
            return Outcome(issue, [issue, *opinions], number=issue.number)

        args = {"issue": str(issue_id), "opinions": list(opinion_ids), "meeting": meeting_id}
        return self._execute("merge_opinions", key, args, body, actor=actor)

    def assign_leader(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        leader: str,
        department: str,
        goals: list[str],
        measures: list[str],
        deadline: datetime,
        meeting_id: UUID | None = None,
        key: str | None = None,
    ) -> Result:
        """Give an item its one accountable leader, department, goals, measures and deadline."""

        def act(issue: Issue, now: datetime) -> None:
            issue.assign_leader(
                leader=leader, department=department, goals=goals, measures=measures,
                deadline=deadline, now=now, actor=actor.name, meeting_id=self._meeting_id(meeting_id),
            )  # fmt: skip

        args = {
            "leader": leader, "department": department, "goals": goals, "measures": measures,
            "deadline": deadline, "meeting": meeting_id,
        }  # fmt: skip
        return self._on_issue("assign_leader", ref, key, args, act, actor=actor)

    def hand_over(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        to: str,
        reason: str,
        meeting_id: UUID | None = None,
        key: str | None = None,
    ) -> Result:
        """Hand accountability to a named successor."""

        def act(issue: Issue, now: datetime) -> None:
            issue.hand_over(
                to=to,
                reason=reason,
                actor=actor.name,
                meeting_id=self._meeting_id(meeting_id),
            )

        args = {"to": to, "reason": reason, "meeting": meeting_id}
        return self._on_issue("hand_over", ref, key, args, act, actor=actor)

    def extend_deadline(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        deadline: datetime,
        reason: str,
        approver: str,
        key: str | None = None,
    ) -> Result:
        """Move the deadline later, with a reason and an approver."""

        def act(issue: Issue, now: datetime) -> None:
            issue.extend_deadline(
                deadline=deadline,
                reason=reason,
                approver=approver,
                now=now,
                actor=actor.name,
            )

        args = {"deadline": deadline, "reason": reason, "approver": approver}
        return self._on_issue("extend_deadline", ref, key, args, act, actor=actor)

    def report_progress(self, actor: Actor, ref: IssueRef, *, note: str, key: str | None = None) -> Result:
        """Record how the front-line work is going."""

        def act(issue: Issue, now: datetime) -> None:
            issue.report_progress(note=note, actor=actor.name)

        return self._on_issue("report_progress", ref, key, {"note": note}, act, actor=actor)

    def request_coordination(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        department: str,
        request: str,
        key: str | None = None,
    ) -> Result:
        """Ask another department for help; the answer's detail holds the request number."""

        def act(issue: Issue, now: datetime) -> dict[str, Any]:
            return {
                "coordination": issue.request_coordination(
                    department=department, request=request, actor=actor.name
                )
            }

        args = {"department": department, "request": request}
        return self._on_issue("request_coordination", ref, key, args, act, actor=actor)

    def answer_coordination(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        index: int,
        answer: str,
        key: str | None = None,
    ) -> Result:
        """Record another department's answer to a coordination request."""

        def act(issue: Issue, now: datetime) -> None:
            issue.answer_coordination(index=index, answer=answer, actor=actor.name)

        return self._on_issue(
            "answer_coordination", ref, key, {"index": index, "answer": answer}, act, actor=actor
        )

    def record_inspection(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        inspector: str,
        findings: str,
        confirmed: bool,
        key: str | None = None,
    ) -> Result:
        """Record a representative's inspection on the spot."""

        def act(issue: Issue, now: datetime) -> None:
            issue.record_inspection(
                inspector=inspector,
                findings=findings,
                confirmed=confirmed,
                actor=actor.name,
            )

        args = {"inspector": inspector, "findings": findings, "confirmed": confirmed}
        return self._on_issue("record_inspection", ref, key, args, act, actor=actor)

    def escalate_if_overdue(self, ref: IssueRef, *, actor: Actor | None = None) -> Result:
        """Escalate the item one level if its deadline has passed (at most once per deadline)."""
        who = actor or Actor("scheduler", role=Role.SCHEDULER)

        def act(issue: Issue, now: datetime) -> dict[str, Any]:
            return {"escalated": issue.escalate_if_overdue(now, self.levels, actor=who.name)}

        return self._on_issue("escalate_if_overdue", ref, None, {}, act, actor=actor)

    def pause_clock(self, actor: Actor, ref: IssueRef, *, reason: str, key: str | None = None) -> Result:
        """Stop the deadline clock while the item waits on someone outside."""

        def act(issue: Issue, now: datetime) -> None:
            issue.pause_clock(reason=reason, now=now, actor=actor.name)

        return self._on_issue("pause_clock", ref, key, {"reason": reason}, act, actor=actor)

    def resume_clock(self, actor: Actor, ref: IssueRef, *, key: str | None = None) -> Result:
        """Restart the clock; the deadline moves by the time it was paused."""

        def act(issue: Issue, now: datetime) -> None:
            issue.resume_clock(now=now, actor=actor.name)

        return self._on_issue("resume_clock", ref, key, {}, act, actor=actor)

    def remind_if_due(self, ref: IssueRef, *, lead: timedelta, actor: Actor | None = None) -> Result:
        """Record a reminder to the leader when the deadline is `lead` away (once per deadline and lead)."""
        who = actor or Actor("scheduler", role=Role.SCHEDULER)

        def act(issue: Issue, now: datetime) -> dict[str, Any]:
            return {"reminded": issue.remind_if_due(now, lead, actor=who.name)}

        return self._on_issue("remind_if_due", ref, None, {"lead": lead.total_seconds()}, act, actor=actor)

    def disclose(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        fields: list[str],
        where: str,
        note: str | None = None,
        key: str | None = None,
    ) -> Result:
        """Publish chosen fields of the item; the event keeps exactly what was published."""

        def act(issue: Issue, now: datetime) -> dict[str, Any]:
            return {"published": issue.disclose(fields=fields, where=where, note=note, actor=actor.name)}

        return self._on_issue(
            "disclose", ref, key, {"fields": fields, "where": where, "note": note}, act, actor=actor
        )

    def report_resolution(
        self, actor: Actor, ref: IssueRef, *, summary: str, key: str | None = None
    ) -> Result:
        """Report the problem solved; the people's evaluation decides whether it is done."""

        def act(issue: Issue, now: datetime) -> None:
            issue.report_resolution(summary=summary, actor=actor.name)

        return self._on_issue("report_resolution", ref, key, {"summary": summary}, act, actor=actor)

    def record_evaluation(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        evaluator: str,
        verdict: str,
        comment: str | None = None,
        meeting_id: UUID | None = None,
        key: str | None = None,
    ) -> Result:
        """Record one representative's verdict."""

        def act(issue: Issue, now: datetime) -> None:
            issue.record_evaluation(
                evaluator=evaluator, verdict=verdict, comment=comment, actor=actor.name,
                meeting_id=self._meeting_id(meeting_id),
            )  # fmt: skip

        args = {
            "evaluator": evaluator,
            "verdict": verdict,
            "comment": comment,
            "meeting": meeting_id,
        }
        return self._on_issue("record_evaluation", ref, key, args, act, actor=actor)

    def conclude_evaluation(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        new_deadline: datetime | None = None,
        meeting_id: UUID | None = None,
        key: str | None = None,
    ) -> Result:
        """Close the item when satisfaction meets the target, else reopen it under the same leader."""

        def act(issue: Issue, now: datetime) -> dict[str, Any]:
            outcome = issue.conclude_evaluation(
                threshold=self.satisfaction_target, new_deadline=new_deadline, levels=self.levels,
                now=now, actor=actor.name, meeting_id=self._meeting_id(meeting_id),
            )  # fmt: skip
            return {"outcome": outcome}

        args = {"new_deadline": new_deadline, "meeting": meeting_id}
        return self._on_issue("conclude_evaluation", ref, key, args, act, actor=actor)

    def close_fixed_at_once(
        self, actor: Actor, ref: IssueRef, *, note: str, key: str | None = None
    ) -> Result:
        """Close an immediate item fixed on the spot, without a meeting."""

        def act(issue: Issue, now: datetime) -> None:
            issue.close_fixed_at_once(note=note, actor=actor.name)

        return self._on_issue("close_fixed_at_once", ref, key, {"note": note}, act, actor=actor)

    def reopen(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        reason: str,
        deadline: datetime,
        key: str | None = None,
    ) -> Result:
        """A supervisor reopens a closed item under its same leader."""

        def act(issue: Issue, now: datetime) -> None:
            issue.reopen(
                reason=reason,
                deadline=deadline,
                now=now,
                actor=actor.name,
                role=actor.role.value,
            )

        return self._on_issue("reopen", ref, key, {"reason": reason, "deadline": deadline}, act, actor=actor)

    def register_and_explain(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        explanation: str,
        revisit_at: datetime,
        meeting_id: UUID | None = None,
        key: str | None = None,
    ) -> Result:
        """Keep an item that cannot be solved now on the register, explained, with a revisit date."""

        def act(issue: Issue, now: datetime) -> None:
            issue.register_and_explain(
                explanation=explanation, revisit_at=revisit_at, now=now, actor=actor.name,
                meeting_id=self._meeting_id(meeting_id),
            )  # fmt: skip

        args = {
            "explanation": explanation,
            "revisit_at": revisit_at,
            "meeting": meeting_id,
        }
        return self._on_issue("register_and_explain", ref, key, args, act, actor=actor)

    def revisit(
        self,
        actor: Actor,
        ref: IssueRef,
        *,
        meeting_id: UUID | None = None,
        key: str | None = None,
    ) -> Result:
        """Bring a registered item back for analysis."""

        def act(issue: Issue, now: datetime) -> None:
            issue.revisit(actor=actor.name, meeting_id=self._meeting_id(meeting_id))

        return self._on_issue("revisit", ref, key, {"meeting": meeting_id}, act, actor=actor)

    # -- accounts -----------------------------------------------------------------------

    @staticmethod
    def account_id(name: str) -> UUID:
        """Accounts are keyed by their sign-in name."""
        return uuid5(NAMESPACE, f"account/{name.strip()}")

    def get_account(self, name: str) -> Account:
        """The account with this sign-in name."""
        return self._load(self.account_id(name), Account, NotFoundError(f"There is no account {name[:40]}."))

    def open_account(self, actor: Actor, *, name: str, role: str, department: str | None = None) -> Result:
        """Open an account, or change the role of an existing one (both recorded)."""

        def body(now: datetime) -> Outcome:
            try:
                account = self.get_account(name)
            except NotFoundError:
                account = Account.open(
                    id=self.account_id(name),
                    name=name,
                    role=role,
                    department=department,
                    granted_by=actor.name,
                )
            else:
                account.grant(role=role, department=department, granted_by=actor.name)
            return Outcome(account, [account])

        return self._execute("open_account", None, {"name": name, "role": role}, body, actor=actor)

    def revoke_account(self, actor: Actor, name: str, *, reason: str) -> Result:
        """Revoke an account: it can no longer sign in, nor use its keys."""

        def body(now: datetime) -> Outcome:
            account = self.get_account(name)
            account.revoke(revoked_by=actor.name, reason=reason)
            return Outcome(account, [account])

        return self._execute("revoke_account", None, {"name": name}, body, actor=actor)

    def record_api_key(self, actor: Actor, name: str, *, key_id: str, revoke: bool = False) -> Result:
        """Record that an API key was issued to (or revoked from) an account."""

        def body(now: datetime) -> Outcome:
            account = self.get_account(name)
            if revoke:
                account.revoke_key(key_id=key_id, revoked_by=actor.name)
            else:
                account.issue_key(key_id=key_id, issued_by=actor.name)
            return Outcome(account, [account])

        return self._execute(
            "record_api_key", None, {"name": name, "key": key_id, "revoke": revoke}, body, actor=actor
        )

    # -- meetings -----------------------------------------------------------------------

    def hold_meeting(
        self,
        actor: Actor,
        *,
        kind: str,
        unit: str,
        held_at: datetime,
        attendees: list[str],
        title: str,
        key: str | None = None,
    ) -> Result:
        """Record a meeting; later commands taken there carry its id."""
        meeting_id = uuid5(NAMESPACE, f"meeting/{actor.name}/{key}") if key else uuid4()

        def body(now: datetime) -> Outcome:
            meeting = Meeting.hold(
                id=meeting_id, kind=kind, unit=unit, held_at=held_at, attendees=attendees,
                title=title, actor=actor.name,
            )  # fmt: skip
            return Outcome(meeting, [meeting])

        args = {
            "kind": kind,
            "unit": unit,
            "held_at": held_at,
            "attendees": attendees,
            "title": title,
        }
        return self._execute("hold_meeting", key, args, body, actor=actor)

    def record_decision(
        self,
        actor: Actor,
        meeting_id: UUID,
        *,
        decision: str,
        issue: UUID | str | None = None,
        key: str | None = None,
    ) -> Result:
        """Record a decision a meeting took, optionally about one issue."""

        def body(now: datetime) -> Outcome:
            meeting = self.get_meeting(meeting_id)
            issue_id = self.get_issue(issue).id if issue is not None else None
            meeting.decide(decision, issue_id=issue_id, actor=actor.name)
            return Outcome(meeting, [meeting])

        args = {"meeting": meeting_id, "decision": decision, "issue": issue}
        return self._execute("record_decision", key, args, body, actor=actor)

    # -- recurring duties ---------------------------------------------------------------

    def raise_duty(
        self,
        *,
        kind: str,
        unit: str,
        period: str,
        due_by: datetime,
        recipients: list[str],
        unanswered: Mapping[str, Sequence[str]] | None = None,
        actor: Actor | None = None,
    ) -> Result:
        """Raise a recurring duty once per (kind, unit, period); raising it again records nothing."""
        who = actor or Actor("scheduler", role=Role.SCHEDULER)
        listed = {recorder: [str(o) for o in ids] for recorder, ids in (unanswered or {}).items()}

        def body(now: datetime) -> Outcome:
            duty_id = Duty.id_for(kind, unit, period)
            try:
                duty = self._load(duty_id, Duty, NotFoundError(f"There is no duty {duty_id}."))
                return Outcome(duty, [duty], detail={"raised": False})
            except NotFoundError:
                duty = Duty.raise_for(
                    kind=kind, unit=unit, period=period, due_by=due_by, recipients=recipients,
                    unanswered=listed, actor=who.name,
                )  # fmt: skip
                return Outcome(duty, [duty], detail={"raised": True})

        args = {"kind": kind, "unit": unit, "period": period}
        what = f"The {kind.replace('_', ' ')} duty of {unit}"
        return self._execute("raise_duty", None, args, body, actor=who, what=what)
