"""The scheduler's overdue scan: its cost follows the overdue items, not the size of the board.

One run, SQLite, a temporary folder:

1. The event store gets 5,000 overdue items, written as real events (opened and assigned by
   the domain's commands, saved through the workflow a thousand at a time); a projector puts
   them on the board. With `--full`, every open item is written that way; by default the
   items that are open but not overdue are inserted as board rows directly (same columns,
   deadlines in the coming months), which is all the scan can see of them.
2. Two view databases: 10,000 open items and 100,000 open items, the same 5,000 overdue.
3. Scan = the overdue index query (`projections.queries.overdue_items`, the job's full sweep)
   + the decisions (load each overdue item and ask the aggregate `escalate_if_overdue`,
   nothing saved). `--repeat` repetitions, the two boards interleaved; printed: the median
   times and the median ratio 100k / 10k (target <= 1.5), for the scan, its two parts, and
   the same query forced to read the whole board (`NOT INDEXED`), the baseline.
4. Then the real job (`scheduler.jobs.escalate_overdue`) escalates the 5,000 among 100,000
   through the workflow: events written, the board caught up; time and items per second.

Run: `.venv/bin/python bench/scan.py` (about a minute), `--quick` for a smoke run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock, event_time
from domain.issue import Issue
from domain.workflow import Workflow
from projections.board import CLOCK_RUNNING
from projections.projector import EventLog, Projector
from projections.queries import overdue_items
from projections.store import SqliteViewDB, iso
from scheduler.jobs import escalate_overdue

TARGET = 1.5
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SCAN_AT = START + timedelta(days=20)
COLUMNS = (
    "issue_id, number, title, area, level, horizon, unit, stage, leader, department, deadline, "
    "opened_at, updated_at, version"
)


def seed(workflow: Workflow, count: int, *, first: int, deadline: Callable[[int], datetime]) -> None:
    """Open and assign `count` items through the domain's commands, saved a thousand at a time."""
    batch: list[Issue] = []
    with event_time(START):
        for n in range(first, first + count):
            issue = Issue.open(
                id=uuid4(), number=f"2026-{n:06d}", title=f"Item {n}", area="livelihood",
                level="grid", horizon="near", description=None, opinion_ids=[], actor="clerk",
                meeting_id=None, unit="grid 4",
            )  # fmt: skip
            issue.assign_leader(
                leader="Zhang", department="Public works office", goals=["fixed"], measures=["fix it"],
                deadline=deadline(n), now=START, actor="clerk", meeting_id=None,
            )  # fmt: skip
            batch.append(issue)
            if len(batch) == 1000:
                workflow.save(*batch)
                batch = []
    if batch:
        workflow.save(*batch)


def not_overdue_rows(db: SqliteViewDB, count: int, *, first: int) -> None:
    """Board rows of items being worked on whose deadlines are weeks after the scan."""
    rows = []
    for n in range(first, first + count):
        deadline = iso(SCAN_AT + timedelta(days=1 + n % 90, seconds=n))
        rows.append(
            (str(uuid4()), f"2026-{n:06d}", f"Item {n}", "livelihood", "grid", "near", "grid 4",
             "in_progress" if n % 2 else "assigned", "Zhang", "Public works office", deadline,
             iso(START), iso(START), 2)
        )  # fmt: skip
    with db.transaction() as tx:
        tx.executemany(f"INSERT INTO board ({COLUMNS}) VALUES ({', '.join('?' * 14)})", rows)
        tx.execute("ANALYZE")


def seconds(action: Callable[[], Any]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def full_board_query(db: SqliteViewDB) -> list[tuple[Any, ...]]:
    """The overdue query forced to read the whole board: what the scan would cost without the index."""
    with db.transaction() as tx:
        return tx.fetchall(
            "SELECT issue_id, number, level, deadline FROM board NOT INDEXED "
            f"WHERE {CLOCK_RUNNING} AND deadline < ? "
            "AND (committee_deadline IS NULL OR committee_deadline <> deadline) ORDER BY deadline, number",
            [iso(SCAN_AT)],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--overdue", type=int, default=5000)
    parser.add_argument("--sizes", default="10000,100000", help="open items on the two boards")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="write every open item as events, not rows")
    parser.add_argument("--quick", action="store_true", help="500 overdue among 1,000 and 10,000; 3 runs")
    args = parser.parse_args()
    if args.quick:
        args.overdue, args.sizes, args.repeat = 500, "1000,10000", 3
    small, large = (int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="caseline-bench-scan-") as folder:
        settings = Settings(data_dir=Path(folder) / "var")
        clock = FakeClock(START)
        workflow = build_workflow(settings, clock=clock)
        log = EventLog(settings.event_store_env())
        began = time.perf_counter()
        seed(workflow, args.overdue, first=1, deadline=lambda n: START + timedelta(days=1, seconds=n))
        if args.full:
            seed(
                workflow, large - args.overdue, first=args.overdue + 1,
                deadline=lambda n: SCAN_AT + timedelta(days=1 + n % 90, seconds=n),
            )  # fmt: skip
        written = time.perf_counter() - began
        print(
            f"populated: {args.overdue if not args.full else large:,} items as events (open + assign) "
            f"in {written:.1f} s; the other open items as "
            f"{'events too' if args.full else 'board rows inserted directly'}"
        )
        boards: dict[int, Projector] = {}
        for size in (small, large):
            db = SqliteViewDB(Path(folder) / f"views-{size}.sqlite")
            projector = Projector(log, db)
            projector.catch_up()
            if not args.full:
                not_overdue_rows(db, size - args.overdue, first=args.overdue + 1)
            elif size == small:
                with db.transaction() as tx:  # the small board keeps its first `small` items only
                    tx.execute("DELETE FROM board WHERE number > ?", [f"2026-{small:06d}"])
            with db.transaction() as tx:
                counted = tx.fetchone("SELECT COUNT(*) FROM board")
            assert counted is not None
            assert counted[0] == size, counted
            boards[size] = projector
        clock.set(SCAN_AT)
        levels = workflow.levels

        def decide(rows: list[dict[str, Any]]) -> int:
            decided = 0
            for row in rows:
                issue = workflow.get_issue(row["issue_id"])
                with event_time(SCAN_AT):
                    decided += issue.escalate_if_overdue(SCAN_AT, levels, actor="scheduler")
            return decided

        found = {size: overdue_items(p.db, now=SCAN_AT, limit=size) for size, p in boards.items()}
        for size in boards:
            assert len(found[size]) == args.overdue, len(found[size])
            assert decide(found[size]) == args.overdue  # and warms the caches alike
        # Interleaved (the order flips every repetition), so a busy machine slows both sizes alike;
        # ratios are taken within a repetition, and the median reported.
        samples: dict[int, dict[str, list[float]]] = {
            s: {"query": [], "decide": [], "board": []} for s in boards
        }
        for repetition in range(args.repeat):
            for size in boards if repetition % 2 == 0 else reversed(boards):
                db = boards[size].db
                assert isinstance(db, SqliteViewDB)
                samples[size]["query"].append(
                    seconds(lambda db=db, n=size: overdue_items(db, now=SCAN_AT, limit=n))
                )
                samples[size]["board"].append(seconds(lambda db=db: full_board_query(db)))
                samples[size]["decide"].append(seconds(lambda rows=found[size]: decide(rows)))
        for size in boards:
            query, decisions, baseline = (
                statistics.median(samples[size][k]) for k in ("query", "decide", "board")
            )
            print(
                f"scan of {args.overdue:,} overdue among {size:,} open: query {query * 1000:7.1f} ms "
                f"+ decisions {decisions * 1000:7.1f} ms = {(query + decisions) * 1000:7.1f} ms "
                f"(whole-board query, baseline: {baseline * 1000:7.1f} ms)"
            )

        def ratio(*kinds: str) -> float:
            return statistics.median(
                sum(samples[large][k][r] for k in kinds) / sum(samples[small][k][r] for k in kinds)
                for r in range(args.repeat)
            )

        scan = ratio("query", "decide")
        print(
            f"ratio {large:,} / {small:,} open, same {args.overdue:,} overdue: scan {scan:.2f} "
            f"(target <= {TARGET}; {'met' if scan <= TARGET else 'NOT met'}); "
            f"query alone {ratio('query'):.2f}, decisions alone {ratio('decide'):.2f}, "
            f"whole-board query (baseline) {ratio('board'):.2f}"
        )
        projector = boards[large]
        began = time.perf_counter()
        report = escalate_overdue(workflow, projector, SCAN_AT)
        took = time.perf_counter() - began
        assert report.changed == args.overdue, report
        print(
            f"escalated {report.changed:,} overdue among {large:,} open through the workflow "
            f"(escalate_overdue: events written, board caught up) in {took:.1f} s = "
            f"{report.changed / took:,.0f} items/s"
        )
        workflow.close()
        log.close()
        for projector in boards.values():
            projector.db.close()


if __name__ == "__main__":
    main()
