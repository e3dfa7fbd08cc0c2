"""The case board: a column per stage with its count, filters, overdue items marked, paging.

Each column is the page the JSON API's board query (`api.routes.views.board`) answers for that
stage, so the page shows exactly what the API would show this person: officers their
department's items, or the items they lead. The columns are read together
(`api.routes.views.board_columns`), so the counts per stage are counted once (a text search on
SQLite still runs once per column).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response

from api.deps import STAFF
from api.pages.web import PageDep, PageError, PageRoute
from api.routes.views import board_columns
from domain.errors import NotPermittedError
from domain.rules import Area, Level, Role, Stage

router = APIRouter(route_class=PageRoute, include_in_schema=False)
COLUMN_SIZE = 10
SINGLE_SIZE = 50
Text = Annotated[str | None, Query(max_length=120)]
E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], value: str | None) -> E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise PageError(422, f"{value[:40]!r}?") from None


@router.get("/board")
def board(
    page: PageDep,
    stage: Text = None,
    area: Text = None,
    level: Text = None,
    leader: Text = None,
    department: Text = None,
    overdue: Text = None,
    text: Text = None,
    mine: Text = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    who = page.require(*STAFF)
    chosen = _enum(Stage, stage)
    filters: dict[str, Any] = {
        "area": _enum(Area, area),
        "level": _enum(Level, level),
        "leader": (leader or "").strip() or None,
        "department": (department or "").strip() or None,
        "overdue": {"yes": True, "no": False}.get(overdue or ""),
        "text": (text or "").strip() or None,
    }
    if who.role == Role.OFFICER and (mine or who.department is None):
        filters["leader"] = who.name
    stages = [chosen] if chosen else list(Stage)
    size = SINGLE_SIZE if chosen else COLUMN_SIZE
    columns: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    refused = None
    try:
        found = board_columns(page.svc, who, stages, page=page_no, page_size=size, **filters)
    except NotPermittedError as error:
        refused = page.refusal(error)
    else:
        counts = found[0].counts
        columns = [
            {"stage": stage.value, "rows": column.rows, "total": column.total}
            for stage, column in zip(stages, found, strict=True)
        ]
    has_next = any(c["total"] > page_no * size for c in columns)
    query = {
        k: v
        for k, v in {
            "stage": stage, "area": area, "level": level, "leader": leader, "department": department,
            "overdue": overdue, "text": text, "mine": mine,
        }.items()
        if v
    }  # fmt: skip
    return page.render(
        "board.html",
        403 if refused else 200,
        error=refused,
        columns=[] if refused else columns,
        counts=counts,
        total=sum(counts.values()),
        chosen=chosen.value if chosen else "",
        filters=query,
        stages=list(Stage),
        areas=list(Area),
        levels=list(Level),
        page_no=page_no,
        has_next=has_next,
        base="/board?" + urlencode(query) + ("&" if query else ""),
        stage_link=lambda s: (
            "/board?" + urlencode({**{k: v for k, v in query.items() if k != "stage"}, "stage": s})
        ),
    )
