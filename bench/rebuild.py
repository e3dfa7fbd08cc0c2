"""Events per second rebuilding every view on SQLite, beside a decode-only replay of the same log.

Both sides run in this process, in the same run, over the same SQLite event log, reading the
notification log in the projector's page size (1000):

- rebuild: `Projector.rebuild()` (`api.storage.build_projector`): fresh `*__new` tables, every
  view's handlers (rows held in memory, written once in key order), then the atomic swap, the
  indexes and the board's text index, in one process (as `caseline rebuild` does by default).
  The same rebuild shared among one process per CPU (`--jobs`) is timed too and printed beside.
- decode-only: `recorder.select_notifications(start, 1000, stop)` and `mapper.to_domain_event`
  for every notification, nothing else: the floor any projector over this library pays.

The decode-only pass runs before and after the rebuild and its mean is the baseline, so a
warming page cache or a noisy neighbour does not favour either side. Note that the rebuild
reads and decodes only the events some view reads (receipts, issue numbers, counters and
meetings are skipped), which flatters it slightly; the counts are printed. It also decodes
with its own decoder (orjson, `projections/decoding.py`), faster than the library's mapper, so
a stricter baseline is printed too: the same decode-only passes through that decoder.

The log is a realistic mix: opinions recorded, routed, answered and merged; issues opened
(with the counter and number alias the workflow writes), assigned, worked on, coordinated,
inspected, paused, escalated, handed over, disclosed, resolved, evaluated, closed or reopened,
registered and explained; meetings and their decisions; idempotency receipts. It is written
through the aggregates' own command methods (the ones `Workflow` calls) and saved with
`Workflow.save` in batches, which is what makes 200k events take seconds rather than minutes.
Each batch's events are saved interleaved in time order (each aggregate's in version order),
so a page of the log mixes hundreds of issues as a real log does; saving events rather than
aggregates means no snapshots are taken, which a rebuild never reads anyway. The log is
cached in the temp folder, keyed by size and by the source of this script and of the
domain, and reused by later runs (`--fresh` regenerates it).

Run: `.venv/bin/python bench/rebuild.py` (200k events; about a minute the first time) or
`--quick` (5k events) or `--events N`.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import os
import random
import shutil
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from api.settings import Settings
from api.storage import build_projector, build_workflow
from domain.base import CaselineAggregate
from domain.clock import FakeClock, event_time
from domain.issue import Issue, ServiceLevels
from domain.meeting import Meeting
from domain.opinion import Opinion
from domain.rules import Area, Channel, Kind, Level
from domain.workflow import NAMESPACE, IssueCounter, IssueNumber, Receipt, Workflow
from projections.projector import Projector

TARGET = 0.50
PAGE = 1000  # the projector's page size (api.storage.build_projector default)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    "bench/rebuild.py",
    "domain/issue.py",
    "domain/opinion.py",
    "domain/meeting.py",
    "domain/workflow.py",
]
LEVELS = ServiceLevels()
LEADERS = [f"Leader {s} {g}" for s in ("Zhang", "Wang", "Li", "Zhao", "Liu", "Chen") for g in "ABCDEFGHIJ"]
DEPARTMENTS = ["Town Works Office", "Water Bureau", "Roads Office", "Civil Affairs", "Environment Office",
               "Public Security", "Housing Office", "Education Office", "Health Office"]  # fmt: skip
UNITS = [f"grid {n}" for n in range(1, 41)]
LOW_LEVELS = [level.value for level in list(Level)[:3]]  # where items start; escalation climbs from there
REPS = [f"Rep. {s}" for s in ("Li Na", "Zhou Min", "Sun Hao", "Wu Lei", "Zheng Yu", "Feng Jie", "Xu Lin")]
TEXTS = [
    "The lane behind building {n} has no street light; the elderly fall at night.",
    "Rain water floods the market entrance of {u} after every storm.",
    "Neighbours dispute the parking spaces in courtyard {n}; please mediate.",
    "The bus stop at {u} has no shelter and the schedule is not posted.",
    "Construction noise after 22:00 near block {n} keeps children awake.",
    "Garbage at the east gate of {u} is collected only twice a week.",
]


# -- generating the log --------------------------------------------------------------------------


class Writer:
    """Builds one case after another with the aggregates' commands, saving in batches."""

    def __init__(self, workflow: Workflow, rng: random.Random) -> None:
        self.wf = workflow
        self.rng = rng
        self.now = START
        self.base = START  # cases overlap: each starts a little after the previous one
        self.pending: list[CaselineAggregate] = []
        self.counters: dict[int, IssueCounter] = {}
        self.serial = 0
        self.meeting: Meeting | None = None

    def uid(self, kind: str) -> UUID:
        self.serial += 1
        return uuid5(NAMESPACE_URL, f"bench/{kind}/{self.serial}")

    def tick(self, minutes: float) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now

    def at(self, minutes: float = 7) -> Any:
        """Stamp what follows `minutes` later than the last step, like a clerk's next command."""
        return event_time(self.tick(minutes))

    def flush(self) -> None:
        """Save the batch's events interleaved in time order, as concurrent commands would have."""
        aggregates = {id(a): a for a in self.pending if a.pending_events}
        queues = [deque(a.collect_events()) for a in aggregates.values()]
        heap = [(queue[0].timestamp, n) for n, queue in enumerate(queues)]
        heapq.heapify(heap)
        events = []
        while heap:  # each aggregate's events stay in version order
            _, n = heapq.heappop(heap)
            events.append(queues[n].popleft())
            if queues[n]:
                heapq.heappush(heap, (queues[n][0].timestamp, n))
        if events:
            self.wf.save(*events)
        self.pending.clear()

    def keep(self, *aggregates: CaselineAggregate) -> None:
        self.pending.extend(aggregates)

    def new_meeting(self, unit: str) -> Meeting:
        with self.at(30):
            meeting = Meeting.hold(
                id=self.uid("meeting"), kind="assignment", unit=unit, held_at=self.now,
                attendees=self.rng.sample(REPS, 3), title=f"Assignment meeting of {unit}", actor="Clerk",
            )  # fmt: skip
        self.keep(meeting)
        return meeting

    def opinion(self, unit: str, area: str) -> Opinion:
        rng = self.rng
        n = rng.randrange(1, 90)
        with self.at(rng.uniform(1, 40)):
            opinion = Opinion.record(
                id=self.uid("opinion"), kind=rng.choice(list(Kind)).value, area=area,
                channel=rng.choice(list(Channel)).value, unit=unit,
                text_=rng.choice(TEXTS).format(n=n, u=unit), recorder=rng.choice(REPS),
                place=f"{unit}, building {n}", latitude=30 + rng.random(), longitude=120 + rng.random(),
                contact_ref=self.uid("contact") if rng.random() < 0.7 else None, actor="Recorder",
            )  # fmt: skip
        self.keep(opinion)
        if rng.random() < 0.3:  # submitted with an idempotency key (Open311, a retrying client)
            with event_time(self.now):
                self.keep(
                    Receipt(
                        id=self.uid("receipt"), command="record_opinion", fingerprint=f"{n:064x}",
                        answer={"id": str(opinion.id), "version": 1, "number": None, "detail": {}},
                    )
                )  # fmt: skip
        with self.at(60):
            opinion.route_to(rng.choice(["fix_at_once", "coordinate", "coordinate"]),
                             "Decided at the analysis meeting.", actor="Clerk", meeting_id=None)  # fmt: skip
        return opinion

    def case(self) -> None:
        """One voice (or a few) from recording to the people's verdict, with what happens on the way."""
        rng = self.rng
        self.base += timedelta(minutes=rng.uniform(5, 25))
        self.now = self.base
        unit, area = rng.choice(UNITS), rng.choice(list(Area)).value
        opinions = [self.opinion(unit, area) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        if self.meeting is None or rng.random() < 0.05:
            self.meeting = self.new_meeting(unit)
        meeting = self.meeting
        with self.at(120):
            counter = self.counters.get(self.now.year)
            if counter is None:
                counter = IssueCounter(
                    id=uuid5(NAMESPACE, f"issue-counter/{self.now.year}"), year=self.now.year
                )
                self.counters[self.now.year] = counter
            number = counter.take()
            issue = Issue.open(
                id=self.uid("issue"), number=number, title=f"{opinions[0].text[:60]} ({unit})", area=area,
                level=rng.choice(LOW_LEVELS), horizon=rng.choice(["immediate", "near", "mid", "long"]),
                description=None, opinion_ids=[o.id for o in opinions], actor="Clerk", meeting_id=meeting.id,
                unit=unit,
            )  # fmt: skip
            alias = IssueNumber(id=uuid5(NAMESPACE, f"issue-number/{number}"), issue_id=issue.id)
            for o in opinions:
                o.merge_into(issue.id, number, actor="Clerk", meeting_id=meeting.id)
        self.keep(issue, counter, alias, *opinions)
        if rng.random() < 0.1:
            with self.at(30):
                meeting.decide(f"Assign {number} to the works office.", issue_id=issue.id, actor="Clerk")
            self.keep(meeting)
        if rng.random() < 0.06:
            with self.at(60):
                issue.register_and_explain(
                    explanation="Needs the district budget.", revisit_at=self.now + timedelta(days=200),
                    now=self.now, actor="Clerk", meeting_id=meeting.id,
                )  # fmt: skip
            for o in opinions:
                with self.at(30):
                    o.answer("Registered and explained at the meeting.", by="Clerk", actor="Clerk")
            return
        leader = rng.choice(LEADERS)
        with self.at(60):
            issue.assign_leader(
                leader=leader, department=rng.choice(DEPARTMENTS), goals=["Fixed and inspected"],
                measures=["Survey", "Repair", "Inspect"], deadline=LEVELS.deadline_for(issue.level, self.now),
                now=self.now, actor="Clerk", meeting_id=meeting.id,
            )  # fmt: skip
        for _ in range(rng.choice([1, 2, 2, 3, 4])):
            with self.at(rng.uniform(60, 1500)):
                issue.report_progress(note="Crew on site; half of the work done.", actor=leader)
                issue.remind_if_due(self.now, timedelta(days=2), actor="scheduler")
        if rng.random() < 0.25:
            with self.at(30):
                index = issue.request_coordination(
                    department=rng.choice(DEPARTMENTS), request="Shut the main for two hours.", actor=leader
                )
            with self.at(300):
                issue.answer_coordination(index=index, answer="Done on Tuesday morning.", actor="Clerk")
        if rng.random() < 0.1:
            with self.at(30):
                issue.pause_clock(reason="Waiting for the utility company.", now=self.now, actor=leader)
            with self.at(1440):
                issue.resume_clock(now=self.now, actor=leader)
        if rng.random() < 0.1:
            successor = rng.choice([x for x in LEADERS if x != issue.leader])
            with self.at(30):
                issue.hand_over(to=successor, reason="Moved to another post.", actor="Clerk", meeting_id=None)
            leader = successor
        deadline = issue.deadline
        assert deadline is not None
        if rng.random() < 0.15:  # the scheduler finds it overdue
            self.now = max(self.now, deadline + timedelta(hours=1))
            with event_time(self.now):
                issue.escalate_if_overdue(self.now, LEVELS, actor="scheduler")
        elif rng.random() < 0.1:
            with self.at(30):
                issue.extend_deadline(deadline=deadline + timedelta(days=10), reason="Parts late.",
                                      approver="Supervisor Sun", now=self.now, actor="Clerk")  # fmt: skip
        if rng.random() < 0.3:
            with self.at(30):
                issue.record_inspection(inspector=rng.choice(REPS), findings="Work matches the plan.",
                                        confirmed=True, actor="Clerk")  # fmt: skip
        with self.at(30):
            issue.disclose(fields=["title", "leader", "department", "deadline"], where="village board",
                           note=None, actor="Clerk")  # fmt: skip
        if rng.random() < 0.12:  # still being worked on
            return
        with self.at(120):
            issue.report_resolution(summary="Repaired and tested.", actor=leader)
        for rep in rng.sample(REPS, rng.choice([3, 4, 5])):
            with self.at(20):
                verdict = rng.choices(["satisfied", "basically_satisfied", "dissatisfied"], [80, 15, 5])[0]
                issue.record_evaluation(evaluator=rep, verdict=verdict, comment="Seen on the spot.",
                                        actor="Clerk", meeting_id=meeting.id)  # fmt: skip
        with self.at(60):
            issue.conclude_evaluation(threshold=0.95, new_deadline=None, levels=LEVELS, now=self.now,
                                      actor="Clerk", meeting_id=meeting.id)  # fmt: skip
        for o in opinions:
            with self.at(30):
                o.answer("Your voice has an echo: the work is done.", by="Clerk", actor="Clerk")


def events_in(wf: Workflow) -> int:
    return wf.recorder.max_notification_id() or 0


def generate(folder: Path, events: int, seed: int = 7) -> int:
    """Write at least `events` events into `folder/events.sqlite`; returns how many."""
    wf = build_workflow(Settings(data_dir=folder), clock=FakeClock(START))
    try:
        writer = Writer(wf, random.Random(seed))
        written = 0
        cases = min(500, max(20, events // 100))  # per batch: ~25 events each
        while written < events:
            for _ in range(cases):
                writer.case()
            writer.flush()
            written = events_in(wf)
        return written
    finally:
        wf.close()


def cached_log(events: int, fresh: bool) -> Path:
    """A folder holding a generated log of `events` events (and views caught up to it), made once."""
    digest = hashlib.sha256(b"".join((ROOT / s).read_bytes() for s in SOURCES)).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "caseline-bench" / f"rebuild-{events}-{digest}"
    done = folder / "complete"
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if done.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)  # a half-written log from an interrupted run
    folder.mkdir(parents=True)
    started = time.perf_counter()
    written = generate(folder, events)
    print(f"generated {written} events in {time.perf_counter() - started:.1f} s into {folder}")
    projector = build_projector(Settings(data_dir=folder), page_size=PAGE)
    try:
        started = time.perf_counter()
        consumed = projector.catch_up()
        seconds = time.perf_counter() - started
        print(f"live catch-up (Projector.catch_up): {consumed / seconds:.0f} events/s")
    finally:
        close(projector)
    done.touch()
    return folder


def close(projector: Projector) -> None:
    projector.db.close()
    projector.log.close()


# -- measuring ------------------------------------------------------------------------------------


def pages(projector: Projector, stop: int) -> Iterator[Any]:
    start = 1
    while start <= stop:
        page = projector.log.recorder.select_notifications(start=start, limit=PAGE, stop=stop)
        if not page:
            return
        yield page
        start = page[-1].id + 1


@dataclass
class Timing:
    """Events handled, wall-clock seconds and this process's CPU seconds."""

    events: int
    wall: float
    cpu: float

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.events + other.events, self.wall + other.wall, self.cpu + other.cpu)


def timed(step: Callable[[], int]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    events = step()
    return Timing(events, time.perf_counter() - wall, time.process_time() - cpu)


def decode_only(projector: Projector, stop: int, to_event: Callable[[Any], Any] | None = None) -> int:
    """Read the log in pages and decode every entry: with the library's mapper unless told."""
    to_event = to_event or projector.log.mapper.to_domain_event
    count = 0
    for page in pages(projector, stop):
        for notification in page:
            to_event(notification)
        count += len(page)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild events/s beside a decode-only replay of the log.")
    parser.add_argument("--events", type=int, default=200_000, help="size of the log (default 200000)")
    parser.add_argument("--quick", action="store_true", help="a 5k-event smoke run")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached log")
    args = parser.parse_args()
    events = 5_000 if args.quick else args.events

    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    folder = cached_log(events, args.fresh)
    jobs = os.cpu_count() or 1
    projector = build_projector(Settings(data_dir=folder), page_size=PAGE)
    try:
        head = projector.log.head()
        assert projector.position() == head, "the cached views are not caught up"
        topics = Counter(n.topic for page in pages(projector, head) for n in page)  # also warms the cache
        handled = {topic for view in projector.views for topic in view.handlers}
        read = sum(n for topic, n in topics.items() if topic in handled)
        first = timed(lambda: decode_only(projector, head))
        own_first = timed(lambda: decode_only(projector, head, projector.decode))
        rebuilt = timed(projector.rebuild)
        shared = timed(lambda: projector.rebuild(jobs=jobs))
        own_second = timed(lambda: decode_only(projector, head, projector.decode))
        second = timed(lambda: decode_only(projector, head))
    finally:
        close(projector)

    assert rebuilt.events == shared.events == first.events == second.events == own_first.events == head
    decode, own = first + second, own_first + own_second
    rebuild_rate, decode_rate = rebuilt.events / rebuilt.wall, decode.events / decode.wall
    print(
        f"log: {head} events on SQLite ({len(topics)} event types; {read} read by some view); "
        f"page size {PAGE}; {folder}"
    )
    print(
        f"  decode-only passes: {first.events / first.wall:.0f} and {second.events / second.wall:.0f} "
        "events/s; "
        f"CPU time: rebuild {rebuilt.cpu:.1f} s, decode-only {decode.cpu / 2:.1f} s per pass, "
        f"ratio {decode.cpu / 2 / rebuilt.cpu:.2f} (less sensitive to a busy machine)"
    )
    print(
        f"  stricter baseline, decode-only through the projector's own decoder (orjson): "
        f"{own.events / own.wall:.0f} events/s; rebuild ratio {rebuild_rate / (own.events / own.wall):.2f}, "
        f"CPU time ratio {own.cpu / 2 / rebuilt.cpu:.2f}"
    )
    print(
        f"  rebuild shared among {jobs} processes (caseline rebuild --jobs {jobs}): "
        f"{shared.events / shared.wall:.0f} events/s, ratio {shared.events / shared.wall / decode_rate:.2f}"
    )
    print(
        f"rebuild: {rebuild_rate:.0f} events/s; decode-only: {decode_rate:.0f} events/s; "
        f"ratio {rebuild_rate / decode_rate:.2f} (target >= {TARGET:.2f})"
    )


if __name__ == "__main__":
    main()
