"""The counts the staff pages show, on SQLite and PostgreSQL: the board's counts per stage and its
columns' totals, and the dashboard's items being worked on and overdue per level, each against a
hand count of the items themselves (their aggregates), and each read with one counting query.

A small town on a live server per store: items at every stage, level and department, some past
their deadline, one of those with its clock paused, one escalated a level up.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.settings import Settings
from domain.clock import FakeClock
from domain.issue import Issue
from domain.rules import Actor, Level, Role, Stage
from projections.store import Tx, ViewDB
from tests.e2e.conftest import LiveServer, serve
from tests.e2e.pages_fixtures import PASSWORD, Browser

SUPERVISOR = Actor("sup-count", role=Role.SUPERVISOR)
WORKING = (Stage.ASSIGNED, Stage.IN_PROGRESS)
LEVELS = list(Level)


@pytest.fixture
def town(settings: Settings) -> Iterator[tuple[LiveServer, list[str]]]:
    """A live server over the `settings` store and the numbers of the items in it. Its clock starts
    three days before now: the board flags overdue items by the wall clock, and its items' deadlines
    (two or thirty days after they are set) must fall on both sides of it."""
    with serve(settings, clock=FakeClock(datetime.now(tz=UTC) - timedelta(days=3))) as server:
        yield server, _items(server)


def _items(server: LiveServer) -> list[str]:
    wf, clock = server.services.workflow, server.clock
    server.account("sup-count", Role.SUPERVISOR)
    server.account("off-roads", Role.OFFICER, "roads")
    for name in ("sup-count", "off-roads"):
        server.services.credentials.set_password(name, PASSWORD)
    numbers = []
    for n in range(24):
        opened = wf.open_issue(
            SUPERVISOR, title=f"Item {n}", area="livelihood", level=LEVELS[n % 3], horizon="near"
        )
        number = opened.number
        assert number is not None
        numbers.append(number)
        kind = n % 6
        if kind == 1:
            wf.register_and_explain(
                SUPERVISOR,
                number,
                explanation="no budget this year",
                revisit_at=clock.now() + timedelta(days=90),
            )
        if kind < 2:
            continue
        wf.assign_leader(
            SUPERVISOR, number, leader=("off-roads", "leader-1", "leader-2")[n % 3],
            department=("roads", "water")[n % 2],
            goals=["done"], measures=["work"], deadline=clock.now() + timedelta(days=(2, 30)[n % 12 < 6]),
        )  # fmt: skip
        if kind >= 3:
            wf.report_progress(SUPERVISOR, number, note="started")
        if n % 12 in (4, 10):  # one item with a distant deadline, one past it
            wf.pause_clock(SUPERVISOR, number, reason="waiting on the power company")
        if kind == 5:
            wf.report_resolution(SUPERVISOR, number, summary="done")
            if n % 12 == 5:
                for k in range(3):
                    wf.record_evaluation(SUPERVISOR, number, evaluator=f"rep {k}", verdict="satisfied")
                assert wf.conclude_evaluation(SUPERVISOR, number).detail["outcome"] == "closed"
    # Some deadlines pass; one overdue item climbs a level.
    clock.advance(timedelta(days=3))
    assert wf.escalate_if_overdue(numbers[8]).detail == {"escalated": True}
    server.settle()
    return numbers


def _issues(server: LiveServer, numbers: list[str]) -> list[Issue]:
    return [server.services.workflow.get_issue(number) for number in numbers]


def _overdue(issue: Issue, now: datetime) -> bool:
    """The board's flag: being worked on, the clock running, the deadline passed."""
    return (
        issue.stage in WORKING
        and issue.paused_since is None
        and issue.deadline is not None
        and issue.deadline < now
    )


def _shown(html: str) -> tuple[int, dict[str, int], dict[str, int]]:
    """The board page's counts: all stages, per stage (the stage links), and each column's total."""
    nav = html.split('class="stages"')[1].split("</nav>")[0]
    everything = re.search(r'<span class="count">(\d+)</span>', nav)
    assert everything is not None
    per_stage = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r'stage=(\w+)"[^>]*>[^<]*<span class="count">(\d+)</span>', nav)
    }
    columns = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r'<h2 id="col-(\w+)">[^<]*<span class="count"[^>]*>(\d+)</span>', html)
    }
    return int(everything.group(1)), per_stage, columns


def _signed_in(server: LiveServer, name: str) -> Browser:
    browser = Browser(server)
    browser.sign_in(name)
    return browser


CASES: list[tuple[str, str, dict[str, str], Callable[[Issue, datetime], bool]]] = [
    ("sup-count", "everything", {}, lambda i, now: True),
    ("sup-count", "a level", {"level": "village"}, lambda i, now: i.level == "village"),
    ("sup-count", "a department", {"department": "water"}, lambda i, now: i.department == "water"),
    ("sup-count", "overdue", {"overdue": "yes"}, _overdue),
    ("sup-count", "not overdue", {"overdue": "no"}, lambda i, now: not _overdue(i, now)),
    ("sup-count", "a leader", {"leader": "leader-2"}, lambda i, now: i.leader == "leader-2"),
    ("sup-count", "a text", {"text": "item 1"}, lambda i, now: "item 1" in i.title.lower()),
    (
        "sup-count",
        "a text and a level",
        {"text": "item 1", "level": "grid"},
        lambda i, now: "item 1" in i.title.lower() and i.level == "grid",
    ),
    ("off-roads", "an officer's department", {}, lambda i, now: i.department == "roads"),
    ("off-roads", "an officer's items", {"mine": "1"}, lambda i, now: i.leader == "off-roads"),
]


def test_the_board_pages_counts_and_column_totals_are_a_hand_count_of_the_items(
    town: tuple[LiveServer, list[str]],
) -> None:
    server, numbers = town
    issues = _issues(server, numbers)
    assert {i.stage for i in issues} == set(Stage), "every stage has items"
    running = [i for i in issues if i.stage in WORKING and i.paused_since is None]
    late = [i for i in running if _overdue(i, datetime.now(tz=UTC))]
    assert 0 < len(late) < len(running), "the overdue filter tells running items apart"
    browsers = {name: _signed_in(server, name) for name in ("sup-count", "off-roads")}
    try:
        for who, case, params, matches in CASES:
            # When a person opens the board with these filters
            page = browsers[who].get("/board", params=params)
            assert page.status_code == 200, case
            # Then every count shown is the number of matching items at that stage (the board
            # reads the wall clock for the overdue flag, as the JSON API does)
            now = datetime.now(tz=UTC)
            expected = Counter(str(i.stage) for i in issues if matches(i, now))
            total, per_stage, columns = _shown(page.text)
            assert total == sum(expected.values()), case
            assert per_stage == {stage.value: expected[stage.value] for stage in Stage}, case
            assert columns == per_stage, case
            # ...and a column of one stage shows the same count
            single = browsers[who].get("/board", params={**params, "stage": "in_progress"})
            assert _shown(single.text)[2] == {"in_progress": expected["in_progress"]}, case
        # An officer asking for another department's items is told so, and shown no column
        refused = browsers["off-roads"].get("/board", params={"department": "water"})
        assert refused.status_code == 403
        assert "Officers see their own department&#39;s board (roads)" in refused.text
        assert _shown(refused.text)[2] == {}
    finally:
        for browser in browsers.values():
            browser.close()


def test_the_dashboards_overdue_by_level_is_a_hand_count_of_the_items(
    town: tuple[LiveServer, list[str]],
) -> None:
    server, numbers = town
    issues = _issues(server, numbers)
    now = server.clock.now()  # the dashboards read the workflow's clock
    expected = [
        {
            "level": level.value,
            "working": str(sum(1 for i in issues if i.level == level and i.stage in WORKING)),
            "overdue": str(sum(1 for i in issues if i.level == level and _overdue(i, now))),
        }
        for level in Level
    ]
    assert any(row["overdue"] != "0" for row in expected)
    assert any(i.paused_since is not None and i.deadline and i.deadline < now for i in issues)
    browser = _signed_in(server, "sup-count")
    try:
        download = browser.get("/dashboards/download/overdue-by-level.csv")
        assert list(csv.DictReader(io.StringIO(download.text))) == expected
        page = browser.get("/dashboards").text
        table = page.split('id="overdue-h"')[1].split("</table>")[0]
        shown = re.findall(r'<th scope="row">[^<]*</th><td>(\d+)</td><td>(\d+)</td>', table)
        assert shown == [(row["working"], row["overdue"]) for row in expected]
    finally:
        browser.close()


def test_the_dashboards_funnel_is_a_hand_count_of_the_items(town: tuple[LiveServer, list[str]]) -> None:
    server, numbers = town
    wf, clock = server.services.workflow, server.clock
    # Let deadlines pass again and again: every late item climbs once, the first half's again and
    # again, to the committee
    for turn in range(4):
        clock.advance(timedelta(days=60))
        for number in numbers if turn == 0 else numbers[:12]:
            wf.escalate_if_overdue(number)
    server.settle()
    climbs = {
        number: sum(
            type(e).__name__ in ("Escalated", "ReferredToStandingCommittee") for e in wf.history(number)
        )
        for number in numbers
    }
    issues = _issues(server, numbers)
    expected = {
        "opened": len(issues),
        "assigned": sum(1 for i in issues if i.leader),
        "escalated_once": sum(1 for n in numbers if climbs[n] >= 1),
        "escalated_twice": sum(1 for n in numbers if climbs[n] >= 2),
        "committee": sum(1 for i in issues if i.on_committee_list),
    }
    # (every step is told apart from the one before it)
    assert list(expected.values()) == sorted(expected.values(), reverse=True)
    assert len(set(expected.values())) == len(expected), expected
    browser = _signed_in(server, "sup-count")
    try:
        download = browser.get("/dashboards/download/funnel.csv")
        shown = {row["step"]: int(row["items"]) for row in csv.DictReader(io.StringIO(download.text))}
    finally:
        browser.close()
    assert shown == expected


# -- how many queries --------------------------------------------------------------------------


class _CountingTx:
    """A read transaction that notes each statement it runs."""

    def __init__(self, tx: Tx, statements: list[str]) -> None:
        self._tx = tx
        self._statements = statements

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self._statements.append(sql)
        return self._tx.fetchone(sql, params)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._statements.append(sql)
        return self._tx.fetchall(sql, params)


@contextmanager
def board_reads(db: ViewDB, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statements run on the board's tables through `db.read()` while the block runs (the
    projector thread's reads of its position are left out)."""
    statements: list[str] = []
    original = db.read

    @contextmanager
    def read() -> Iterator[_CountingTx]:
        with original() as tx:
            yield _CountingTx(tx, statements)

    with monkeypatch.context() as patch:
        patch.setattr(db, "read", read)
        yield statements
    statements[:] = [sql for sql in statements if re.search(r"\bboard(_counts|_text)?\b", sql)]


def _counting(statements: list[str]) -> list[str]:
    return [sql for sql in statements if "COUNT(" in sql or "SUM(" in sql]


def test_the_board_page_counts_once_and_the_overdue_table_is_one_query(
    town: tuple[LiveServer, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = town
    db = server.services.projector.db
    browser = _signed_in(server, "sup-count")
    try:
        # (the counts of items not overdue are the counts table's less the overdue items': two)
        for params, counting in (
            ({}, 1),
            ({"level": "town"}, 1),
            ({"leader": "leader-1"}, 1),
            ({"overdue": "no"}, 2),
        ):
            # When the board is shown with a column per stage
            with board_reads(db, monkeypatch) as statements:
                assert browser.get("/board", params=params).status_code == 200
            # Then each column's rows are one query, and the counts per stage are read once
            assert len(_counting(statements)) == counting, (params, statements)
            assert len(statements) == len(Stage) + counting, (params, statements)
        # When the dashboard's overdue-by-level table is read
        with board_reads(db, monkeypatch) as statements:
            assert browser.get("/dashboards/download/overdue-by-level.csv").status_code == 200
        # Then it is one grouped query
        assert len(statements) == 1, statements
    finally:
        browser.close()
