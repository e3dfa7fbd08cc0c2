"""Latency of the case board (`projections.queries.board`) at 100k issues on SQLite.

A read benchmark: the view database's `board` table is filled directly with 100k synthetic but
realistic rows (ten years of items, most closed, a fifth being worked on, some overdue, paused
or with the standing committee; 400 leaders, 40 departments, 200 grids, titles a clerk would
write), with plain INSERTs matching `projections/board.py`'s schema; then `board.VIEW`'s tables
are created again, which fills its counts (`board_counts`) from the rows as for a board that
predates them, and its indexes are created, as a rebuild does. No ANALYZE is run, because the
projector does not (the board's queries name their index on SQLite, so none is needed).

Then a few hundred mixed queries run through `queries.board` exactly as the API calls it: one
kind at a time in a shuffled order, each kind with varied arguments (stage, area, level,
leader, department, overdue, text, deep pages, each sort both ways, combinations). Baseline in
the same run, on the same database and the same read path (`ViewDB.read()`): `SELECT 1` and a
primary-key lookup of one board row.

Also: `queries.overdue_items` (the scheduler's index) p95 at 10k and at 100k items being worked
on, both with the same 500 overdue, to show its cost follows the overdue items, not the board.

Run: `.venv/bin/python bench/board.py` (about a minute) or `--quick` (10k issues, fewer queries).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from projections import board, queries
from projections.queries import BoardFilter
from projections.store import SqliteViewDB, iso

TARGET_P95_MS = 20.0
NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
YEARS = range(2016, 2027)
AREAS = ["development", "environment", "security", "livelihood", "culture", "conduct"]
AREA_WEIGHTS = [15, 25, 20, 25, 8, 7]
LEVELS = ["grid", "village", "town", "district"]
LEVEL_WEIGHTS = [45, 30, 18, 7]
HORIZONS = ["immediate", "near", "mid", "long"]
LEADERS = [f"{s} {g}" for s in ("Zhang", "Wang", "Li", "Zhao", "Liu", "Chen", "Yang", "Huang") for g in
           ("Wei", "Fang", "Na", "Min", "Jing", "Lei", "Jun", "Yan", "Tao", "Ming", "Chao", "Xia", "Hui",
            "Qiang", "Ping", "Gang", "Bo", "Hong", "Lin", "Yu", "Jie", "Hua", "Dan", "Rui", "Kai", "Li",
            "Xin", "Yi", "Hao", "Ning", "Peng", "Qing", "Shan", "Tian", "Wen", "Xue", "Ying", "Zhen",
            "Long", "Feng", "Song", "Mei", "Ting", "Yun", "Bin", "Cheng", "Dong", "Guo", "Heng",
            "Jia")]  # fmt: skip
DEPARTMENTS = [f"{w} Office of {t}" for w in ("Works", "Water", "Roads", "Civil Affairs", "Environment",
               "Housing", "Education", "Health", "Market", "Social Security") for t in
               ("Dongcheng Town", "Xicheng Town", "Nanshan Street", "Beihu Street")]  # fmt: skip
UNITS = [f"grid {n}" for n in range(1, 201)]
PROBLEMS = ["Street light broken", "Drain blocked", "Pavement cracked", "No bus shelter", "Noise at night",
            "Garbage not collected", "Water pressure low", "Parking dispute", "Leaking roof", "Stray dogs",
            "Market stalls on the road", "Flooded underpass", "Broken railing", "Smoke from the canteen",
            "Playground unsafe", "Elevator out of order"]  # fmt: skip
WORDS = ["drain", "light", "noise", "garbage", "lane 1", "grid 17", "2024-", "elevator"]  # what clerks type
PLACES = ["lane", "building", "courtyard", "market", "school gate", "bus stop", "bridge", "block"]
# stage, share of the board: most items are history; about a fifth are being worked on.
STAGES = [
    ("closed", 68),
    ("registered", 3),
    ("opened", 4),
    ("assigned", 7),
    ("in_progress", 13),
    ("resolved", 5),
]
# The board view's own column list, so the rows below cannot drift from its schema.
INSERT = f"INSERT INTO board ({', '.join(board.COLUMNS)}) VALUES ({', '.join('?' * len(board.COLUMNS))})"


def rows(
    count: int, rng: random.Random, *, working_only: bool = False, overdue: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """`count` board rows; with `working_only`, all are being worked on and exactly `overdue` are late."""
    per_year = -(-count // len(YEARS))
    stages, weights = zip(*STAGES, strict=True)
    for n in range(count):
        year = YEARS[0] + n // per_year
        opened = datetime(year, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.uniform(0, 365 * 24 * 60))
        opened = min(opened, NOW - timedelta(days=2))
        stage = rng.choice(["assigned", "in_progress"]) if working_only else rng.choices(stages, weights)[0]
        working = stage in ("assigned", "in_progress")
        if stage in ("opened", "registered"):
            leader = department = deadline = None
        else:
            leader, department = rng.choice(LEADERS), rng.choice(DEPARTMENTS)
            if working_only:
                late = n < (overdue or 0)
                days = rng.uniform(-20, -0.1) if late else rng.uniform(1, 60)
                deadline = NOW + timedelta(days=days)
            elif working:
                # recent items mostly; one in ten being worked on is late
                days = rng.uniform(-20, -0.1) if rng.random() < 0.1 else rng.uniform(1, 60)
                deadline = NOW + timedelta(days=days)
            else:
                deadline = opened + timedelta(days=rng.choice([7, 15, 30, 60]))
        paused = int(working and not working_only and rng.random() < 0.03)
        on_committee = int(working and not working_only and rng.random() < 0.01)
        level = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
        unit = rng.choice(UNITS)
        title = f"{rng.choice(PROBLEMS)} at {rng.choice(PLACES)} {rng.randrange(1, 120)}, {unit}"
        updated = max(opened, min(NOW, (deadline or opened) - timedelta(days=rng.uniform(0, 10))))
        yield (
            str(uuid5(NAMESPACE_URL, f"board/{count}/{n}")), f"{year}-{n % per_year + 1:04d}", title,
            rng.choices(AREAS, AREA_WEIGHTS)[0], level, rng.choice(HORIZONS), unit, stage, leader, department,
            iso(deadline), iso(deadline) if on_committee else None, on_committee, paused,
            int(rng.random() < 0.12), int(rng.random() < 0.04), rng.choice([1, 1, 1, 2, 3]),
            int(stage != "opened" and rng.random() < 0.6), iso(opened), iso(updated), rng.randrange(2, 30),
        )  # fmt: skip


def populate(path: Path, count: int, rng: random.Random, **options: Any) -> SqliteViewDB:
    db = SqliteViewDB(path)
    names = board.VIEW.names()
    with db.transaction() as tx:
        board.VIEW.create_tables(tx, names)
        tx.executemany(INSERT, list(rows(count, rng, **options)))
        board.VIEW.create_tables(tx, names)  # fills the board's counts from its rows
        board.VIEW.create_indexes(tx, names)  # and its indexes, the text index among them
    return db


# -- the queries -------------------------------------------------------------------------------

Query = Callable[[random.Random], Any]


def kinds(db: SqliteViewDB, issues: int) -> dict[str, Query]:
    def q(**kwargs: Any) -> Any:
        return queries.board(db, now=NOW, **kwargs)

    def w(**filters: Any) -> BoardFilter:
        return BoardFilter(**filters)

    pick = random.Random.choice
    return {
        "unfiltered (default sort)": lambda r: q(),
        "stage": lambda r: q(where=w(stage=pick(r, ["assigned", "in_progress", "resolved", "opened"]))),
        "area": lambda r: q(where=w(area=pick(r, AREAS))),
        "area + stage": lambda r: q(where=w(area=pick(r, AREAS), stage="in_progress")),
        "level": lambda r: q(where=w(level=pick(r, LEVELS))),
        "leader": lambda r: q(where=w(leader=pick(r, LEADERS))),
        "department": lambda r: q(where=w(department=pick(r, DEPARTMENTS))),
        "department + stage": lambda r: q(where=w(department=pick(r, DEPARTMENTS), stage="in_progress")),
        "overdue": lambda r: q(where=w(overdue=True)),
        "overdue + department": lambda r: q(where=w(overdue=True, department=pick(r, DEPARTMENTS))),
        "not overdue + stage": lambda r: q(where=w(overdue=False, stage="in_progress")),
        "on committee": lambda r: q(where=w(on_committee=True)),
        "text": lambda r: q(where=w(text=pick(r, WORDS))),
        "text + department": lambda r: q(where=w(text=pick(r, WORDS), department=pick(r, DEPARTMENTS))),
        "deep page": lambda r: q(page=r.randrange(20, max(21, issues // 100)), page_size=pick(r, [50, 100])),
        "sort number desc": lambda r: q(sort="number", descending=True),
        "sort updated desc": lambda r: q(sort="updated", descending=True),
        "sort opened": lambda r: q(sort="opened", descending=pick(r, [False, True])),
        "sort deadline desc": lambda r: q(descending=True),
        "stage + sort updated, page 5": lambda r: q(where=w(stage="in_progress"), sort="updated", page=5),
    }  # fmt: skip


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def report(name: str, samples: list[float], *, width: int = 30) -> str:
    p50, p95 = statistics.median(samples), percentile(samples, 0.95)
    flag = "" if p95 <= TARGET_P95_MS else "  MISSED"
    figures = f"board p50 {p50:6.2f} ms, p95 {p95:6.2f} ms (target p95 <= {TARGET_P95_MS:.0f} ms)"
    return f"  {name:<{width}} {figures}{flag}"


def bench_board(folder: Path, issues: int, per_kind: int, rng: random.Random) -> None:
    started = time.perf_counter()
    db = populate(folder / "board.sqlite", issues, rng)
    try:
        print(f"populated {issues} board rows in {time.perf_counter() - started:.1f} s; {folder}")
        with db.read() as tx:
            ids = [row[0] for row in tx.fetchall("SELECT issue_id FROM board")]
            counts = dict(tx.fetchall("SELECT stage, COUNT(*) FROM board GROUP BY stage"))
        print(f"  stages: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}")

        def select_one() -> None:
            with db.read() as tx:
                tx.fetchone("SELECT 1")

        def by_key() -> None:
            with db.read() as tx:
                tx.fetchone("SELECT * FROM board WHERE issue_id = ?", [rng.choice(ids)])

        table = kinds(db, issues)
        plan = [name for name in table for _ in range(per_kind)]
        rng.shuffle(plan)
        for name in list(table)[:3]:  # warm the page cache and the statement cache
            table[name](rng)
        samples: dict[str, list[float]] = {name: [] for name in table}
        baseline: dict[str, list[float]] = {"SELECT 1": [], "primary-key lookup": []}
        for name in plan:
            samples[name].append(measure(partial(table[name], rng)))
            baseline["SELECT 1"].append(measure(select_one))
            baseline["primary-key lookup"].append(measure(by_key))
    finally:
        db.close()

    every = [s for values in samples.values() for s in values]
    print(
        f"{len(every)} board queries ({per_kind} of each of {len(table)} kinds, shuffled), "
        "page size 50 unless said:"
    )
    for name, values in samples.items():
        print(report(name, values))
    print(report("all kinds together", every))
    for name, values in baseline.items():
        print(
            f"  baseline {name} (same read path): p50 {statistics.median(values):.3f} ms, "
            f"p95 {percentile(values, 0.95):.3f} ms"
        )


def bench_overdue(folder: Path, sizes: list[int], overdue: int, calls: int, rng: random.Random) -> None:
    results = {}
    for size in sizes:
        db = populate(folder / f"overdue-{size}.sqlite", size, rng, working_only=True, overdue=overdue)
        try:
            found = len(queries.overdue_items(db, now=NOW, limit=1000))
            assert found == overdue, (found, overdue)
            query = partial(queries.overdue_items, db, now=NOW, limit=1000)
            samples = [measure(query) for _ in range(calls)]
        finally:
            db.close()
        results[size] = samples
    print(f"overdue_items (limit 1000), {overdue} overdue, {calls} calls each:")
    for size, samples in results.items():
        print(
            f"  {size:>6} items being worked on: p50 {statistics.median(samples):.2f} ms, "
            f"p95 {percentile(samples, 0.95):.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Board query latency at 100k issues on SQLite.")
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--per-kind", type=int, default=20, help="queries of each kind (20 kinds)")
    parser.add_argument("--quick", action="store_true", help="10k issues, 5 queries per kind")
    args = parser.parse_args()
    issues, per_kind = (10_000, 5) if args.quick else (args.issues, args.per_kind)
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="caseline-bench-board-") as tmp:
        bench_board(Path(tmp), issues, per_kind, rng)
        sizes = [1_000, 10_000] if args.quick else [10_000, 100_000]
        overdue, calls = (100, 50) if args.quick else (500, 200)
        bench_overdue(Path(tmp), sizes, overdue=overdue, calls=calls, rng=rng)


if __name__ == "__main__":
    main()
