"""Random command sequences against the real workflow on SQLite, checking the Issue invariants.

A hypothesis state machine drives `domain.workflow.Workflow`, built by the composition root
over an SQLite store in a temporary folder with a `FakeClock`, through random commands on up
to three issues: every Issue command, the clock moving on, scheduler sweeps (twice in a row,
and from two application instances racing in threads), idempotency keys repeated and reused.
A small model predicts from the rules alone whether each command is accepted and what it
changes. A refused command must raise a `CaselineError` and write nothing; anything else
raised fails the run.

After every step that wrote something, for every issue:
1. one leader from assignment until close, changed only by an explicit handover;
2. stages move only forward, except reopen (resolved/closed -> in progress) and revisit
   (registered -> opened); a closed item accepts nothing but a supervisor's reopen (every
   other command is tried on each item as soon as it closes);
3. at most one escalation per deadline, only after it passed, never above the district;
4. the stored events replayed from scratch, the repository (snapshots every 50 events) and
   the live aggregate agree, and so do `issue_at(version=v)` and the first v events.

A fixed story through every level runs the same checks, so the rarest paths (referral to
the committee, a snapshot of an escalated item) are covered on every run; a property test
on the bare aggregate sweeps the escalation ladder many more times without I/O.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock, event_time
from domain.errors import (
    CaselineError,
    IdempotencyKeyReusedError,
    IssueClosedError,
    NotPermittedError,
)
from domain.issue import STAGE_RANK, Issue, ServiceLevels
from domain.rules import DISCLOSABLE_FIELDS, Actor, Horizon, Level, Role, Stage, Verdict
from domain.workflow import Result, Workflow, fast_projector

START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
WORKING = (Stage.ASSIGNED.value, Stage.IN_PROGRESS.value)
MAX_ISSUES = 3
# When a command breaks exactly one of these rules, the error says which.
REFUSED_WITH: dict[str, type[CaselineError]] = {
    "closed": IssueClosedError,
    "role": NotPermittedError,
    "key reused": IdempotencyKeyReusedError,
}

OFFICER = Actor("Officer Wang", role=Role.OFFICER)
SUPERVISOR = Actor("Supervisor Liu", role=Role.SUPERVISOR)

# Mostly valid values, with a blank now and then: the rules must refuse it and write nothing.
names = st.sampled_from(["Zhang", "Li", "Zhao", "  Li  ", "Sun", " "])
notes = st.sampled_from(["Pipes laid on the east side", "Half the lamps are up", "\t"])
evaluators = st.sampled_from(["Rep Chen", "Rep Zhou", "Rep Wu", "Rep Xu", "Rep Ma", ""])
verdicts = st.sampled_from(["satisfied", "satisfied", "basically_satisfied", "dissatisfied", "furious"])
keys = st.sampled_from([None, None, "key-a", "key-b"])
zones = st.sampled_from([UTC, BEIJING])
# From now (or from the current deadline): mostly ahead, sometimes exactly now or already past.
ahead = st.integers(min_value=1, max_value=24 * 90).map(lambda hours: timedelta(hours=hours))
offsets = st.one_of(
    ahead, ahead, ahead, st.sampled_from([timedelta(0), timedelta(seconds=-1), timedelta(days=-2)])
)


def rank(stage: str) -> int:
    return STAGE_RANK[Stage(stage)]


@dataclass
class Model:
    """What the rules say an issue should be, kept beside the real one."""

    id: UUID
    number: str
    horizon: str
    level: str
    stage: str = Stage.OPENED.value
    leader: str | None = None
    deadline: datetime | None = None
    escalated_for: list[datetime] = field(default_factory=list)
    answered: list[bool] = field(default_factory=list)
    evaluations: dict[str, str] = field(default_factory=dict)
    has_progress: bool = False
    has_resolution: bool = False
    rounds: int = 0  # evaluation rounds concluded
    paused_since: datetime | None = None
    reminded: list[str] = field(default_factory=list)
    version: int = 1

    def closed_or(self, reasons: set[str], *, stages: tuple[str, ...] | None = None) -> set[str]:
        """`reasons`, plus "closed" or "stage" when the issue is closed or in another stage."""
        if self.stage == Stage.CLOSED:
            reasons.add("closed")
        elif stages is not None and self.stage not in stages:
            reasons.add("stage")
        return reasons

    def overdue_and_unescalated(self, now: datetime) -> bool:
        return (
            self.stage in WORKING
            and self.paused_since is None
            and self.deadline is not None
            and self.deadline < now
            and self.deadline not in self.escalated_for
        )

    def public_value(self, name: str) -> bool:
        """Whether disclosing `name` would publish something."""
        if name in ("title", "area", "level"):
            return True
        if name in ("leader", "department", "goals", "measures", "deadline"):
            return self.leader is not None
        if name == "outcome":  # a fixed phrase, published only while reworking after an evaluation
            return self.rounds > 0 and self.stage == Stage.IN_PROGRESS
        return {"progress": self.has_progress, "resolution": self.has_resolution}.get(name, False)


def check_history(events: list[Any], *, supervisor: str) -> None:
    """Walk the stored events and check the invariants on every transition, model-free."""
    issue: Any = None
    seen_escalations: list[datetime] = []
    last_time: datetime | None = None
    for position, change in enumerate(events, start=1):
        name = type(change).__name__
        before = (
            None
            if issue is None
            else (issue.stage, issue.leader, issue.deadline, issue.level, issue.paused_since)
        )
        issue = change.mutate(issue)
        where = f"change {position} ({name})"
        assert last_time is None or change.timestamp >= last_time, (
            f"{where} is stamped before its predecessor"
        )
        last_time = change.timestamp
        Level(issue.level)  # never a level off the ladder
        if before is None:
            assert name == "Opened", f"{where}: an issue's story starts with Opened"
            assert issue.leader is None
            continue
        stage, leader, deadline, level, paused = before
        # 2. stages: forward only, except reopen and revisit; a closed item takes only a reopen.
        if stage == Stage.CLOSED:
            assert name == "Reopened", f"{where}: a closed item took something other than a reopen"
            assert change.actor == supervisor, f"{where}: reopened by {change.actor}, not by the supervisor"
        if name == "Reopened":
            assert stage in (Stage.RESOLVED, Stage.CLOSED), f"{where}: reopened from {stage}"
            assert issue.stage == Stage.IN_PROGRESS
            assert change.leader == leader, f"{where}: reopened under {change.leader}, not {leader}"
        elif name == "Revisited":
            assert (stage, issue.stage) == (Stage.REGISTERED, Stage.OPENED), (
                f"{where}: {stage} -> {issue.stage}"
            )
        else:
            assert rank(issue.stage) >= rank(stage), f"{where}: stage went back from {stage} to {issue.stage}"
        # 1. one leader from assignment on; only a handover changes who it is.
        if leader is not None:
            assert issue.leader is not None, f"{where}: the leader was cleared"
            if issue.leader != leader:
                assert name == "LeadershipHandedOver", f"{where}: leader {leader} -> {issue.leader}"
                assert (change.previous, change.leader) == (leader, issue.leader)
        elif issue.leader is not None:
            assert name == "LeaderAssigned", f"{where}: a leader appeared without an assignment"
        # 3. one escalation per deadline, only once it has passed, never above the district.
        if name in ("Escalated", "ReferredToStandingCommittee"):
            assert stage in WORKING, f"{where}: escalated an item that is {stage}"
            assert paused is None, f"{where}: escalated while the clock was paused"
            assert change.for_deadline == deadline, f"{where}: escalated for a deadline not in force"
            assert change.for_deadline < change.timestamp, f"{where}: escalated before the deadline passed"
            assert change.for_deadline not in seen_escalations, f"{where}: second escalation for one deadline"
            assert change.leader == leader
            seen_escalations.append(change.for_deadline)
            if name == "Escalated":
                above = Level(level).above()
                assert above is not None, f"{where}: escalated above the district"
                assert (change.from_level, change.to_level, issue.level) == (level, above.value, above.value)
                assert issue.deadline > change.timestamp
            else:
                assert level == Level.DISTRICT, f"{where}: referred to the committee from {level}"
                assert issue.level == Level.DISTRICT
        else:
            assert issue.level == level, f"{where}: the level changed without an escalation"
    assert issue is not None
    assert issue.escalated_for == seen_escalations


class IssueWorkflowMachine(RuleBasedStateMachine):
    """Random commands on a few issues, through the real workflow over SQLite."""

    issues = Bundle("issues")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="caseline-machine-"))
        self.store = Settings(data_dir=self.folder / "var")
        self.clock = FakeClock(START)
        self.workflow = build_workflow(self.store, clock=self.clock)
        self.rival: Workflow | None = None  # a second scheduler process, built for the first race
        self.models: dict[UUID, Model] = {}
        self.receipts: dict[tuple[str, str], tuple[Any, ...]] = {}  # (command, key) -> first args
        self.answers: dict[tuple[str, str], int] = {}  # (command, key) -> the version first answered
        self.replayed: dict[UUID, int] = {}  # the version up to which each history was checked
        self.checked_at: int | None = -1  # the log position of the last check

    def teardown(self) -> None:
        self.workflow.close()
        if self.rival is not None:
            self.rival.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def position(self) -> int | None:
        return self.workflow.recorder.max_notification_id()

    def attempt(
        self,
        command: str,
        model: Model | None,
        reasons: set[str],
        call: Callable[[], Result],
        *,
        key: str | None = None,
        args: tuple[Any, ...] = (),
    ) -> Result | None:
        """Run a command; check it was refused, writing nothing, exactly when the rules say so.

        `reasons` are the rules the command breaks (empty: it must be accepted). Returns the
        result when the command took effect, for the caller to apply to the model.
        """
        before = self.position()
        first = self.receipts.get((command, key)) if key is not None else None
        repeat = first is not None and first == args
        if first is not None and not repeat:
            reasons = {"key reused"}
        error: CaselineError | None = None
        try:
            result = call()
        except CaselineError as refused:  # anything else is a bug and fails the run
            error = refused
        if currently_in_test_context():
            event(f"{command}: {type(error).__name__ if error else 'repeated' if repeat else 'accepted'}")
        if error is not None:
            assert self.position() == before, f"refused ({error!r}) yet wrote to the log"
            assert reasons, f"refused ({error!r}) although the rules allow it"
            (reason,) = reasons if len(reasons) == 1 else ("several",)
            if reason in REFUSED_WITH:
                assert isinstance(error, REFUSED_WITH[reason]), f"refused with {error!r}"
            return None
        if repeat:
            assert not result.changed, "a repeated idempotent command answered as a change"
            assert self.position() == before, "a repeated idempotent command wrote again"
            assert result.version == self.answers[(command, key)], "a repeat answered differently"
            return None
        assert not reasons, f"accepted although the rules forbid it ({', '.join(sorted(reasons))})"
        assert result.changed
        assert self.position() != before, "an accepted command wrote nothing"
        if model is not None:
            model.version += 1
            assert result.version == model.version, "one command, one event"
        if key is not None:
            self.receipts[(command, key)] = args
            self.answers[(command, key)] = result.version
        return result

    def ref(self, model: Model, by_number: bool) -> UUID | str:
        return model.number if by_number else model.id

    # -- rules: opening, leading, deadlines --------------------------------------------

    @initialize(
        target=issues,
        level=st.sampled_from([level.value for level in Level]),
        horizon=st.sampled_from(["immediate", "near"]),
    )
    def a_first_issue(self, level: str, horizon: str) -> Any:
        """Every run starts with one valid issue, whichever rules the run leaves out."""
        return self.open_issue("Water in the basement of building 3", level, horizon)

    @precondition(lambda self: len(self.models) < MAX_ISSUES)
    @rule(
        target=issues,
        title=st.sampled_from(["Street lights for the back lanes", "Blocked drain on Elm Road"] * 3 + [" "]),
        level=st.sampled_from([*(level.value for level in Level)] * 2 + ["county"]),
        horizon=st.sampled_from(["immediate", "immediate", "near", "mid", "long"]),
    )
    def open_issue(self, title: str, level: str, horizon: str) -> Any:
        reasons = set()
        if not title.strip() or level not in {known.value for known in Level}:
            reasons.add("input")

        def call() -> Result:
            return self.workflow.open_issue(
                OFFICER, title=title, area="security", level=level, horizon=horizon
            )

        result = self.attempt("open_issue", None, reasons, call)
        if result is None:
            return multiple()
        assert result.version == 1
        assert result.number is not None
        self.models[result.id] = Model(id=result.id, number=result.number, horizon=horizon, level=level)
        return result.id

    @rule(issue=issues, leader=names, offset=offsets, zone=zones)
    def assign_leader(self, issue: UUID, leader: str, offset: timedelta, zone: tzinfo) -> None:
        model = self.models[issue]
        deadline = (self.now + offset).astimezone(zone)
        reasons = model.closed_or(set(), stages=(Stage.OPENED.value,))
        if model.leader is not None:
            reasons.add("leader")
        if not leader.strip():
            reasons.add("input")
        if deadline <= self.now:
            reasons.add("past")

        def call() -> Result:
            return self.workflow.assign_leader(
                OFFICER, issue, leader=leader, department="Public works office",
                goals=["lights working and inspected"], measures=["move the cable"], deadline=deadline,
            )  # fmt: skip

        if self.attempt("assign_leader", model, reasons, call):
            model.leader, model.deadline, model.stage = leader.strip(), deadline, Stage.ASSIGNED.value

    @rule(issue=issues, to=names, reason=notes, key=keys)
    def hand_over(self, issue: UUID, to: str, reason: str, key: str | None) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set())
        if model.leader is None:
            reasons.add("no leader")
        if not to.strip() or not reason.strip():
            reasons.add("input")
        if model.leader is not None and to.strip() == model.leader:
            reasons.add("same leader")

        def call() -> Result:
            return self.workflow.hand_over(OFFICER, issue, to=to, reason=reason, key=key)

        if self.attempt("hand_over", model, reasons, call, key=key, args=(issue, to, reason)):
            model.leader = to.strip()

    @rule(issue=issues, offset=offsets, zone=zones, by_number=st.booleans())
    def extend_deadline(self, issue: UUID, offset: timedelta, zone: tzinfo, by_number: bool) -> None:
        model = self.models[issue]
        deadline = ((model.deadline or self.now) + offset).astimezone(zone)
        reasons = model.closed_or(set(), stages=WORKING)
        if model.deadline is not None and deadline <= model.deadline:
            reasons.add("not later")
        if deadline <= self.now:
            reasons.add("past")

        def call() -> Result:
            return self.workflow.extend_deadline(
                OFFICER, self.ref(model, by_number), deadline=deadline,
                reason="the cable route changed", approver="Director Huang",
            )  # fmt: skip

        if self.attempt("extend_deadline", model, reasons, call):
            model.deadline = deadline

    @rule(issue=issues, reason=notes)
    def pause_clock(self, issue: UUID, reason: str) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set(), stages=WORKING)
        if model.paused_since is not None:
            reasons.add("paused")
        if not reason.strip():
            reasons.add("input")

        def call() -> Result:
            return self.workflow.pause_clock(OFFICER, issue, reason=reason)

        if self.attempt("pause_clock", model, reasons, call):
            model.paused_since = self.now

    @rule(issue=issues)
    def resume_clock(self, issue: UUID) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set())
        if model.paused_since is None:
            reasons.add("running")
        if self.attempt("resume_clock", model, reasons, lambda: self.workflow.resume_clock(OFFICER, issue)):
            assert model.deadline is not None
            assert model.paused_since is not None
            model.deadline += self.now - model.paused_since  # the deadline moves by the pause
            model.paused_since = None

    # -- rules: time and the scheduler -------------------------------------------------

    @rule(hours=st.integers(min_value=1, max_value=24 * 75), sweeps=st.sampled_from([0, 1, 1, 2]))
    def time_passes(self, hours: int, sweeps: int) -> None:
        """The clock moves on; then the scheduler sweeps every item (twice when two run)."""
        self.clock.advance(timedelta(hours=hours))
        for issue in list(self.models):
            for _ in range(sweeps):
                self.escalate_if_overdue(issue, twice=False)

    @rule(issue=issues, twice=st.booleans())
    def escalate_if_overdue(self, issue: UUID, twice: bool) -> None:
        model = self.models[issue]
        for _ in range(2 if twice else 1):  # the second, right behind the first, finds nothing to do
            before = self.position()
            due = model.overdue_and_unescalated(self.now)
            result = self.workflow.escalate_if_overdue(issue)
            assert result.detail == {"escalated": due}, f"expected escalated={due}, got {result.detail}"
            assert result.changed == due
            if due:
                self.escalated(model)
            else:
                assert self.position() == before, "a sweep that escalated nothing wrote"
            assert result.version == model.version

    @rule(issue=issues)
    def escalate_from_two_racing_schedulers(self, issue: UUID) -> None:
        """Two application instances over the same store sweep the same item at the same moment."""
        model = self.models[issue]
        if self.rival is None:
            self.rival = build_workflow(self.store, clock=self.clock)
        start = threading.Barrier(2)

        def sweep(workflow: Workflow) -> Result:
            start.wait(timeout=30)
            return workflow.escalate_if_overdue(issue)

        before = self.position()
        due = model.overdue_and_unescalated(self.now)
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(sweep, [self.workflow, self.rival]))
        changed = [result for result in results if result.changed]
        assert len(changed) == int(due), f"{len(changed)} of two racing sweeps escalated (due: {due})"
        if due:
            assert self.position() == (before or 0) + 1, "two racing sweeps wrote more than one event"
            self.escalated(model)
            assert changed[0].version == model.version
        else:
            assert self.position() == before

    def escalated(self, model: Model) -> None:
        """Apply one escalation to the model: a level up with a fresh deadline, or the committee."""
        assert model.deadline is not None
        model.escalated_for.append(model.deadline)
        above = Level(model.level).above()
        if above is not None:
            model.level = above.value
            model.deadline = self.workflow.levels.deadline_for(above.value, self.now)
        model.version += 1

    @rule(issue=issues)
    def the_deadline_arrives(self, issue: UUID) -> None:
        """At the deadline itself nothing is overdue yet; one second later it is."""
        deadline = self.models[issue].deadline
        if deadline is None or deadline <= self.now:
            return
        self.clock.set(deadline)
        self.remind_if_due(issue, lead_days=1)
        self.escalate_if_overdue(issue, twice=True)
        self.clock.advance(timedelta(seconds=1))
        self.escalate_if_overdue(issue, twice=True)

    @rule(issue=issues, lead_days=st.integers(min_value=1, max_value=5))
    def remind_if_due(self, issue: UUID, lead_days: int) -> None:
        model = self.models[issue]
        lead = timedelta(days=lead_days)
        reminder = f"{model.deadline.isoformat()}/{int(lead.total_seconds())}" if model.deadline else ""
        due = (
            model.stage in WORKING
            and model.paused_since is None
            and model.deadline is not None
            and model.deadline - lead <= self.now < model.deadline
            and reminder not in model.reminded
        )
        before = self.position()
        result = self.workflow.remind_if_due(issue, lead=lead)
        assert result.detail == {"reminded": due}
        assert result.changed == due
        if due:
            model.reminded.append(reminder)
            model.version += 1
        else:
            assert self.position() == before
        assert result.version == model.version

    # -- rules: front-line work ---------------------------------------------------------

    @rule(issue=issues, note=notes, key=keys, by_number=st.booleans())
    def report_progress(self, issue: UUID, note: str, key: str | None, by_number: bool) -> None:
        model = self.models[issue]
        ref = issue if key is not None else self.ref(model, by_number)
        reasons = model.closed_or(set(), stages=WORKING)
        if not note.strip():
            reasons.add("input")

        def call() -> Result:
            return self.workflow.report_progress(OFFICER, ref, note=note, key=key)

        if self.attempt("report_progress", model, reasons, call, key=key, args=(issue, note)):
            model.stage, model.has_progress = Stage.IN_PROGRESS.value, True

    @rule(issue=issues, times=st.integers(min_value=10, max_value=30))
    def a_busy_week(self, issue: UUID, times: int) -> None:
        """Many small events on one item, so its history crosses the snapshot interval."""
        model = self.models[issue]
        for day in range(times):
            if model.stage in WORKING:
                self.report_progress(issue, f"day {day}: another stretch of cable laid", None, False)
            else:
                self.disclose(issue, ["title"], None)

    @rule(issue=issues, department=names)
    def request_coordination(self, issue: UUID, department: str) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set(), stages=WORKING)
        if not department.strip():
            reasons.add("input")

        def call() -> Result:
            return self.workflow.request_coordination(
                OFFICER, issue, department=department, request="move the water main"
            )

        result = self.attempt("request_coordination", model, reasons, call)
        if result is not None:
            assert result.detail == {"coordination": len(model.answered)}
            model.answered.append(False)
            model.stage = Stage.IN_PROGRESS.value

    @rule(issue=issues, index=st.integers(min_value=-1, max_value=3), answer=notes)
    def answer_coordination(self, issue: UUID, index: int, answer: str) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set())
        if not 0 <= index < len(model.answered):
            reasons.add("unknown")
        elif model.answered[index]:
            reasons.add("answered")
        if not answer.strip():
            reasons.add("input")

        def call() -> Result:
            return self.workflow.answer_coordination(OFFICER, issue, index=index, answer=answer)

        if self.attempt("answer_coordination", model, reasons, call):
            model.answered[index] = True

    @rule(issue=issues, inspector=names, confirmed=st.booleans())
    def record_inspection(self, issue: UUID, inspector: str, confirmed: bool) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set(), stages=(*WORKING, Stage.RESOLVED.value))
        if not inspector.strip():
            reasons.add("input")

        def call() -> Result:
            return self.workflow.record_inspection(
                OFFICER, issue, inspector=inspector, findings="lamps lit at dusk", confirmed=confirmed
            )

        self.attempt("record_inspection", model, reasons, call)

    @rule(
        issue=issues,
        fields=st.lists(st.sampled_from([*DISCLOSABLE_FIELDS, "phone"]), max_size=3, unique=True),
        note=st.sampled_from([None, None, "Posted on the village board", " "]),
    )
    def disclose(self, issue: UUID, fields: list[str], note: str | None) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set())
        if not fields and note is None:
            reasons.add("input")
        if any(name not in DISCLOSABLE_FIELDS for name in fields):
            reasons.add("input")
        if note is not None and not note.strip():
            reasons.add("input")
        if note is None and not any(model.public_value(name) for name in fields):
            reasons.add("input")

        def call() -> Result:
            return self.workflow.disclose(OFFICER, issue, fields=fields, where="village board", note=note)

        self.attempt("disclose", model, reasons, call)

    # -- rules: resolution, the people's verdict, reopening ----------------------------

    @rule(issue=issues, summary=notes)
    def report_resolution(self, issue: UUID, summary: str) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set(), stages=WORKING)
        if not summary.strip():
            reasons.add("input")

        def call() -> Result:
            return self.workflow.report_resolution(OFFICER, issue, summary=summary)

        if self.attempt("report_resolution", model, reasons, call):  # it also stops a paused clock
            model.stage, model.has_resolution, model.evaluations = Stage.RESOLVED.value, True, {}
            model.paused_since = None

    @rule(issue=issues, evaluator=evaluators, verdict=verdicts, key=keys)
    def record_evaluation(self, issue: UUID, evaluator: str, verdict: str, key: str | None) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set(), stages=(Stage.RESOLVED.value,))
        if not evaluator.strip() or verdict not in {known.value for known in Verdict}:
            reasons.add("input")
        if evaluator.strip() in model.evaluations:
            reasons.add("already")

        def call() -> Result:
            return self.workflow.record_evaluation(
                OFFICER, issue, evaluator=evaluator, verdict=verdict, key=key
            )

        args = (issue, evaluator, verdict)
        if self.attempt("record_evaluation", model, reasons, call, key=key, args=args):
            model.evaluations[evaluator.strip()] = verdict

    @rule(issue=issues, offset=st.none() | offsets, zone=zones)
    def conclude_evaluation(self, issue: UUID, offset: timedelta | None, zone: tzinfo) -> None:
        model = self.models[issue]
        new_deadline = None if offset is None else (self.now + offset).astimezone(zone)
        reasons = model.closed_or(set(), stages=(Stage.RESOLVED.value,))
        content = sum(1 for verdict in model.evaluations.values() if verdict != Verdict.DISSATISFIED)
        closes = (
            bool(model.evaluations) and content / len(model.evaluations) >= self.workflow.satisfaction_target
        )
        if not model.evaluations:
            reasons.add("no evaluations")
        elif not closes and new_deadline is not None and new_deadline <= self.now:
            reasons.add("past")

        def call() -> Result:
            return self.workflow.conclude_evaluation(OFFICER, issue, new_deadline=new_deadline)

        result = self.attempt("conclude_evaluation", model, reasons, call)
        if result is None:
            return
        model.rounds += 1
        if closes:  # the round's verdicts stay on record
            assert result.detail == {"outcome": "closed"}
            model.stage = Stage.CLOSED.value
            self.a_closed_item_takes_nothing_but_a_supervisor_s_reopen(issue)
        else:  # the same leader tries again, with a fresh deadline
            assert result.detail == {"outcome": "reopened"}
            model.stage, model.evaluations, model.paused_since = Stage.IN_PROGRESS.value, {}, None
            model.deadline = new_deadline or self.workflow.levels.deadline_for(model.level, self.now)

    @rule(issue=issues, note=notes)
    def close_fixed_at_once(self, issue: UUID, note: str) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set(), stages=(Stage.RESOLVED.value,))
        if model.horizon != Horizon.IMMEDIATE:
            reasons.add("horizon")
        if not note.strip():
            reasons.add("input")

        def call() -> Result:
            return self.workflow.close_fixed_at_once(OFFICER, issue, note=note)

        if self.attempt("close_fixed_at_once", model, reasons, call):
            model.stage = Stage.CLOSED.value
            self.a_closed_item_takes_nothing_but_a_supervisor_s_reopen(issue)

    @rule(issue=issues, by_supervisor=st.booleans(), offset=offsets, reason=notes)
    def reopen(self, issue: UUID, by_supervisor: bool, offset: timedelta, reason: str) -> None:
        model = self.models[issue]
        deadline = self.now + offset
        reasons = set() if model.stage == Stage.CLOSED else {"stage"}
        if not by_supervisor:
            reasons.add("role")
        if deadline <= self.now:
            reasons.add("past")
        if not reason.strip():
            reasons.add("input")
        actor = SUPERVISOR if by_supervisor else OFFICER

        def call() -> Result:
            return self.workflow.reopen(actor, issue, reason=reason, deadline=deadline)

        if self.attempt("reopen", model, reasons, call):  # same leader; the clock runs again
            model.stage, model.deadline, model.evaluations = Stage.IN_PROGRESS.value, deadline, {}
            model.paused_since = None

    def a_closed_item_takes_nothing_but_a_supervisor_s_reopen(self, issue: UUID) -> None:
        """Right after closing, try every other command (well formed): each must be refused."""
        model = self.models[issue]
        assert model.deadline is not None
        later = self.now - model.deadline + timedelta(days=5)  # after both the deadline and now
        self.assign_leader(issue, "Sun", timedelta(days=5), UTC)
        self.hand_over(issue, "Sun", "the leader retired", None)
        self.extend_deadline(issue, later, UTC, False)
        self.pause_clock(issue, "waiting for the power company")
        self.resume_clock(issue)
        self.report_progress(issue, "one more thing", None, False)
        self.request_coordination(issue, "Water office")
        self.answer_coordination(issue, 0, "done")
        self.record_inspection(issue, "Rep Xu", True)
        self.disclose(issue, ["title"], None)
        self.report_resolution(issue, "fixed again")
        self.record_evaluation(issue, "Rep Xu", "satisfied", None)
        self.conclude_evaluation(issue, None, UTC)
        self.close_fixed_at_once(issue, "fixed on the spot")
        self.register_and_explain(issue, timedelta(days=5), "needs next year's budget")
        self.revisit(issue)
        self.reopen(issue, False, timedelta(days=5), "an officer may not")
        self.escalate_if_overdue(issue, twice=False)  # nothing to do, nothing written
        assert model.stage == Stage.CLOSED

    # -- rules: register and explain ---------------------------------------------------

    @rule(issue=issues, offset=offsets, explanation=notes)
    def register_and_explain(self, issue: UUID, offset: timedelta, explanation: str) -> None:
        model = self.models[issue]
        revisit_at = self.now + offset
        reasons = model.closed_or(set(), stages=(Stage.OPENED.value,))
        if revisit_at <= self.now:
            reasons.add("past")
        if not explanation.strip():
            reasons.add("input")

        def call() -> Result:
            return self.workflow.register_and_explain(
                OFFICER, issue, explanation=explanation, revisit_at=revisit_at
            )

        if self.attempt("register_and_explain", model, reasons, call):
            model.stage = Stage.REGISTERED.value

    @rule(issue=issues)
    def revisit(self, issue: UUID) -> None:
        model = self.models[issue]
        reasons = model.closed_or(set(), stages=(Stage.REGISTERED.value,))
        if self.attempt("revisit", model, reasons, lambda: self.workflow.revisit(OFFICER, issue)):
            model.stage = Stage.OPENED.value

    # -- the office at work, so that items get far along -------------------------------

    @rule(
        issue=issues,
        leader=st.sampled_from(["Zhang", "Li", "Zhao"]),
        days=st.integers(min_value=1, max_value=40),
        evaluator=st.sampled_from(["Rep Chen", "Rep Zhou", "Rep Wu"]),
        verdict=st.sampled_from(["satisfied", "satisfied", "basically_satisfied", "dissatisfied"]),
        # Applied to the plan's first step: a handover (perhaps to the same leader), more work
        # before resolving, or an officer trying to reopen a closed item.
        twist=st.sampled_from(["", "", "", "handover", "more work", "officer"]),
        # "step": the next sensible command; a number: that many days pass, then two sweeps;
        # "deadline": the clock stops exactly at the item's deadline, then moves one second on;
        # a negative number: the clock is paused for that many days, with sweeps, then resumed.
        plan=st.lists(
            st.one_of(
                st.just("step"),
                st.just("step"),
                st.just("step"),
                st.just("deadline"),
                st.integers(min_value=1, max_value=70),
                st.integers(min_value=-30, max_value=-1),
            ),
            min_size=2,
            max_size=10,
        ),
    )
    def the_office_moves_the_item_along(
        self,
        issue: UUID,
        leader: str,
        days: int,
        evaluator: str,
        verdict: str,
        twist: str,
        plan: list[str | int],
    ) -> None:
        """The next sensible command, or days passing and a sweep: random commands alone rarely
        take an item through its whole life."""
        for move in plan:
            if isinstance(move, int) and move < 0:
                self.pause_clock(issue, "waiting for the power company")
                self.time_passes(hours=-24 * move, sweeps=2)
                self.resume_clock(issue)
            elif isinstance(move, int):
                self.time_passes(hours=24 * move, sweeps=2)
            elif move == "deadline":
                self.the_deadline_arrives(issue)
            else:
                self.next_step(issue, leader, days, evaluator, verdict, twist)
                twist = ""

    def next_step(
        self, issue: UUID, leader: str, days: int, evaluator: str, verdict: str, twist: str
    ) -> None:
        model = self.models[issue]
        stage = Stage(model.stage)
        if stage.value in WORKING and twist == "handover":  # sometimes to the leader it already has
            self.hand_over(issue, leader, "the department was reorganised", None)
        elif stage == Stage.OPENED:
            self.assign_leader(issue, leader, timedelta(days=days), UTC)
        elif stage == Stage.REGISTERED:
            self.revisit(issue)
        elif stage == Stage.ASSIGNED:
            self.report_progress(issue, "work has started", None, False)
        elif stage == Stage.IN_PROGRESS and twist == "more work":
            self.report_progress(issue, "the second street is dug up", None, False)
        elif stage == Stage.IN_PROGRESS:
            self.report_resolution(issue, "the lamps are lit")
        elif stage == Stage.RESOLVED and len(model.evaluations) < 2:
            waiting = [rep for rep in ("Rep Chen", "Rep Zhou", "Rep Wu") if rep not in model.evaluations]
            self.record_evaluation(issue, evaluator if evaluator in waiting else waiting[0], verdict, None)
        elif stage == Stage.RESOLVED:
            self.conclude_evaluation(issue, None, UTC)
        else:  # closed: a supervisor reopens it (an officer tries, and is refused)
            self.reopen(issue, twist != "officer", timedelta(days=days), "the lamps went dark again")

    # -- checks -------------------------------------------------------------------------

    @rule(issue=issues, data=st.data())
    def an_earlier_version_is_its_first_events_replayed(self, issue: UUID, data: st.DataObject) -> None:
        events = self.workflow.history(issue)
        version = data.draw(st.integers(min_value=1, max_value=len(events)), label="version")
        assert self.workflow.issue_at(issue, version=version) == fast_projector(None, events[:version])

    @invariant()
    def every_issue_matches_the_model_and_its_own_history(self) -> None:
        position = self.position()
        if position == self.checked_at:
            return  # nothing was written since the last check, so nothing can have changed
        self.checked_at = position
        for model in self.models.values():
            live = self.workflow.get_issue(model.id)
            assert isinstance(live, Issue)
            # What the rules say the state should be.
            assert live.version == model.version, "the number of stored events differs from the model's"
            assert (live.stage, live.leader, live.level) == (model.stage, model.leader, model.level)
            assert live.deadline == model.deadline
            assert live.escalated_for == model.escalated_for
            assert live.paused_since == model.paused_since
            assert live.reminded == model.reminded
            assert (live.evaluations, live.rounds) == (model.evaluations, model.rounds)
            assert [c["answer"] is not None for c in live.coordinations] == model.answered
            if self.replayed.get(model.id) == live.version:
                continue  # nothing was stored for it since its history was last checked
            self.replayed[model.id] = live.version
            # 1-3, event by event, without the model.
            events = self.workflow.history(model.id)
            assert len(events) == live.version
            check_history(events, supervisor=SUPERVISOR.name)
            # 4. replayed from scratch, through the repository (and its snapshots), at past versions.
            assert fast_projector(None, events) == live
            assert self.workflow.repository.get(model.id) == live
            n = len(events)
            if n >= 50:
                assert self.workflow.snapshots is not None
                assert list(self.workflow.snapshots.get(model.id)), "no snapshot after 50 events"
            for version in sorted({1, n // 2 or 1, max(n - 1, 1), *(v for v in (50, 51) if v <= n)}):
                past = self.workflow.issue_at(model.id, version=version)
                assert past == fast_projector(None, events[:version]), f"issue_at(version={version})"


# Derandomized: the same runs every time, in CI and on laptops. Many short runs find more than
# a few long ones here; about 12 s of CPU on SQLite.
MACHINE_SETTINGS = settings(
    max_examples=100,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    database=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_issue_invariants_hold_for_random_command_sequences() -> None:
    run_state_machine_as_test(IssueWorkflowMachine, settings=MACHINE_SETTINGS)


def test_a_long_life_through_every_level_keeps_the_invariants() -> None:
    """One fixed story, checked like the random ones: paused and resumed, escalated up every level
    (twice by racing schedulers), referred twice, reminded once, reopened by the people and by a
    supervisor, and long enough for a snapshot."""
    machine = IssueWorkflowMachine()
    try:
        lamps = machine.a_first_issue("grid", "immediate")
        drain = machine.open_issue("Blocked drain on Elm Road", "village", "long")
        day = 24

        def deadline_of(issue: UUID) -> datetime:
            deadline = machine.models[issue].deadline
            assert deadline is not None
            return deadline

        story: list[Callable[[], object]] = [
            lambda: machine.assign_leader(lamps, "Zhang", timedelta(days=3), BEIJING),
            lambda: machine.hand_over(lamps, "Li", "Zhang moved to the county", "handover-1"),
            lambda: machine.hand_over(lamps, "Li", "Zhang moved to the county", "handover-1"),  # a retry
            lambda: machine.hand_over(lamps, "Zhao", "another reason", "handover-1"),  # key reused
            lambda: machine.hand_over(lamps, " Li ", "to the leader it has", None),  # refused
            lambda: machine.a_busy_week(lamps, 30),
            lambda: machine.pause_clock(lamps, "waiting for the power company"),
            lambda: machine.time_passes(10 * day, 2),  # overdue on paper, but the clock is stopped
            lambda: machine.resume_clock(lamps),  # due 10 days later: on day 13
            lambda: machine.the_deadline_arrives(lamps),  # at 13 days nothing; a second later: village
            lambda: machine.time_passes(4 * day, 2),  # nothing: the village deadline is weeks away
            # Service levels count working days (holidays too): wait well past each deadline.
            lambda: machine.time_passes(40 * day, 0),
            lambda: machine.escalate_from_two_racing_schedulers(lamps),  # village -> town
            lambda: machine.time_passes(70 * day, 0),
            lambda: machine.escalate_if_overdue(lamps, twice=True),  # town -> district
            lambda: machine.time_passes(130 * day, 2),  # referred to the standing committee
            lambda: machine.escalate_from_two_racing_schedulers(lamps),  # nothing: already referred
            lambda: machine.extend_deadline(
                lamps, machine.now - deadline_of(lamps) + timedelta(days=9), UTC, True
            ),
            lambda: machine.remind_if_due(lamps, 5),  # not yet: due in 9 days
            lambda: machine.time_passes(4 * day, 0),
            lambda: machine.remind_if_due(lamps, 5),
            lambda: machine.remind_if_due(lamps, 5),  # once per deadline and lead
            lambda: machine.time_passes(6 * day, 1),  # referred again, for the extended deadline
            lambda: machine.a_busy_week(lamps, 25),
            lambda: machine.report_resolution(lamps, "the lamps are lit"),
            lambda: machine.record_evaluation(lamps, "Rep Chen", "satisfied", None),
            lambda: machine.record_evaluation(lamps, "Rep Zhou", "dissatisfied", None),
            lambda: machine.conclude_evaluation(lamps, None, UTC),  # 50 %: reopened, due in 60 days
            lambda: machine.disclose(lamps, ["outcome", "leader"], None),  # "reopened after evaluation"
            lambda: machine.report_resolution(lamps, "all the lamps are lit"),
            lambda: machine.record_evaluation(lamps, "Rep Zhou", "satisfied", None),
            lambda: machine.conclude_evaluation(lamps, timedelta(days=-1), UTC),  # closes: no deadline needed
            lambda: machine.report_progress(lamps, "one more thing", None, False),
            lambda: machine.disclose(lamps, ["title"], None),
            lambda: machine.hand_over(lamps, "Sun", "Li retired", None),
            lambda: machine.reopen(lamps, False, timedelta(days=10), "the lamps went dark again"),
            lambda: machine.escalate_if_overdue(lamps, twice=False),  # closed: nothing to do, no error
            lambda: machine.reopen(lamps, True, timedelta(days=10), "the lamps went dark again"),
            lambda: machine.report_resolution(lamps, "new cable, lamps lit"),
            lambda: machine.close_fixed_at_once(lamps, "fixed on the spot"),
            lambda: machine.register_and_explain(drain, timedelta(days=30), "needs next year's budget"),
            lambda: machine.assign_leader(drain, "Zhang", timedelta(days=5), UTC),
            lambda: machine.revisit(drain),
            lambda: machine.assign_leader(drain, "Zhang", timedelta(days=5), UTC),
            lambda: machine.report_resolution(drain, "drain cleared"),
            lambda: machine.close_fixed_at_once(drain, "fixed on the spot"),  # not an immediate item
        ]
        for step in story:
            step()
            machine.every_issue_matches_the_model_and_its_own_history()

        story_of = {
            issue: [type(e).__name__ for e in machine.workflow.history(issue)] for issue in (lamps, drain)
        }
        lamp = machine.models[lamps]
        assert (lamp.stage, lamp.leader, lamp.level) == ("closed", "Li", "district")
        assert lamp.escalated_for[0] == START + timedelta(days=13)  # the 10 paused days added
        assert story_of[lamps].count("Escalated") == 3
        assert story_of[lamps].count("ReferredToStandingCommittee") == 2
        assert story_of[lamps].count("ReminderDue") == 1
        assert story_of[lamps].count("Reopened") == 2
        assert story_of[lamps].count("Disclosed") == 1
        assert story_of[lamps].count("LeadershipHandedOver") == 1
        assert len(story_of[lamps]) > 50
        assert story_of[drain][-1] == "ResolutionReported"
    finally:
        machine.teardown()


# -- the escalation ladder on the bare aggregate (no I/O), many more steps ----------------


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    level=st.sampled_from([level.value for level in Level]),
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=24 * 70), st.integers(min_value=0, max_value=3)),
        max_size=40,
    ),
)
def test_an_overdue_issue_climbs_one_level_per_missed_deadline_up_to_the_committee(
    level: str, steps: list[tuple[int, int]]
) -> None:
    """Sweeps as often as you like (0-3 per moment); each missed deadline escalates once."""
    levels = ServiceLevels()
    now = START
    with event_time(now):
        issue = Issue.open(
            id=UUID(int=1), number="2026-0001", title="Blocked drain", area="environment", level=level,
            horizon="near", description=None, opinion_ids=[], actor="Wang", meeting_id=None,
        )  # fmt: skip
        issue.assign_leader(
            leader="Zhang", department="Water office", goals=["drain clear"], measures=["dig"],
            deadline=now + timedelta(days=3), now=now, actor="Wang", meeting_id=None,
        )  # fmt: skip
    expected_escalations = 0
    for hours, sweeps in steps:
        now += timedelta(hours=hours)
        due = (
            issue.deadline is not None and issue.deadline < now and issue.deadline not in issue.escalated_for
        )
        with event_time(now):
            recorded = [issue.escalate_if_overdue(now, levels, actor="scheduler") for _ in range(sweeps)]
        assert recorded == ([True] + [False] * (sweeps - 1) if due and sweeps else [False] * sweeps)
        expected_escalations += bool(due and sweeps)
    events = issue.collect_events()
    assert len(issue.escalated_for) == expected_escalations
    assert len(set(issue.escalated_for)) == expected_escalations
    check_history(events, supervisor="nobody")
    assert fast_projector(None, events) == issue
