"""A rectification item, from opening to the people's verdict, with one leader to the end.

Every public method checks the rules and then triggers a private `@event` method that only
assigns state, so replaying stored events never re-runs a rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import CaselineAggregate
from domain.calendar import WorkCalendar
from domain.errors import (
    AlreadyEvaluatedError,
    ClockStateError,
    DeadlineNotLaterError,
    InvalidInputError,
    IssueClosedError,
    LeaderAlreadyAssignedError,
    NoEvaluationsError,
    NoLeaderError,
    NothingToDiscloseError,
    NotPermittedError,
    SameLeaderError,
    UnknownCoordinationError,
    WrongStageError,
)
from domain.rules import (
    DISCLOSABLE_FIELDS,
    MAX_NAME,
    MAX_TITLE,
    Area,
    Horizon,
    Level,
    Role,
    Stage,
    Verdict,
    choice,
    future,
    optional_text,
    text,
    texts,
)

WORKING = (Stage.ASSIGNED, Stage.IN_PROGRESS)
STAGE_RANK = {
    Stage.OPENED: 0,
    Stage.REGISTERED: 0,
    Stage.ASSIGNED: 1,
    Stage.IN_PROGRESS: 2,
    Stage.RESOLVED: 3,
    Stage.CLOSED: 4,
}


@dataclass(frozen=True)
class ServiceLevels:
    """How long each level has to solve an item, in calendar days or (if set) working days."""

    grid: int = 7
    village: int = 15
    town: int = 30
    district: int = 60
    working_days: bool = False
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    def __post_init__(self) -> None:
        for level in Level:
            if getattr(self, level.value) < 1:
                raise InvalidInputError(f"service level {level.value}", "must be at least one day")

    def deadline_for(self, level: str, start: datetime) -> datetime:
        """The deadline an item gets when it arrives at `level` at `start`."""
        days: int = getattr(self, Level(level).value)
        if self.working_days:
            return self.calendar.add_working_days(start, days)
        return start + timedelta(days=days)


class Issue(CaselineAggregate):
    """A rectification item with exactly one accountable leader from assignment to close."""

    TOPIC = "caseline:Issue"

    class Created(CaselineAggregate.Created):
        TOPIC = "caseline:Issue.Created"

    @classmethod
    def open(
        cls,
        *,
        id: UUID,
        number: str,
        title: str,
        area: str,
        level: str,
        horizon: str,
        description: str | None,
        opinion_ids: list[UUID],
        actor: str,
        meeting_id: UUID | None,
        unit: str | None = None,
    ) -> Issue:
        """Open an item, directly or from the opinions it merges."""
        return cls(
            id=id,
            number=number,
            title=text(title, field="title", limit=MAX_TITLE),
            area=choice(area, Area, field="area").value,
            level=choice(level, Level, field="level").value,
            horizon=choice(horizon, Horizon, field="horizon").value,
            unit=optional_text(unit, field="unit", limit=MAX_NAME),
            description=optional_text(description, field="description"),
            opinion_ids=list(opinion_ids),
            actor=actor,
            meeting_id=meeting_id,
        )

    @event("Opened", topic="caseline:Issue.Opened")
    def __init__(
        self,
        *,
        id: UUID,  # set by the library before __init__ runs
        number: str,
        title: str,
        area: str,
        level: str,
        horizon: str,
        description: str | None,
        opinion_ids: list[UUID],
        actor: str,
        meeting_id: UUID | None,
        unit: str | None = None,  # absent from items opened before units were recorded
    ) -> None:
        self.number = number
        self.unit = unit
        self.title = title
        self.area = area
        self.level = level
        self.horizon = horizon
        self.description = description
        self.opinion_ids: list[UUID] = list(opinion_ids)
        self.stage: str = Stage.OPENED.value
        self.leader: str | None = None
        self.department: str | None = None
        self.goals: list[str] = []
        self.measures: list[str] = []
        self.deadline: datetime | None = None
        self.escalated_for: list[datetime] = []
        self.on_committee_list = False
        self.coordinations: list[dict[str, str | None]] = []
        self.last_progress: str | None = None
        self.resolution: str | None = None
        self.evaluations: dict[str, str] = {}
        self.rounds = 0
        self.outcome: str | None = None
        self.explanation: str | None = None
        self.revisit_at: datetime | None = None
        self.disclosures = 0
        self.paused_since: datetime | None = None
        self.pause_reason: str | None = None
        self.reminded: list[str] = []

    # -- guards -------------------------------------------------------------------------

    def _not_closed(self, action: str) -> None:
        if self.stage == Stage.CLOSED:
            raise IssueClosedError(self.number, action)

    def _in(self, stages: tuple[Stage, ...], action: str) -> None:
        self._not_closed(action)
        if self.stage not in stages:
            raise WrongStageError(self.number, self.stage, action)

    def _leader(self) -> str:
        if self.leader is None:
            raise NoLeaderError(self.number)
        return self.leader

    def is_overdue(self, now: datetime) -> bool:
        """Whether the item is being worked on, its clock is running and its deadline has passed."""
        return (
            self.stage in WORKING
            and self.paused_since is None
            and self.deadline is not None
            and self.deadline < now
        )

    # -- opinions ---------------------------------------------------------------------

    def link_opinion(self, opinion_id: UUID, *, actor: str, meeting_id: UUID | None) -> None:
        """Merge another voice into this item."""
        self._not_closed("take more opinions")
        if opinion_id in self.opinion_ids:
            return
        self._opinion_linked(opinion_id=opinion_id, actor=actor, meeting_id=meeting_id)

    @event("OpinionLinked", topic="caseline:Issue.OpinionLinked")
    def _opinion_linked(self, opinion_id: UUID, actor: str, meeting_id: UUID | None) -> None:
        self.opinion_ids.append(opinion_id)

    # -- leadership -------------------------------------------------------------------

    def assign_leader(
        self,
        *,
        leader: str,
        department: str,
        goals: list[str],
        measures: list[str],
        deadline: datetime,
        now: datetime,
        actor: str,
        meeting_id: UUID | None,
    ) -> None:
        """Give the item its one accountable leader, a department, goals, measures and a deadline."""
        self._not_closed("be assigned")
        if self.leader is not None:
            raise LeaderAlreadyAssignedError(self.number, self.leader)
        self._in((Stage.OPENED,), "be assigned")
        self._leader_assigned(
            leader=text(leader, field="leader", limit=MAX_NAME),
            department=text(department, field="department", limit=MAX_NAME),
            goals=texts(goals, field="goals"),
            measures=texts(measures, field="measures"),
            deadline=future(deadline, now),
            actor=actor,
            meeting_id=meeting_id,
        )

    @event("LeaderAssigned", topic="caseline:Issue.LeaderAssigned")
    def _leader_assigned(
        self,
        leader: str,
        department: str,
        goals: list[str],
        measures: list[str],
        deadline: datetime,
        actor: str,
        meeting_id: UUID | None,
    ) -> None:
        self.leader = leader
        self.department = department
        self.goals = list(goals)
        self.measures = list(measures)
        self.deadline = deadline
        self.stage = Stage.ASSIGNED.value

    def hand_over(self, *, to: str, reason: str, actor: str, meeting_id: UUID | None) -> None:
        """Pass accountability to a named successor; the record keeps who held it when."""
        self._not_closed("be handed over")
        previous = self._leader()
        successor = text(to, field="to", limit=MAX_NAME)
        if successor == previous:
            raise SameLeaderError(self.number, previous)
        self._handed_over(
            previous=previous,
            leader=successor,
            reason=text(reason, field="reason"),
            actor=actor,
            meeting_id=meeting_id,
        )

    @event("LeadershipHandedOver", topic="caseline:Issue.LeadershipHandedOver")
    def _handed_over(
        self,
        previous: str,
        leader: str,
        reason: str,
        actor: str,
        meeting_id: UUID | None,
    ) -> None:
        self.leader = leader

    # -- deadlines --------------------------------------------------------------------

    def extend_deadline(
        self,
        *,
        deadline: datetime,
        reason: str,
        approver: str,
        now: datetime,
        actor: str,
    ) -> None:
        """Move the deadline later, with a reason and who approved it."""
        self._in(WORKING, "have its deadline extended")
        self._leader()
        assert self.deadline is not None
        deadline = future(deadline, now)
        if deadline <= self.deadline:
            raise DeadlineNotLaterError(self.number, self.deadline)
        self._deadline_extended(
            previous=self.deadline,
            deadline=deadline,
            reason=text(reason, field="reason"),
            approver=text(approver, field="approver", limit=MAX_NAME),
            actor=actor,
        )

    @event("DeadlineExtended", topic="caseline:Issue.DeadlineExtended")
    def _deadline_extended(
        self,
        previous: datetime,
        deadline: datetime,
        reason: str,
        approver: str,
        actor: str,
    ) -> None:
        self.deadline = deadline

    def escalate_if_overdue(self, now: datetime, levels: ServiceLevels, *, actor: str) -> bool:
        """Climb one level if the deadline has passed; at the top, go to the standing committee.

        Happens at most once per deadline, so racing schedulers and restarts are harmless.
        Returns whether anything was recorded.
        """
        if not self.is_overdue(now):
            return False
        assert self.deadline is not None
        missed = self.deadline
        if missed in self.escalated_for:
            return False
        above = Level(self.level).above()
        if above is None:
            self._referred(for_deadline=missed, leader=self._leader(), actor=actor)
            return True
        self._escalated(
            from_level=self.level,
            to_level=above.value,
            for_deadline=missed,
            deadline=levels.deadline_for(above, now),
            leader=self._leader(),
            reason=f"deadline {missed:%Y-%m-%d %H:%M} UTC passed at {self.level} level",
            actor=actor,
        )
        return True

    @event("Escalated", topic="caseline:Issue.Escalated")
    def _escalated(
        self,
        from_level: str,
        to_level: str,
        for_deadline: datetime,
        deadline: datetime,
        leader: str,
        reason: str,
        actor: str,
    ) -> None:
        self.escalated_for.append(for_deadline)
        self.level = to_level
        self.deadline = deadline

    @event(
        "ReferredToStandingCommittee",
        topic="caseline:Issue.ReferredToStandingCommittee",
    )
    def _referred(self, for_deadline: datetime, leader: str, actor: str) -> None:
        self.escalated_for.append(for_deadline)
        self.on_committee_list = True

    def pause_clock(self, *, reason: str, now: datetime, actor: str) -> None:
        """Stop the deadline clock while the item waits on someone outside."""
        self._in(WORKING, "have its clock paused")
        self._leader()
        if self.paused_since is not None:
            raise ClockStateError(f"The clock of issue {self.number} is already paused.")
        self._clock_paused(reason=text(reason, field="reason"), at=now, actor=actor)

    @event("ClockPaused", topic="caseline:Issue.ClockPaused")
    def _clock_paused(self, reason: str, at: datetime, actor: str) -> None:
        self.paused_since = at
        self.pause_reason = reason

    def resume_clock(self, *, now: datetime, actor: str) -> None:
        """Start the clock again; the deadline moves by exactly the time it was paused."""
        self._not_closed("have its clock resumed")
        if self.paused_since is None:
            raise ClockStateError(f"The clock of issue {self.number} is not paused.")
        assert self.deadline is not None
        paused = max(now - self.paused_since, timedelta(0))
        self._clock_resumed(
            paused_seconds=paused.total_seconds(),
            previous=self.deadline,
            deadline=self.deadline + paused,
            actor=actor,
        )

    @event("ClockResumed", topic="caseline:Issue.ClockResumed")
    def _clock_resumed(
        self, paused_seconds: float, previous: datetime, deadline: datetime, actor: str
    ) -> None:
        self.paused_since = None
        self.pause_reason = None
        self.deadline = deadline

    def remind_if_due(self, now: datetime, lead: timedelta, *, actor: str) -> bool:
        """Remind the leader once per deadline and lead time when the deadline is `lead` away.

        Returns whether a reminder was recorded; racing schedulers record it once.
        """
        if self.stage not in WORKING or self.paused_since is not None or self.deadline is None:
            return False
        if not self.deadline - lead <= now < self.deadline:
            return False
        key = f"{self.deadline.isoformat()}/{int(lead.total_seconds())}"
        if key in self.reminded:
            return False
        self._reminder_due(
            key=key,
            for_deadline=self.deadline,
            lead_seconds=int(lead.total_seconds()),
            leader=self._leader(),
            actor=actor,
        )
        return True

    @event("ReminderDue", topic="caseline:Issue.ReminderDue")
    def _reminder_due(
        self, key: str, for_deadline: datetime, lead_seconds: int, leader: str, actor: str
    ) -> None:
        self.reminded.append(key)

    # -- front-line work --------------------------------------------------------------

    def report_progress(self, *, note: str, actor: str) -> None:
        """Tell how the work is going."""
        self._in(WORKING, "take progress reports")
        self._progress_reported(note=text(note, field="note"), leader=self._leader(), actor=actor)

    @event("ProgressReported", topic="caseline:Issue.ProgressReported")
    def _progress_reported(self, note: str, leader: str, actor: str) -> None:
        self.last_progress = note
        self.stage = Stage.IN_PROGRESS.value

    def request_coordination(self, *, department: str, request: str, actor: str) -> int:
        """Ask another department for help; returns the request's number on this item."""
        self._in(WORKING, "ask for coordination")
        self._leader()
        self._coordination_requested(
            index=len(self.coordinations),
            department=text(department, field="department", limit=MAX_NAME),
            request=text(request, field="request"),
            actor=actor,
        )
        return len(self.coordinations) - 1

    @event("CoordinationRequested", topic="caseline:Issue.CoordinationRequested")
    def _coordination_requested(self, index: int, department: str, request: str, actor: str) -> None:
        self.coordinations.append({"department": department, "request": request, "answer": None})
        self.stage = Stage.IN_PROGRESS.value

    def answer_coordination(self, *, index: int, answer: str, actor: str) -> None:
        """Record the other department's answer to a coordination request."""
        self._not_closed("take coordination answers")
        if not 0 <= index < len(self.coordinations):
            raise UnknownCoordinationError(f"Issue {self.number} has no coordination request number {index}.")
        if self.coordinations[index]["answer"] is not None:
            raise UnknownCoordinationError(
                f"Coordination request {index} of issue {self.number} is already answered."
            )
        self._coordination_answered(index=index, answer=text(answer, field="answer"), actor=actor)

    @event("CoordinationAnswered", topic="caseline:Issue.CoordinationAnswered")
    def _coordination_answered(self, index: int, answer: str, actor: str) -> None:
        self.coordinations[index]["answer"] = answer

    def record_inspection(self, *, inspector: str, findings: str, confirmed: bool, actor: str) -> None:
        """A representative inspects the work on the spot."""
        self._in((*WORKING, Stage.RESOLVED), "be inspected")
        self._inspected(
            inspector=text(inspector, field="inspector", limit=MAX_NAME),
            findings=text(findings, field="findings"),
            confirmed=bool(confirmed),
            actor=actor,
        )

    @event("InspectionRecorded", topic="caseline:Issue.InspectionRecorded")
    def _inspected(self, inspector: str, findings: str, confirmed: bool, actor: str) -> None:
        pass

    # -- disclosure -------------------------------------------------------------------

    def disclose(self, *, fields: list[str], where: str, note: str | None, actor: str) -> dict[str, str]:
        """Publish the chosen fields; the event records exactly what was published, and where."""
        self._not_closed("be disclosed again")
        if not fields and note is None:
            raise InvalidInputError("fields", "choose at least one field to publish, or a note")
        published: dict[str, str] = {"number": self.number}
        for name in fields:
            if name not in DISCLOSABLE_FIELDS:
                allowed = ", ".join(DISCLOSABLE_FIELDS)
                raise InvalidInputError("fields", f"{name!r} cannot be published; choose from {allowed}")
            value = self._public_value(name)
            if value is not None:
                published[name] = value
        if note is not None:
            published["note"] = text(note, field="note")
        if len(published) == 1:
            raise NothingToDiscloseError(
                f"Issue {self.number}: none of the chosen fields has a value yet; "
                "choose others or add a note."
            )
        self._disclosed(
            published=published,
            where=text(where, field="where", limit=MAX_NAME),
            actor=actor,
        )
        return published

    def _public_value(self, name: str) -> str | None:
        value: Any = {
            "progress": self.last_progress,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "goals": "; ".join(self.goals) or None,
            "measures": "; ".join(self.measures) or None,
            # A fixed phrase, never the free-text reason a supervisor typed when reopening.
            "outcome": "reopened after evaluation"
            if self.rounds and self.stage == Stage.IN_PROGRESS
            else None,
        }.get(name, getattr(self, name, None))
        return None if value is None else str(value)

    @event("Disclosed", topic="caseline:Issue.Disclosed")
    def _disclosed(self, published: dict[str, str], where: str, actor: str) -> None:
        self.disclosures += 1

    # -- resolution and the people's verdict -----------------------------------------

    def report_resolution(self, *, summary: str, actor: str) -> None:
        """The leader reports the problem solved; the people will judge."""
        self._in(WORKING, "be reported resolved")
        self._resolution_reported(summary=text(summary, field="summary"), leader=self._leader(), actor=actor)

    @event("ResolutionReported", topic="caseline:Issue.ResolutionReported")
    def _resolution_reported(self, summary: str, leader: str, actor: str) -> None:
        self.resolution = summary
        self.stage = Stage.RESOLVED.value
        self.paused_since = None
        self.pause_reason = None
        self.evaluations = {}

    def record_evaluation(
        self,
        *,
        evaluator: str,
        verdict: str,
        comment: str | None,
        actor: str,
        meeting_id: UUID | None,
    ) -> None:
        """One representative's verdict on the handling of the item."""
        self._in((Stage.RESOLVED,), "be evaluated")
        who = text(evaluator, field="evaluator", limit=MAX_NAME)
        if who in self.evaluations:
            raise AlreadyEvaluatedError(self.number, who)
        self._evaluation_recorded(
            evaluator=who,
            verdict=choice(verdict, Verdict, field="verdict").value,
            comment=optional_text(comment, field="comment"),
            actor=actor,
            meeting_id=meeting_id,
        )

    @event("EvaluationRecorded", topic="caseline:Issue.EvaluationRecorded")
    def _evaluation_recorded(
        self,
        evaluator: str,
        verdict: str,
        comment: str | None,
        actor: str,
        meeting_id: UUID | None,
    ) -> None:
        self.evaluations[evaluator] = verdict

    def satisfaction(self) -> float:
        """Share of satisfied and basically satisfied verdicts in the current round."""
        if not self.evaluations:
            return 0.0
        content = sum(1 for v in self.evaluations.values() if v != Verdict.DISSATISFIED)
        return content / len(self.evaluations)

    def conclude_evaluation(
        self,
        *,
        threshold: float,
        new_deadline: datetime | None,
        levels: ServiceLevels,
        now: datetime,
        actor: str,
        meeting_id: UUID | None,
    ) -> str:
        """Close the item if the people are satisfied enough, else reopen it under the same leader."""
        self._in((Stage.RESOLVED,), "conclude an evaluation")
        if not self.evaluations:
            raise NoEvaluationsError(self.number)
        if not 0 < threshold <= 1:
            raise InvalidInputError("threshold", "must be a share between 0 and 1")
        rate = self.satisfaction()
        verdicts = list(self.evaluations.values())
        counts = {v.value: verdicts.count(v.value) for v in Verdict}
        if rate >= threshold:
            self._closed(
                rate=rate,
                threshold=threshold,
                counts=counts,
                leader=self._leader(),
                actor=actor,
                meeting_id=meeting_id,
            )
            return "closed"
        deadline = future(new_deadline, now) if new_deadline else levels.deadline_for(self.level, now)
        self._reopened(
            rate=rate,
            threshold=threshold,
            counts=counts,
            deadline=deadline,
            reason=f"satisfaction {rate:.0%} is below the target {threshold:.0%}",
            leader=self._leader(),
            actor=actor,
            meeting_id=meeting_id,
        )
        return "reopened"

    @event("Closed", topic="caseline:Issue.Closed")
    def _closed(
        self,
        rate: float,
        threshold: float,
        counts: dict[str, int],
        leader: str,
        actor: str,
        meeting_id: UUID | None,
    ) -> None:
        self.stage = Stage.CLOSED.value
        self.rounds += 1
        self.outcome = f"closed with {rate:.0%} satisfied"

    @event("Reopened", topic="caseline:Issue.Reopened")
    def _reopened(
        self,
        rate: float | None,
        threshold: float | None,
        counts: dict[str, int] | None,
        deadline: datetime,
        reason: str,
        leader: str,
        actor: str,
        meeting_id: UUID | None,
    ) -> None:
        self.stage = Stage.IN_PROGRESS.value
        self.paused_since = None
        self.pause_reason = None
        self.rounds += 1 if rate is not None else 0
        self.deadline = deadline
        self.evaluations = {}
        self.on_committee_list = False
        self.outcome = reason

    def close_fixed_at_once(self, *, note: str, actor: str) -> None:
        """Close an immediate item that was fixed on the spot, without a meeting."""
        self._in((Stage.RESOLVED,), "be closed as fixed at once")
        if self.horizon != Horizon.IMMEDIATE:
            raise WrongStageError(
                self.number,
                f"a {self.horizon}-term item",
                "be closed without an evaluation",
            )
        self._fixed_at_once(note=text(note, field="note"), leader=self._leader(), actor=actor)

    @event("ClosedAsFixed", topic="caseline:Issue.ClosedAsFixed")
    def _fixed_at_once(self, note: str, leader: str, actor: str) -> None:
        self.stage = Stage.CLOSED.value
        self.outcome = note

    def reopen(self, *, reason: str, deadline: datetime, now: datetime, actor: str, role: str) -> None:
        """A supervisor reopens a closed item; the same leader stays accountable."""
        if self.stage != Stage.CLOSED:
            raise WrongStageError(self.number, self.stage, "be reopened")
        if role not in (Role.SUPERVISOR, Role.ADMIN):
            raise NotPermittedError(f"Only a supervisor can reopen issue {self.number}.")
        self._reopened(
            rate=None,
            threshold=None,
            counts=None,
            deadline=future(deadline, now),
            reason=text(reason, field="reason"),
            leader=self._leader(),
            actor=actor,
            meeting_id=None,
        )

    # -- register and explain ---------------------------------------------------------

    def register_and_explain(
        self,
        *,
        explanation: str,
        revisit_at: datetime,
        now: datetime,
        actor: str,
        meeting_id: UUID | None,
    ) -> None:
        """Keep an item that cannot be solved now on the register, explained, with a revisit date."""
        self._in((Stage.OPENED,), "be registered and explained")
        self._registered(
            explanation=text(explanation, field="explanation"),
            revisit_at=future(revisit_at, now, field="revisit_at"),
            actor=actor,
            meeting_id=meeting_id,
        )

    @event("RegisteredAndExplained", topic="caseline:Issue.RegisteredAndExplained")
    def _registered(
        self,
        explanation: str,
        revisit_at: datetime,
        actor: str,
        meeting_id: UUID | None,
    ) -> None:
        self.stage = Stage.REGISTERED.value
        self.explanation = explanation
        self.revisit_at = revisit_at

    def revisit(self, *, actor: str, meeting_id: UUID | None) -> None:
        """Bring a registered item back to the analysis meeting."""
        self._in((Stage.REGISTERED,), "be revisited")
        self._revisited(actor=actor, meeting_id=meeting_id)

    @event("Revisited", topic="caseline:Issue.Revisited")
    def _revisited(self, actor: str, meeting_id: UUID | None) -> None:
        self.stage = Stage.OPENED.value
