"""Commands per second through the workflow service on SQLite, beside the bare library's own loop.

Both sides run in this process, in the same run, on the same kind of store (the library's SQLite
recorder: a file in a temporary folder, WAL mode, one commit per command), so the ratio says what
Caseline's application service costs on top of eventsourcing itself, whatever the machine.

- workflow: `api.storage.build_workflow(Settings(data_dir=tmp), clock=FakeClock(...))`; each
  command loads an issue (snapshots every 50 events, `fast_projector`), decides, and saves.
- library loop: a one-method `eventsourcing.domain.Aggregate` in a plain
  `eventsourcing.application.Application` (PERSISTENCE_MODULE=eventsourcing.sqlite, its own file):
  `agg = app.repository.get(id); agg.do(); app.save(agg)`.

Fairness: every phase starts from aggregates of two events and touches them round-robin. The
library loop replays every event on each load; the workflow runs with its item cache, as deployed
(`CASELINE_ISSUE_CACHE`), and reads only the events written since its cached copy. The phases run interleaved in small blocks
(rotating which goes first), so a noisy neighbour on the machine slows them all alike; each
repetition uses fresh files; ratios are taken within a repetition, then the median is reported.

Run: `.venv/bin/python bench/commands.py` (about 30 s on an idle machine; no repetition starts
after `--budget` seconds, 40 by default) or `--quick` for a smoke run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock
from domain.rules import Actor, Role
from domain.workflow import Workflow, fast_projector

TARGET = 0.70
MIN_REPETITIONS = 3
BLOCK = 20  # commands of one phase before the next phase takes its turn
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OFFICER = Actor("Wang Fang", role=Role.OFFICER)


class Counter(Aggregate):
    """The smallest aggregate worth loading: created, then one event method."""

    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def do(self) -> None:
        """Count one more."""
        self.count += 1


class LibraryLoop(Application[UUID]):
    """A plain application: no snapshots, the default `project_aggregate`."""

    name = "librarybench"


# -- the workflow's commands, on an issue that is being worked on ------------------------------

Command = Callable[[Workflow, UUID, str | None], object]


def report_progress(wf: Workflow, issue_id: UUID, key: str | None) -> object:
    return wf.report_progress(OFFICER, issue_id, note="Crew on site; drainage half done.", key=key)


def record_inspection(wf: Workflow, issue_id: UUID, key: str | None) -> object:
    return wf.record_inspection(
        OFFICER, issue_id, inspector="Rep. Li Na", findings="Work matches the plan.", confirmed=True, key=key
    )


def request_coordination(wf: Workflow, issue_id: UUID, key: str | None) -> object:
    return wf.request_coordination(
        OFFICER, issue_id, department="Water Bureau", request="Shut the main for two hours.", key=key
    )


def disclose(wf: Workflow, issue_id: UUID, key: str | None) -> object:
    return wf.disclose(OFFICER, issue_id, fields=["title", "leader"], where="village board", key=key)


# A working day's traffic on items under way: mostly progress reports, some of everything else;
# a quarter of the commands carry an idempotency key (a client that retries).
MIX: list[tuple[float, Command]] = [
    (0.80, report_progress),
    (0.10, record_inspection),
    (0.05, request_coordination),
    (0.05, disclose),
]
MIX_KEYED_SHARE = 0.25


def open_working_issues(wf: Workflow, count: int) -> list[UUID]:
    """`count` issues, opened and assigned: two events each, ready to take progress reports."""
    ids = []
    for n in range(count):
        issue_id = wf.open_issue(
            OFFICER, title=f"Blocked drain on lane {n}", area="environment", level="grid", horizon="near"
        ).id
        wf.assign_leader(
            OFFICER,
            issue_id,
            leader="Zhang Wei",
            department="Town Works Office",
            goals=["Clear the drain"],
            measures=["Send the crew"],
            deadline=START + timedelta(days=30),
        )
        ids.append(issue_id)
    return ids


def new_counters(app: LibraryLoop, count: int) -> list[UUID]:
    """`count` counters of two events each, like an opened and assigned issue."""
    ids = []
    for _ in range(count):
        counter = Counter()
        counter.do()
        app.save(counter)
        ids.append(counter.id)
    return ids


# -- phases ----------------------------------------------------------------------------------


@dataclass
class Phase:
    """One kind of load: `step(n)` runs its n-th command; `seconds` sums the time spent."""

    name: str
    step: Callable[[int], object]
    seconds: float = 0.0

    def run(self, first: int, stop: int) -> None:
        started = time.perf_counter()
        for n in range(first, stop):
            self.step(n)
        self.seconds += time.perf_counter() - started


def workflow_phase(name: str, wf: Workflow, ids: list[UUID], plan: list[tuple[Command, str | None]]) -> Phase:
    def step(n: int) -> object:
        command, key = plan[n]
        return command(wf, ids[n % len(ids)], key)

    return Phase(name, step)


def library_phase(name: str, app: LibraryLoop, ids: list[UUID], *, fast: bool) -> Phase:
    def step(n: int) -> object:
        if fast:
            agg: Counter = app.repository.get(ids[n % len(ids)], projector_func=fast_projector)
        else:
            agg = app.repository.get(ids[n % len(ids)])
        agg.do()
        return app.save(agg)

    return Phase(name, step)


def repetition(folder: Path, rep: int, issues: int, commands: int) -> dict[str, float]:
    """Every phase once, on fresh files, interleaved in blocks; returns commands per second."""
    wf = build_workflow(Settings(data_dir=folder / "workflow"), clock=FakeClock(START))
    library = LibraryLoop(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(folder / "library.sqlite"),
            "SQLITE_LOCK_TIMEOUT": "30",  # as api.settings configures the workflow's store
        }
    )
    try:
        rng = random.Random(rep)
        mix_plan: list[tuple[Command, str | None]] = [
            (
                rng.choices([c for _, c in MIX], [w for w, _ in MIX])[0],
                f"mix-{rep}-{n}" if rng.random() < MIX_KEYED_SHARE else None,
            )
            for n in range(commands)
        ]
        phases = [
            library_phase("library", library, new_counters(library, issues), fast=False),
            library_phase("library_fast", library, new_counters(library, issues), fast=True),
            workflow_phase("mix", wf, open_working_issues(wf, issues), mix_plan),
            workflow_phase(
                "progress", wf, open_working_issues(wf, issues), [(report_progress, None)] * commands
            ),
            workflow_phase(
                "progress_keyed",
                wf,
                open_working_issues(wf, issues),
                [(report_progress, f"progress-{rep}-{n}") for n in range(commands)],
            ),
        ]
        for block, first in enumerate(range(0, commands, BLOCK)):
            turn = (block + rep) % len(phases)
            for phase in phases[turn:] + phases[:turn]:
                phase.run(first, min(first + BLOCK, commands))
        return {phase.name: commands / phase.seconds for phase in phases}
    finally:
        wf.close()
        library.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Workflow commands per second beside the library's loop.")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (about a second)")
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--issues", type=int, default=16, help="aggregates per phase")
    parser.add_argument("--commands", type=int, default=400, help="commands per phase and repetition")
    parser.add_argument(
        "--budget",
        type=float,
        default=40.0,
        help=f"seconds after which no further repetition starts (at least {MIN_REPETITIONS} run)",
    )
    args = parser.parse_args()
    repetitions, issues, commands = args.repetitions, args.issues, args.commands
    if args.quick:
        repetitions, issues, commands = 1, 4, 40

    runs: list[dict[str, float]] = []
    deadline = time.monotonic() + args.budget
    with tempfile.TemporaryDirectory(prefix="caseline-bench-") as tmp:
        for rep in range(repetitions):
            if rep >= MIN_REPETITIONS and time.monotonic() > deadline:
                break  # a loaded machine: fewer repetitions rather than a run of minutes
            folder = Path(tmp) / f"rep{rep}"
            folder.mkdir()
            runs.append(repetition(folder, rep, issues, commands))

    def rate(name: str) -> float:
        return statistics.median(run[name] for run in runs)

    def ratio(name: str, baseline: str = "library") -> float:
        return statistics.median(run[name] / run[baseline] for run in runs)

    print(
        f"{len(runs)} repetitions x {commands} commands per phase over {issues} aggregates "
        f"(each grows from 2 to {2 + commands // issues} events); medians; SQLite in {tempfile.gettempdir()}"
    )
    print(
        f"workflow: {rate('mix'):.0f} cmd/s; library loop: {rate('library'):.0f} cmd/s; "
        f"ratio {ratio('mix'):.2f} (target >= {TARGET:.2f})"
    )
    print(f"  report_progress, no key: {rate('progress'):.0f} cmd/s; ratio {ratio('progress'):.2f}")
    print(
        f"  report_progress, with idempotency key: {rate('progress_keyed'):.0f} cmd/s; "
        f"ratio {ratio('progress_keyed'):.2f}"
    )
    print(
        f"  stricter baseline, the library loop with the workflow's projector (no Protocol check): "
        f"{rate('library_fast'):.0f} cmd/s; workflow ratio {ratio('mix', 'library_fast'):.2f}, "
        f"report_progress no key {ratio('progress', 'library_fast'):.2f}, "
        f"with key {ratio('progress_keyed', 'library_fast'):.2f}"
    )


if __name__ == "__main__":
    main()
