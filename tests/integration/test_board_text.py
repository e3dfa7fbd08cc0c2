"""The board's text filter finds exactly the items whose title or number contains the text, once
LIKE's wildcards (`%`, `_`) are dropped from it, as the board always has.

On SQLite, texts of three characters or more are answered by the board's trigram index and
shorter ones by a scan; both must agree with a plain substring check, on the live board (filled
page by page as the projector follows the log) and on a rebuilt one (filled in the swap).
PostgreSQL scans with ILIKE. Both ignore case (SQLite for ASCII letters; the titles here have
no other cased letters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from api.settings import Settings
from domain.clock import FakeClock
from domain.rules import Actor, Role
from projections import queries
from projections.projector import Projector
from projections.store import ViewDB
from tests.conftest import StoreFactory
from tests.integration.viewtools import RebuiltElsewhere, main_projector

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
