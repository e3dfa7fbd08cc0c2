"""The board's text filter finds exactly the items whose title or number contains the text, once
LIKE's wildcards (`%`, `_`) are dropped from it, as the board always has.

On SQLite, texts of three characters or more are answered by the board's trigram index and
shorter ones by a scan; both must agree with a plain substring check, on the live board (filled
page by page as the projector follows the log) and on a rebuilt one (filled in the swap).
PostgreSQL scans with ILIKE. Both ignore case (SQLite for ASCII letters; the titles here have
no other cased letters).

The index keys each entry by its item's stage, so an item that changes stage must have its entry
moved; and a search alone finds its page by walking the sort's index or by looking every match
up, whichever it expects to be cheaper: every plan must give the page, total and counts that
filtering the unfiltered board gives, for every sort, direction, stage and page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from domain.clock import FakeClock
from domain.rules import Actor, Role, Stage
from domain.workflow import Workflow
from projections import queries
from projections.board import STAGE_BITS, STAGE_CODES
from projections.projector import Projector
from projections.store import ViewDB
from tests.conftest import StoreFactory
from tests.integration.viewtools import RebuiltElsewhere, main_projector, text_index_matches_the_board

OFFICER = Actor("Wang Fang", role=Role.SUPERVISOR)
TITLES = [
    "Street light broken at lane 12",
    "Drain blocked at the school gate",
    "DRAIN overflowing near block 7",
    "路灯不亮 东街口",
    "东街口排水沟堵塞",
    'Sign says "slow" but nobody does',
    "100% of the lamps out on lane 1",
    "Stray dogs at market_2",
    "Noise at night, lane 120",
]
NEEDLES = [
    "drain", "Drain", "DRAIN", "rain", "lane 1", "lane 12", "ne 1", "la", "e", "a", "路灯", "东街口", "街",
    '"slow"', '"', "100%", "%", "market_2", "_", "2026-", "2026-0001", "-00", "nothing like it",
]  # fmt: skip


def expected(titles: dict[str, str], needle: str) -> set[str]:
    """The items a substring check finds, ignoring case (LIKE's wildcards dropped, as the board does)."""
    text = needle.replace("%", "").replace("_", "").lower()
    return {n for n, title in titles.items() if text in title.lower() or text in n.lower()}


@pytest.fixture
def board_world(
    settings: Settings, make_workflow: StoreFactory, clock: FakeClock, tmp_path: Path
) -> Iterator[tuple[dict[str, str], Projector, ViewDB]]:
    workflow = make_workflow()
    titles: dict[str, str] = {}
    with main_projector(settings, page_size=2) as projector:
        for i, title in enumerate(TITLES):
            opened = workflow.open_issue(
                OFFICER, title=title, area="livelihood", level="grid", horizon="near"
            )
            assert opened.number is not None
            titles[opened.number] = title
            if i % 2:
                workflow.assign_leader(
                    OFFICER, opened.number, leader="Li Wei", department="roads", goals=["Fix it"],
                    measures=["Crew"], deadline=clock.now() + timedelta(days=30),
                )  # fmt: skip
            if i % 3 == 0:
                projector.catch_up()  # the live board grows page by page, two entries a page
        projector.catch_up()
        with RebuiltElsewhere(settings, tmp_path / "rebuilt") as elsewhere:
            elsewhere.snapshot()  # caught up, then rebuilt from zero
            yield titles, projector, elsewhere.projector.db


def test_the_text_filter_finds_exactly_the_items_whose_title_or_number_contains_it_less_wildcards(
    board_world: tuple[dict[str, str], Projector, ViewDB], clock: FakeClock
) -> None:
    # Given items with English and Chinese titles, quotes and LIKE's wildcards among them
    titles, projector, rebuilt = board_world
    for where, db in (("live", projector.db), ("rebuilt", rebuilt)):
        for needle in NEEDLES:
            # When the live or the rebuilt board is filtered by the text
            page = queries.board(db, now=clock.now(), where=queries.BoardFilter(text=needle), sort="number")
            # Then exactly the matching items come back, counted per stage, in the page's order
            found = expected(titles, needle)
            assert [row["number"] for row in page.rows] == sorted(found), (where, needle)
            assert page.total == len(found), (where, needle)
            stages = Counter(row["stage"] for row in page.rows)
            assert page.counts == dict(stages), (where, needle)
        text_index_matches_the_board(db)


def test_the_text_filter_pages_and_narrows_by_stage_like_any_other_filter(
    board_world: tuple[dict[str, str], Projector, ViewDB], clock: FakeClock
) -> None:
    # Given the board, and a text every item's number contains
    titles, projector, _ = board_world
    # When it is read two at a time, newest number first, then narrowed to assigned items
    seen = []
    for number in range(1, 6):
        page = queries.board(
            projector.db, now=clock.now(), where=queries.BoardFilter(text="2026-"), sort="number",
            descending=True, page=number, page_size=2,
        )  # fmt: skip
        seen += [row["number"] for row in page.rows]
    assigned = queries.board(
        projector.db,
        now=clock.now(),
        where=queries.BoardFilter(text="2026-", stage="assigned"),
        sort="number",
    )
    # Then the pages run through every match once, in order, and the stage filter keeps only its items
    assert seen == sorted(titles, reverse=True)
    assert [row["number"] for row in assigned.rows] == sorted(
        number for i, number in enumerate(sorted(titles)) if i % 2
    )
    assert assigned.total == len(TITLES) // 2
    assert assigned.counts == {"assigned": len(TITLES) // 2, "opened": len(TITLES) - len(TITLES) // 2}


# -- a board whose items change stage after they are indexed --------------------------------------

PROBLEMS = ("Lamp broken", "Drain blocked", "Lamp flickering", "Lamp missing")
ITEMS = 40
# Dense ("lamp": three items in four), sparse, a single item, every item (numbers), none.
WORDS = ("lamp", "drain", "lane 1", "lane 27", "2026-", "nowhere")
STAGES = (None, "opened", "assigned", "in_progress", "closed")
# (page, page size): the first, the second and the last of small pages; past the end; all at once.
PAGES = ((1, 4), (2, 4), (8, 4), (11, 4), (1, 500))


def move(workflow: Workflow, clock: FakeClock, number: str, i: int) -> None:
    """Take item `i` along one of eight paths, a while after the last item moved."""
    path = i % 8
    clock.advance(timedelta(minutes=7))
    if path == 0:
        return  # stays opened
    if path == 5:
        workflow.register_and_explain(
            OFFICER, number, explanation="Needs county funds", revisit_at=clock.now() + timedelta(days=9)
        )
        return
    if path == 7:
        workflow.register_and_explain(
            OFFICER, number, explanation="Needs county funds", revisit_at=clock.now() + timedelta(days=9)
        )
        workflow.revisit(OFFICER, number)  # back to opened: its entry moves twice, or not at all
        return
    workflow.assign_leader(
        OFFICER, number, leader="Li Wei", department="roads", goals=["Fix it"], measures=["Crew"],
        deadline=clock.now() + timedelta(days=(i * 7) % 23 + 1),
    )  # fmt: skip
    if path >= 2:
        workflow.report_progress(OFFICER, number, note="Half done")
    if path in (3, 4, 6):
        workflow.report_resolution(OFFICER, number, summary="Done")
    if path in (4, 6):
        workflow.close_fixed_at_once(OFFICER, number, note="Fixed on the spot")
    if path == 6:
        workflow.reopen(OFFICER, number, reason="Out again", deadline=clock.now() + timedelta(days=3))


@pytest.fixture
def moving_board(
    settings: Settings, make_workflow: StoreFactory, clock: FakeClock, tmp_path: Path
) -> Iterator[tuple[ViewDB, ViewDB]]:
    """A live board and a rebuilt one. Most items are indexed as opened, then change stage in later
    pages; the last few are opened and change stage within one page."""
    workflow = make_workflow()
    numbers = []
    with main_projector(settings, page_size=3) as projector:
        for i in range(ITEMS):
            opened = workflow.open_issue(
                OFFICER, title=f"{PROBLEMS[i % 4]} at lane {i}", area="livelihood", level="grid",
                horizon="immediate",
            )  # fmt: skip
            assert opened.number is not None
            numbers.append(opened.number)
            if i == ITEMS - 8:
                projector.catch_up()
        # Moved in an order of their own (so that no sort follows the numbers), four items at a time,
        # three events a page: their moves land in pages after their openings
        for step, i in enumerate([(k * 13) % (ITEMS - 8) for k in range(ITEMS - 8)]):
            move(workflow, clock, numbers[i], i)
            if step % 4 == 3:
                projector.catch_up()
        for i in range(ITEMS - 8, ITEMS):
            move(workflow, clock, numbers[i], i)
        projector.page_size = 1000
        projector.catch_up()  # the last items' openings and moves in one page
        with RebuiltElsewhere(settings, tmp_path / "rebuilt") as elsewhere:
            elsewhere.snapshot()
            yield projector.db, elsewhere.projector.db


def filtered(
    db: ViewDB, now: Any, word: str, *, sort: str, descending: bool, stage: str | None, page: int, size: int
) -> tuple[list[str], int, dict[str, int]]:
    """What the text filter should answer, from the unfiltered board in the same order."""
    every = queries.board(db, now=now, sort=sort, descending=descending, page_size=queries.MAX_PAGE_SIZE)
    assert every.total == ITEMS
    found = [row for row in every.rows if word.lower() in row["title"].lower() or word in row["number"]]
    chosen = [row["number"] for row in found if stage is None or row["stage"] == stage]
    return chosen[(page - 1) * size : page * size], len(chosen), dict(Counter(row["stage"] for row in found))


def check_every_page(db: ViewDB, now: Any, where: str) -> None:
    """Every text, sort, direction, stage and page: as the unfiltered board filtered says."""
    for word, sort, descending, stage, (page, size) in product(
        WORDS, queries.BOARD_SORTS, (False, True), STAGES, PAGES
    ):
        got = queries.board(
            db, now=now, where=queries.BoardFilter(text=word, stage=stage), sort=sort,
            descending=descending, page=page, page_size=size,
        )  # fmt: skip
        expected = filtered(
            db, now, word, sort=sort, descending=descending, stage=stage, page=page, size=size
        )
        case = (where, word, sort, descending, stage, page, size)
        assert ([row["number"] for row in got.rows], got.total, got.counts) == expected, case


def test_a_text_search_gives_every_page_as_a_substring_check_does(
    moving_board: tuple[ViewDB, ViewDB], clock: FakeClock
) -> None:
    # Given the live and the rebuilt board (SQLite: the index; PostgreSQL: ILIKE)
    live, rebuilt = moving_board
    for where, db in (("live", live), ("rebuilt", rebuilt)):
        # When it is searched every way, then every answer is the substring check's
        check_every_page(db, clock.now(), where)


# The ways a text search alone finds its page on SQLite, each forced (in the test above the board
# chooses: here it walks for dense texts and looks every match up for sparse ones or deep pages).
PLANS = {
    "walk": {"WALK_PER_MATCH": ITEMS * 1000},
    "lookups": {"WALK_PER_MATCH": 0},
    "walk falls short": {"WALK_PER_MATCH": ITEMS * 1000, "WALK_SLACK": 0.1, "WALK_FLOOR": 0},
}


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_each_plan_of_a_text_search_gives_every_page_as_a_substring_check_does(
    moving_board: tuple[ViewDB, ViewDB], clock: FakeClock, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the live and the rebuilt board on SQLite, its items moved along after being indexed
    for name, value in PLANS[plan].items():
        monkeypatch.setattr(queries, name, value)
    live, rebuilt = moving_board
    for where, db in (("live", live), ("rebuilt", rebuilt)):
        # When it is searched with this plan for dense, sparse and absent texts, narrowed by stage
        # or not, in every sort both ways, a page at a time and past the end
        # Then each page, total and the counts per stage are those of a substring check
        check_every_page(db, clock.now(), where)


def test_an_item_that_changes_stage_is_found_under_its_new_stage_only(
    moving_board: tuple[ViewDB, ViewDB], clock: FakeClock
) -> None:
    # Given items indexed while opened, most of which then moved to other stages
    live, rebuilt = moving_board
    for db in (live, rebuilt):
        # When every item is searched for by a text all of them contain
        everything = queries.board(db, now=clock.now(), sort="number", page_size=ITEMS)
        stages = {row["number"]: row["stage"] for row in everything.rows}
        assert set(stages.values()) > {"opened", "closed"}, "the items did not move"
        found = queries.board(db, now=clock.now(), where=queries.BoardFilter(text="2026-"), page_size=ITEMS)
        # Then each is counted under its stage now, and found under that stage alone
        assert found.counts == dict(Counter(stages.values()))
        for stage in set(stages.values()):
            in_stage = queries.board(
                db, now=clock.now(), where=queries.BoardFilter(text="2026-", stage=stage), page_size=ITEMS
            )
            assert {row["number"] for row in in_stage.rows} == {n for n, s in stages.items() if s == stage}
        # And on SQLite the index holds one entry per item, keyed by its stage now
        text_index_matches_the_board(db)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_text_index_keyed_the_old_way_is_refilled_when_a_projector_starts(
    settings: Settings, moving_board: tuple[ViewDB, ViewDB], clock: FakeClock
) -> None:
    # Given a board whose text index was filled before its keys held the stage (the bare rowid)
    live, _ = moving_board
    with live.transaction() as tx:
        tx.execute("INSERT INTO board_text (board_text) VALUES ('delete-all')")
        tx.execute("INSERT INTO board_text (rowid, title, number) SELECT rowid, title, number FROM board")
    # When a projector starts on it
    with main_projector(settings) as projector:
        # Then the index is refilled with its keys, and searches answer as before
        text_index_matches_the_board(projector.db)
        check_every_page(projector.db, clock.now(), "refilled")


def test_every_stage_has_its_own_text_index_code() -> None:
    # Given the stages an item can be in, then each has its own code, from 1, within the key's bits
    assert set(STAGE_CODES) == set(Stage)
    assert sorted(STAGE_CODES.values()) == list(range(1, len(STAGE_CODES) + 1))
    assert max(STAGE_CODES.values()) < 1 << STAGE_BITS
