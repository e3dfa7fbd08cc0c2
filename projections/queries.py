"""Questions asked of the views: the board, the overdue index, the audit trail, the ledger,
the feedback tracker, the public register and satisfaction. Every list has a deterministic
order (a unique last sort key), so pages and exports are stable."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from projections.board import CLOCK_RUNNING, STAGE_CODES, TEXT_BOARD_ROWID, TEXT_STAGE_CODE
from projections.store import ViewDB, from_iso, iso

WORKING = ("assigned", "in_progress")
BOARD_COLUMNS = (
    "issue_id", "number", "title", "area", "level", "horizon", "unit", "stage", "leader", "department",
    "deadline", "on_committee", "paused", "escalations", "reopened", "opinions", "disclosed", "opened_at",
    "updated_at",
)  # fmt: skip
BOARD_SORTS = {
    "deadline": "deadline IS NULL, deadline",
    "number": "number",
    "updated": "updated_at",
    "opened": "opened_at",
}
# The SQLite indexes that hold the board in each sort's order, and one stage's column in it.
SORT_INDEXES = {
    "deadline": "ix_board_by_deadline",
    "number": "ix_board_number",
    "updated": "ix_board_updated",
    "opened": "ix_board_opened",
}
STAGE_SORT_INDEXES = {"deadline": "ix_board_stage_by_deadline", "updated": "ix_board_stage_updated"}
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class BoardFilter:
    """What an officer narrows the board by; None means any."""

    stage: str | None = None
    area: str | None = None
    level: str | None = None
    leader: str | None = None
    department: str | None = None
    overdue: bool | None = None
    on_committee: bool | None = None
    text: str | None = None


@dataclass(frozen=True)
class Page:
    """One page of rows, the total matching, and counts per stage column."""

    rows: list[dict[str, Any]]
    total: int
    counts: dict[str, int]
    page: int
    page_size: int


def _rows(columns: tuple[str, ...] | list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _board_where(
    f: BoardFilter, now: datetime, *, with_stage: bool, sqlite: bool = True
) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("area", "level", "leader", "department"):
        value = getattr(f, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if with_stage and f.stage is not None:
        clauses.append("stage = ?")
        params.append(f.stage)
    if f.overdue is not None:
        clauses.append(_OVERDUE if f.overdue else f"NOT {_OVERDUE}")
        params.append(iso(now))
    if f.on_committee is not None:
        # A literal, so the partial index of the few items with the committee serves it.
        clauses.append(f"on_committee = {1 if f.on_committee else 0}")
    if f.text:
        # Both ignore case: SQLite's LIKE folds ASCII letters, PostgreSQL's ILIKE every letter.
        like = "LIKE" if sqlite else "ILIKE"
        clauses.append(f"(title {like} ? OR number {like} ?)")
        params += [_like(f.text)] * 2
    return clauses, params


_OVERDUE = f"({CLOCK_RUNNING} AND deadline < ?)"


def _needle(text: str) -> str:
    """What a text search looks for: the text as typed, less LIKE's wildcards."""
    return text.replace("%", "").replace("_", "")


def _like(text: str) -> str:
    return "%" + _needle(text) + "%"


# The trigram index answers substrings of three characters or more; shorter ones scan the board.
TRIGRAM = 3


def _sql_where(clauses: list[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


def _board_index(f: BoardFilter, sort: str) -> str | None:
    """The SQLite index a board page is read through: the most selective filter's, or the sort's.

    Pinned because, without statistics, SQLite prefers any index on an equality (area, level) and
    then sorts tens of thousands of rows, and with statistics its choice moves as the data does."""
    if f.leader is not None:
        return "ix_board_leader"
    if f.department is not None:
        return "ix_board_department"
    if f.on_committee:
        return "ix_board_committee"
    if f.overdue:
        return "ix_board_overdue"
    if f.stage is not None:
        return STAGE_SORT_INDEXES.get(sort, "ix_board_stage_deadline")
    return SORT_INDEXES[sort]


def _board_counts(tx: Any, f: BoardFilter, now: datetime, sqlite: bool) -> dict[str, int]:
    """Items per stage matching every filter but the stage.

    From `board_counts` when the filters are among its columns (area, level, department, on
    committee), less the overdue items per stage for `overdue=False`; otherwise a COUNT over the
    board, through the filter's index on SQLite (leader, department, committee, overdue). A text
    search alone on SQLite counts its matches in `_board_by_text` instead."""
    if f.leader is None and not f.text and f.department != "" and not f.overdue:
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("area", "level", "department"):
            value = getattr(f, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if f.on_committee is not None:
            clauses.append(f"on_committee = {1 if f.on_committee else 0}")
        counts = {
            stage: int(n)
            for stage, n in tx.fetchall(
                f"SELECT stage, SUM(n) FROM board_counts{_sql_where(clauses)} GROUP BY stage", params
            )
        }
        if f.overdue is False:
            late = _board_counts(tx, replace(f, overdue=True), now, sqlite)
            for stage, n in late.items():
                counts[stage] -= n
        return {stage: n for stage, n in counts.items() if n > 0}
    clauses, params = _board_where(f, now, with_stage=False, sqlite=sqlite)
    source = "board"
    if sqlite and (f.leader is not None or f.department is not None or f.on_committee or f.overdue):
        source = f"board INDEXED BY {_board_index(replace(f, stage=None), 'deadline')}"
    rows = tx.fetchall(f"SELECT stage, COUNT(*) FROM {source}{_sql_where(clauses)} GROUP BY stage", params)
    return {stage: int(n) for stage, n in rows}


def _phrase(needle: str) -> str:
    """A phrase query of the trigram index: the same substring match as LIKE, folding case as LIKE
    does for ASCII."""
    return '"' + needle.replace('"', '""') + '"'


# Each stage's matches of a text, counted as the trigram index is read (`_board_text_alone`).
COUNT_STAGES = ", ".join(
    f"COUNT(*) FILTER (WHERE {TEXT_STAGE_CODE} = {code})" for code in STAGE_CODES.values()
)
# How `_board_text_alone` finds a page. A walk reads up to WALK_SLACK times the index entries that
# should hold the page's matches if they were spread evenly (plus WALK_FLOOR, for small pages), and
# is tried while that is at most WALK_PER_MATCH entries per match. An entry walked costs about a
# quarter of a match looked up when the matches are spread over the board (bench/README.md), so a
# walk that finds too few, because the matches bunch later in the order, adds about half to the
# lookups that follow it (more when the matches are also together on the board, where lookups are
# cheaper: a year's numbers, say).
WALK_SLACK = 2
WALK_FLOOR = 200
WALK_PER_MATCH = 2


def _board_text_alone(
    tx: Any, f: BoardFilter, needle: str, sort: str, order: str, page: int, page_size: int
) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """A text search on SQLite, narrowed by stage or by nothing else, for a text of a trigram or more.

    One pass over the trigram index's matches counts them per stage (each entry's key holds its
    stage: no board row is read for the counts) and lists the board rowids of those the page is
    drawn from. The page's rowids then come from one of:
    - a walk of the sort order's index from its start, keeping the matches: a few index entries
      per row of the page while the matches are dense and spread through the order;
    - every match's sort key looked up and the page's top kept: the cost follows the matches. Used
      when the walk would read too far (sparse matches, deep pages), or did (the matches bunch
      later in the order: a year's numbers sorted by deadline, say).
    Then the page's rows are read by rowid."""
    # The matches the page is drawn from: all, or the stage's (a code no stage has matches none).
    scope = "" if f.stage is None else f" FILTER (WHERE {TEXT_STAGE_CODE} = {STAGE_CODES.get(f.stage, 0)})"
    *numbers, rowids = tx.fetchone(
        f"SELECT {COUNT_STAGES}, json_group_array({TEXT_BOARD_ROWID}){scope} "
        "FROM board_text WHERE board_text MATCH ?",
        [_phrase(needle)],
    )
    counts = {stage: n for stage, n in sorted(zip(STAGE_CODES, numbers, strict=True)) if n}
    matches = sum(counts.values()) if f.stage is None else counts.get(f.stage, 0)
    start = (page - 1) * page_size
    wanted = min(start + page_size, matches)
    if wanted <= start:
        return [], counts
    # A stage's column of its index is walked for the stage (its matches there assumed as dense
    # as in the whole board); otherwise the sort's index, for the matches of the stage if any.
    index = STAGE_SORT_INDEXES.get(sort) if f.stage is not None else None
    (board_rows,) = tx.fetchone("SELECT max(rowid) FROM board")  # rows are never deleted
    density = (sum(counts.values()) if index else matches) / board_rows
    expected = wanted / density  # entries walked to the page's last match, the matches spread evenly
    chosen: list[int] | None = None
    if WALK_SLACK * expected <= WALK_PER_MATCH * matches:
        where, params = ("WHERE stage = ? ", [f.stage]) if index else ("", [])
        walked = tx.fetchall(
            f"SELECT rowid FROM board INDEXED BY {index or SORT_INDEXES[sort]} {where}"
            f"ORDER BY {order} LIMIT ?",
            [*params, math.ceil(WALK_SLACK * expected) + WALK_FLOOR],
        )
        members = set(json.loads(rowids))
        hits = [rowid for (rowid,) in walked if rowid in members]
        if len(hits) >= wanted:
            chosen = hits[start:wanted]
    if chosen is None:
        # The matches in the index's order, which is the board's: each board page is read once.
        chosen = [
            rowid
            for (rowid,) in tx.fetchall(
                "SELECT board.rowid FROM json_each(?) AS m CROSS JOIN board ON board.rowid = m.value "
                f"ORDER BY {order} LIMIT ? OFFSET ?",
                [rowids, page_size, start],
            )
        ]
    return _board_rows(tx, chosen), counts


def _board_rows(tx: Any, rowids: list[int]) -> list[tuple[Any, ...]]:
    """The board's rows with these rowids, in their order."""
    if not rowids:
        return []
    marks = ", ".join("?" * len(rowids))
    by_rowid = {
        row[0]: row[1:]
        for row in tx.fetchall(
            f"SELECT rowid, {', '.join(BOARD_COLUMNS)} FROM board WHERE rowid IN ({marks})", rowids
        )
    }
    return [by_rowid[rowid] for rowid in rowids]


def _board_by_text(
    tx: Any, f: BoardFilter, now: datetime, order: str, page: int, page_size: int
) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """A text search on SQLite with other filters (area, level, overdue, committee), or for a text
    shorter than a trigram: every match's rowid and stage in the page's order, which give both the
    counts and the page, then the page's rows by rowid. The matches come from the board's trigram
    index joined to the board (for the other filters), or from one scan of the board."""
    needle = _needle(f.text or "")
    if len(needle) >= TRIGRAM:
        clauses, params = _board_where(replace(f, text=None), now, with_stage=False)
        clauses.insert(0, "board_text MATCH ?")
        params.insert(0, _phrase(needle))
        source = f"board_text JOIN board ON board.rowid = {TEXT_BOARD_ROWID}"
    else:
        clauses, params = _board_where(f, now, with_stage=False)
        source = "board"
    found = tx.fetchall(
        f"SELECT board.rowid, board.stage FROM {source}{_sql_where(clauses)} ORDER BY {order}", params
    )
    counts = dict(Counter(stage for _, stage in found))
    if f.stage is not None:
        found = [row for row in found if row[1] == f.stage]
    return _board_rows(tx, [row[0] for row in found[(page - 1) * page_size : page * page_size]]), counts


def _board_order(sort: str, descending: bool) -> str:
    if sort not in BOARD_SORTS:
        raise ValueError(f"sort must be one of {', '.join(BOARD_SORTS)}")
    direction = " DESC" if descending else ""
    # The number last, for a total order (once: sorting by it twice costs SQLite a sort per number).
    parts = dict.fromkeys([*BOARD_SORTS[sort].split(", "), "number"])
    return ", ".join(f"board.{part}{direction}" for part in parts)


def _board_page_rows(
    tx: Any, f: BoardFilter, now: datetime, sort: str, order: str, page: int, page_size: int, sqlite: bool
) -> tuple[list[tuple[Any, ...]], dict[str, int] | None]:
    """One page of the board's rows, and the counts per stage when the same reading gives them (a
    text search on SQLite); None when they take a query of their own (`_board_counts`)."""
    if sqlite and f.text and f.leader is None and f.department is None:
        needle = _needle(f.text)
        if len(needle) >= TRIGRAM and replace(f, text=None, stage=None) == BoardFilter():
            return _board_text_alone(tx, f, needle, sort, order, page, page_size)
        return _board_by_text(tx, f, now, order, page, page_size)
    clauses, params = _board_where(f, now, with_stage=True, sqlite=sqlite)
    source = f"board INDEXED BY {_board_index(f, sort)}" if sqlite else "board"
    rows = tx.fetchall(
        f"SELECT {', '.join(BOARD_COLUMNS)} FROM {source}{_sql_where(clauses)} "
        f"ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, page_size, (page - 1) * page_size],
    )
    return rows, None


def _board_page(
    rows: list[tuple[Any, ...]],
    counts: dict[str, int],
    stage: str | None,
    now: datetime,
    page: int,
    page_size: int,
) -> Page:
    result = _rows(BOARD_COLUMNS, rows)
    now_text = iso(now)
    for row in result:
        row["overdue"] = bool(
            row["stage"] in WORKING and not row["paused"] and row["deadline"] and row["deadline"] < now_text
        )
    total = counts.get(stage, 0) if stage else sum(counts.values())
    return Page(result, total, counts, page, page_size)


def _page_bounds(page: int, page_size: int) -> tuple[int, int]:
    return max(1, page), min(max(1, page_size), MAX_PAGE_SIZE)


def board(
    db: ViewDB,
    *,
    now: datetime,
    where: BoardFilter | None = None,
    sort: str = "deadline",
    descending: bool = False,
    page: int = 1,
    page_size: int = 50,
) -> Page:
    """The case board: filtered, sorted, paged, with counts per stage and an overdue flag per row."""
    f = where or BoardFilter()
    order = _board_order(sort, descending)
    page, page_size = _page_bounds(page, page_size)
    sqlite = db.dialect == "sqlite"
    with db.read() as tx:
        rows, counts = _board_page_rows(tx, f, now, sort, order, page, page_size, sqlite)
        if counts is None:
            counts = _board_counts(tx, f, now, sqlite)
    return _board_page(rows, counts, f.stage, now, page, page_size)


def board_columns(
    db: ViewDB,
    *,
    now: datetime,
    stages: Sequence[str],
    where: BoardFilter | None = None,
    sort: str = "deadline",
    descending: bool = False,
    page: int = 1,
    page_size: int = 50,
) -> list[Page]:
    """The board as columns: for each of `stages`, the page `board` gives with `where` narrowed to
    that stage. The counts per stage, the same for every column (they match every filter but the
    stage), are counted once, and every column is read in the same read transaction. A text search
    on SQLite is the exception: each column runs the search, which yields the counts with it."""
    f = where or BoardFilter()
    order = _board_order(sort, descending)
    page, page_size = _page_bounds(page, page_size)
    sqlite = db.dialect == "sqlite"
    with db.read() as tx:
        columns = []
        counts: dict[str, int] | None = None
        for stage in stages:
            rows, found = _board_page_rows(
                tx, replace(f, stage=stage), now, sort, order, page, page_size, sqlite
            )
            counts = found if counts is None else counts
            columns.append((stage, rows))
        if counts is None:
            counts = _board_counts(tx, replace(f, stage=None), now, sqlite)
    return [_board_page(rows, counts, stage, now, page, page_size) for stage, rows in columns]


def working_by_level(db: ViewDB, *, now: datetime) -> dict[str, tuple[int, int]]:
    """Per level: the items being worked on, and how many of them are overdue (the board's flag), in
    one query: the first from the board's counts table, the second through the overdue index. Levels
    with neither are left out."""
    working = ", ".join(f"'{stage}'" for stage in WORKING)
    source = "board INDEXED BY ix_board_overdue" if db.dialect == "sqlite" else "board"
    with db.read() as tx:
        rows = tx.fetchall(
            f"SELECT level, SUM(n), 0 FROM board_counts WHERE stage IN ({working}) GROUP BY level "
            f"UNION ALL SELECT level, 0, COUNT(*) FROM {source} WHERE {_OVERDUE} GROUP BY level",
            [iso(now)],
        )
    out: dict[str, tuple[int, int]] = {}
    for level, items, late in rows:
        before = out.get(level, (0, 0))
        out[level] = (before[0] + int(items), before[1] + int(late))
    return out


FUNNEL_STEPS = ("opened", "assigned", "escalated_once", "escalated_twice", "committee")


def funnel(db: ViewDB) -> dict[str, int]:
    """How far the items on the board went (`FUNNEL_STEPS`): all of them, those given a leader,
    escalated at least once, at least twice, and those on the standing committee's list; one pass
    over the board in SQL."""
    with db.read() as tx:
        found = tx.fetchone(
            "SELECT COUNT(*), "
            "COALESCE(SUM(CASE WHEN leader IS NOT NULL AND leader <> '' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN escalations >= 1 THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN escalations >= 2 THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN on_committee <> 0 THEN 1 ELSE 0 END), 0) FROM board"
        )
    assert found is not None
    return dict(zip(FUNNEL_STEPS, (int(n) for n in found), strict=True))


def overdue_items(db: ViewDB, *, now: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    """The overdue index for the scheduler: items being worked on whose deadline has passed,
    oldest deadline first, skipping items already with the standing committee for that deadline.
    Reads the (stage, deadline) index range of items past their deadline, so the cost follows the
    overdue items, not the board (bench/scan.py)."""
    with db.read() as tx:
        rows = tx.fetchall(
            "SELECT issue_id, number, level, deadline FROM board "
            f"WHERE {CLOCK_RUNNING} AND deadline < ? "
            "AND (committee_deadline IS NULL OR committee_deadline <> deadline) "
            "ORDER BY deadline, number LIMIT ?",
            [iso(now), limit],
        )
    return _rows(("issue_id", "number", "level", "deadline"), rows)


def ledger(db: ViewDB, *, by: str = "leader") -> list[dict[str, Any]]:
    """The accountability ledger per leader or department: items led, held now, missed deadlines,
    items closed, closed without a missed deadline, reopened, and mean satisfaction."""
    if by not in ("leader", "department"):
        raise ValueError("by must be leader or department")
    with db.read() as tx:
        rows = tx.fetchall(
            f"""
            WITH led AS (
                SELECT {by} AS who, COUNT(DISTINCT issue_id) AS items,
                       SUM(CASE WHEN ended_at IS NULL THEN 1 ELSE 0 END) AS holding
                FROM leader_terms WHERE {by} IS NOT NULL GROUP BY {by}
            ), missed AS (
                SELECT {by} AS who, COUNT(*) AS missed, COUNT(DISTINCT issue_id) AS items_missed
                FROM missed_deadlines WHERE {by} IS NOT NULL GROUP BY {by}
            ), closing AS (
                SELECT t.{by} AS who, COUNT(DISTINCT c.issue_id) AS closed,
                       COUNT(DISTINCT CASE WHEN m.issue_id IS NULL THEN c.issue_id END) AS on_time
                FROM conclusions c
                JOIN leader_terms t ON t.issue_id = c.issue_id AND t.leader = c.leader
                LEFT JOIN missed_deadlines m ON m.issue_id = c.issue_id
                WHERE c.outcome = 'closed' GROUP BY t.{by}
            ), rounds AS (
                SELECT t.{by} AS who,
                       SUM(CASE WHEN c.outcome = 'reopened' THEN 1 ELSE 0 END) AS reopened,
                       AVG(c.rate) AS satisfaction
                FROM conclusions c
                JOIN leader_terms t ON t.issue_id = c.issue_id AND t.leader = c.leader
                    AND t.seq = (SELECT MAX(seq) FROM leader_terms x
                                 WHERE x.issue_id = c.issue_id AND x.leader = c.leader)
                GROUP BY t.{by}
            )
            SELECT led.who, led.items, led.holding, COALESCE(missed.missed, 0),
                   COALESCE(closing.closed, 0), COALESCE(closing.on_time, 0),
                   COALESCE(rounds.reopened, 0), rounds.satisfaction
            FROM led
            LEFT JOIN missed ON missed.who = led.who
            LEFT JOIN closing ON closing.who = led.who
            LEFT JOIN rounds ON rounds.who = led.who
            ORDER BY led.who
            """
        )
    return _rows(
        (by, "items", "holding", "missed_deadlines", "closed", "closed_on_time", "reopened", "satisfaction"),
        rows,
    )


def unanswered(
    db: ViewDB, *, now: datetime, recorder: str | None = None, unmerged: bool = False, limit: int = 500
) -> list[dict[str, Any]]:
    """The feedback tracker: opinions whose reporter has not heard back, oldest first, with age in
    days; with `unmerged`, only those not yet merged into an item."""
    clause, params = ("AND recorder = ?", [recorder]) if recorder else ("", [])
    if unmerged:
        clause += " AND issue_id IS NULL"
    with db.read() as tx:
        rows = tx.fetchall(
            "SELECT opinion_id, recorded_at, recorder, unit, kind, area, route, issue_id FROM opinions "
            f"WHERE answers = 0 {clause} ORDER BY recorded_at, opinion_id LIMIT ?",
            [*params, limit],
        )
    result = _rows(
        ("opinion_id", "recorded_at", "recorder", "unit", "kind", "area", "route", "issue_id"), rows
    )
    for row in result:
        recorded = from_iso(row["recorded_at"])
        assert recorded is not None
        row["age_days"] = (now - recorded).days
    return result


def public_register(db: ViewDB, *, now: datetime, page: int = 1, page_size: int = 50) -> Page:
    """Disclosed items as published, newest disclosure first; an open item is overdue once its
    published deadline has passed."""
    page, page_size = _page_bounds(page, page_size)
    with db.read() as tx:
        rows = tx.fetchall(
            "SELECT issue_id, number, published, published_where, deadline, first_disclosed_at, "
            "last_disclosed_at, closed FROM register "
            "ORDER BY last_disclosed_at DESC, number LIMIT ? OFFSET ?",
            [page_size, (page - 1) * page_size],
        )
        total_row = tx.fetchone("SELECT COUNT(*) FROM register")
    result = []
    for issue_id, number, published, where, deadline, first, last, closed in rows:
        fields = json.loads(published)
        overdue = bool(deadline) and not closed and datetime.fromisoformat(deadline) < now
        result.append(
            {
                "issue_id": issue_id, "number": number, "published": fields, "where": where,
                "first_disclosed_at": first, "last_disclosed_at": last, "overdue": overdue,
            }
        )  # fmt: skip
    total = int(total_row[0]) if total_row else 0
    return Page(result, total, {}, page, page_size)


def local_months(first: datetime | None, last: datetime | None, zone: tzinfo) -> list[tuple[str, str, str]]:
    """The calendar months in `zone` from the one holding `first` to the one holding `last`, each as
    (YYYY-MM, its first moment, the next month's first moment), the moments as the views store them
    (`iso`, UTC)."""
    if first is None or last is None:
        return []
    start, end = first.astimezone(zone), last.astimezone(zone)
    year, month = start.year, start.month
    months = []
    while (year, month) <= (end.year, end.month):
        after = (year + month // 12, month % 12 + 1)
        months.append(
            (
                f"{year:04d}-{month:02d}",
                iso(datetime(year, month, 1, tzinfo=zone)),
                iso(datetime(*after, 1, tzinfo=zone)),
            )
        )
        year, month = after
    return months


def satisfaction(
    db: ViewDB, *, by: str = "area", target: float = 0.95, zone: tzinfo = UTC
) -> list[dict[str, Any]]:
    """Satisfaction per area, unit, leader, level or period over all concluded rounds, as the share
    of satisfied + basically satisfied verdicts, beside the target. A period is a calendar month
    (YYYY-MM) in `zone`, the town's: the month a round concluded in, as people there count it."""
    if by not in ("area", "unit", "leader", "level", "period"):
        raise ValueError("by must be area, unit, leader, level or period")
    counted = (
        "COUNT(*), SUM(satisfied), SUM(basically), SUM(dissatisfied), "
        "SUM(CASE WHEN outcome = 'closed' THEN 1 ELSE 0 END)"
    )
    with db.read() as tx:
        if by == "period":
            span = tx.fetchone("SELECT MIN(at), MAX(at) FROM conclusions")
            assert span is not None  # (an aggregate always answers a row: NULLs when no round is)
            months = local_months(from_iso(span[0]), from_iso(span[1]), zone)
            values = ", ".join(["(?, ?, ?)"] * len(months))
            rows = (
                tx.fetchall(
                    f"WITH months (period, since, until) AS (VALUES {values}) "
                    f"SELECT m.period, {counted} FROM months m "
                    "JOIN conclusions c ON c.at >= m.since AND c.at < m.until "
                    "GROUP BY m.period ORDER BY m.period",
                    [value for month in months for value in month],
                )
                if months
                else []
            )
        else:
            rows = tx.fetchall(
                f"SELECT {by}, {counted} "
                f"FROM conclusions GROUP BY {by} ORDER BY {by} IS NULL, {by}"  # none last, on both stores
            )
    result = []
    for key, rounds, sat, basic, dis, closed in rows:
        votes = int(sat or 0) + int(basic or 0) + int(dis or 0)
        rate = (int(sat or 0) + int(basic or 0)) / votes if votes else 0.0
        result.append(
            {
                by: key, "rounds": int(rounds), "closed": int(closed or 0), "votes": votes,
                "satisfied": int(sat or 0), "basically": int(basic or 0), "dissatisfied": int(dis or 0),
                "rate": round(rate, 4), "target": target, "meets_target": rate >= target,
            }
        )  # fmt: skip
    return result
