"""Loading an issue with a long history: `Workflow.get_issue` beside the library's default load.

One SQLite file in a temporary folder holds the history, written through the workflow (open,
assign, then progress reports). Two applications read it in the same run:

- the workflow as built by `api.storage.build_workflow`: snapshots every 50 Issue events and
  `fast_projector` (the library's `project_aggregate` minus its per-event Protocol check), with
  its in-memory cache of items turned off (`issue_cache=0`), so every load is a cold one, as the
  first command on an item after a start is;
- a second `Workflow` over the same file with IS_SNAPSHOTTING_ENABLED=n, whose
  `repository.get(id)` is the library default: replay every event with `project_aggregate`.

Each of the four combinations (snapshots or not, fast_projector or not) is timed one load at a
time, the four interleaved and their order rotated, so load on the machine hits them alike; the
figures are medians. Every variant is checked to rebuild the same state before anything is timed.

Run: `.venv/bin/python bench/history.py` (about 20 s on an idle machine; timed loads stop after
`--budget` seconds, 30 by default) or `--quick` for a smoke run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from api.settings import Settings
from api.storage import build_workflow, contact_store
from domain.clock import FakeClock
from domain.issue import Issue
from domain.rules import Actor, Role
from domain.workflow import Workflow, fast_projector

TARGET = 5.0
MIN_ROUNDS = 50
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OFFICER = Actor("Wang Fang", role=Role.OFFICER)


def issue_with_history(wf: Workflow, clock: FakeClock, events: int) -> UUID:
    """An issue of exactly `events` events: opened, assigned, then progress reports."""
    issue_id = wf.open_issue(
        OFFICER, title="Blocked drain on Lane 4", area="environment", level="grid", horizon="near"
    ).id
    wf.assign_leader(
        OFFICER,
        issue_id,
        leader="Zhang Wei",
        department="Town Works Office",
        goals=["Clear the drain", "Repave the lane"],
        measures=["Send the crew", "Tell the households"],
        deadline=START + timedelta(days=60),
    )
    for n in range(events - 2):
        clock.advance(timedelta(minutes=10))
        wf.report_progress(
            OFFICER, issue_id, note=f"Day {n // 6 + 1}: crew on site, {n}% of the drain cleared."
        )
    version = wf.get_issue(issue_id).version
    if version != events:
        raise SystemExit(f"built an issue of {version} events, wanted {events}")
    return issue_id


def time_loads(
    variants: dict[str, Callable[[], Any]], rounds: int, budget: float
) -> tuple[dict[str, float], int]:
    """Median milliseconds per load of each variant, one load each per round, order rotating.

    Stops early (after at least MIN_ROUNDS) once `budget` seconds have passed; returns the medians
    and the number of rounds run.
    """
    samples: dict[str, list[float]] = {name: [] for name in variants}
    items = list(variants.items())
    for _ in range(20):  # warm-up: topics resolved, statements cached, pages in memory
        for _, load in items:
            load()
    deadline = time.monotonic() + budget
    for n in range(rounds):
        if n >= MIN_ROUNDS and time.monotonic() > deadline:
            break
        turn = n % len(items)
        for name, load in items[turn:] + items[:turn]:
            started = time.perf_counter()
            load()
            samples[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    return medians, min(len(values) for values in samples.values())


def same_state(variants: dict[str, Callable[[], Any]]) -> None:
    """Refuse to time variants that do not rebuild the same issue."""
    states = {name: vars(load()) for name, load in variants.items()}
    first_name, first = next(iter(states.items()))
    for name, state in states.items():
        if state != first:
            raise SystemExit(f"{name} rebuilt a different issue than {first_name}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Loading a 200-event issue, beside the library default.")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (a second or two)")
    parser.add_argument("--events", type=int, default=200, help="events in the issue's history")
    parser.add_argument("--rounds", type=int, default=600, help="timed loads of each variant")
    parser.add_argument(
        "--budget", type=float, default=30.0, help="seconds of timed loads, at most (after 50 rounds)"
    )
    args = parser.parse_args()
    events, rounds = args.events, args.rounds
    if args.quick:
        events, rounds = 100, 10

    with tempfile.TemporaryDirectory(prefix="caseline-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), issue_cache=0)  # cold loads: see the docstring
        clock = FakeClock(START)
        wf = build_workflow(settings, clock=clock)
        plain = Workflow(
            {**settings.event_store_env(), "IS_SNAPSHOTTING_ENABLED": "n"},
            clock=clock,
            contacts=contact_store(settings),
        )
        try:
            if wf.snapshots is None or plain.snapshots is not None:
                raise SystemExit("expected snapshots in the workflow and none in the baseline")
            interval = wf.snapshotting_intervals[Issue]
            # The headline issue, and the worst case of the snapshot cycle: one event short of the
            # next snapshot, so a load replays interval - 1 events after the latest snapshot.
            cases = {events: issue_with_history(wf, clock, events)}
            worst = (events // interval) * interval - 1
            if worst > interval:
                cases[worst] = issue_with_history(wf, clock, worst)

            for count, issue_id in cases.items():
                replayed = count % interval
                variants: dict[str, Callable[[], Any]] = {
                    "get_issue": partial(wf.get_issue, issue_id),
                    "default": partial(plain.repository.get, issue_id),
                    "snapshots": partial(wf.repository.get, issue_id),
                    "fast": partial(plain.repository.get, issue_id, projector_func=fast_projector),
                }
                same_state(variants)
                ms, done = time_loads(variants, rounds, args.budget / len(cases))
                print(
                    f"{count} events (snapshot every {interval}: a load reads the latest snapshot "
                    f"and {replayed} events); median of {done} loads each"
                )
                print(
                    f"get_issue: {ms['get_issue']:.3f} ms; library default repository.get: "
                    f"{ms['default']:.3f} ms; speed-up {ms['default'] / ms['get_issue']:.1f}x "
                    f"(target >= {TARGET:.0f}x)"
                )
                print(
                    f"  snapshots alone (project_aggregate): {ms['snapshots']:.3f} ms "
                    f"({ms['default'] / ms['snapshots']:.1f}x); "
                    f"fast_projector alone (no snapshots): {ms['fast']:.3f} ms "
                    f"({ms['default'] / ms['fast']:.1f}x)"
                )
        finally:
            wf.close()
            plain.close()


if __name__ == "__main__":
    main()
