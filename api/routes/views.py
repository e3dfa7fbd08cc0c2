"""Queries over the views: board, overdue index, ledger, satisfaction, feedback, register, exports."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import Services, ServicesDep, Staff, Supervisor, WaitFor, wait_for
from api.errors import ERROR_RESPONSES
from api.schemas import Paged
from api.security import Principal
from api.views_cli import export_header, export_rows, write_csv, write_xlsx
from domain.errors import NotPermittedError
from domain.rules import Area, Level, Role, Stage
from projections import queries

router = APIRouter(prefix="/api", tags=["views"], responses=ERROR_RESPONSES)
ExportView = Literal["board", "ledger", "ledger-departments", "register", "satisfaction", "feedback"]
Filter = Annotated[str | None, Query(min_length=1, max_length=120)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _now() -> datetime:
    return datetime.now(tz=UTC)


@router.get("/board", response_model=Paged, summary="The case board")
def board(
    svc: ServicesDep,
    who: Staff,
    stage: Stage | None = None,
    area: Area | None = None,
    level: Level | None = None,
    leader: Filter = None,
    department: Filter = None,
    overdue: bool | None = None,
    on_committee: bool | None = None,
    text: Filter = None,
    sort: Literal["deadline", "number", "updated", "opened"] = "deadline",
    descending: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 50,
    wait: WaitFor = None,
) -> dict[str, Any]:
    """Filter, sort and page the board; counts per stage; overdue flagged. Officers see their department's."""
    wait_for(svc, wait)
    leader, department = within_reach(who, leader, department)
    where = queries.BoardFilter(
        stage=stage, area=area, level=level, leader=leader, department=department, overdue=overdue,
        on_committee=on_committee, text=text,
    )  # fmt: skip
    result = queries.board(
        svc.projector.db,
        now=_now(),
        where=where,
        sort=sort,
        descending=descending,
        page=page,
        page_size=page_size,
    )
    return vars(result)


def within_reach(who: Principal, leader: str | None, department: str | None) -> tuple[str | None, str | None]:
    """The board's leader and department filters as `who` may ask them: an officer's narrowed to
    their department's items, or (leader=their own name) the items they lead; anyone else's as asked.
    Raises NotPermittedError when an officer asks for another department's items."""
    if who.role != Role.OFFICER or leader == who.name:
        return leader, department
    if who.department is None:
        if department is not None:
            raise NotPermittedError("Officers without a department see the items they lead.")
        return who.name, department
    if department not in (None, who.department):
        raise NotPermittedError(
            f"Officers see their own department's board ({who.department}) and, "
            f"with leader={who.name}, the items they lead."
        )
    return leader, who.department


def board_columns(
    svc: Services,
    who: Principal,
    stages: list[Stage],
    *,
    area: Area | None,
    level: Level | None,
    leader: str | None,
    department: str | None,
    overdue: bool | None,
    text: str | None,
    page: int,
    page_size: int,
) -> list[queries.Page]:
    """For each of `stages`, the page `board` answers `who` for that stage (sorted by deadline), all
    in one read, with the counts per stage counted once (the staff board's columns; a text search on
    SQLite searches once per column, `queries.board_columns`)."""
    leader, department = within_reach(who, leader, department)
    where = queries.BoardFilter(
        area=area, level=level, leader=leader, department=department, overdue=overdue, text=text
    )
    return queries.board_columns(
        svc.projector.db, now=_now(), stages=stages, where=where, page=page, page_size=page_size
    )


@router.get("/overdue", summary="The overdue index")
def overdue(
    svc: ServicesDep, who: Supervisor, limit: Annotated[int, Query(ge=1, le=5000)] = 500, wait: WaitFor = None
) -> list[dict[str, Any]]:
    wait_for(svc, wait)
    return queries.overdue_items(svc.projector.db, now=_now(), limit=limit)


@router.get("/ledger", summary="The accountability ledger")
def ledger(
    svc: ServicesDep, who: Supervisor, by: Literal["leader", "department"] = "leader", wait: WaitFor = None
) -> list[dict[str, Any]]:
    wait_for(svc, wait)
    return queries.ledger(svc.projector.db, by=by)


@router.get("/satisfaction", summary="Satisfaction against the target")
def satisfaction(
    svc: ServicesDep,
    who: Staff,
    by: Literal["area", "unit", "leader", "level", "period"] = "area",
    wait: WaitFor = None,
) -> list[dict[str, Any]]:
    wait_for(svc, wait)
    return queries.satisfaction(
        svc.projector.db, by=by, target=svc.settings.satisfaction_target, zone=svc.settings.zone
    )


@router.get("/feedback", summary="Opinions not yet answered")
def feedback(
    svc: ServicesDep,
    who: Staff,
    recorder: Filter = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    wait: WaitFor = None,
) -> list[dict[str, Any]]:
    wait_for(svc, wait)
    return queries.unanswered(svc.projector.db, now=_now(), recorder=recorder, limit=limit)


@router.get("/register", response_model=Paged, summary="The public register")
def register(
    svc: ServicesDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 50,
    wait: WaitFor = None,
) -> dict[str, Any]:
    """Disclosed items exactly as published; nothing private. Open to everyone."""
    wait_for(svc, wait)
    return vars(queries.public_register(svc.projector.db, now=_now(), page=page, page_size=page_size))


@router.get(
    "/exports/{view}.{fmt}",
    summary="Download a view as CSV or Excel",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}},
)
def export(
    view: ExportView, fmt: Literal["csv", "xlsx"], svc: ServicesDep, who: Supervisor, wait: WaitFor = None
) -> Response:
    wait_for(svc, wait)
    rows = export_rows(svc.projector, view, _now(), target=svc.settings.satisfaction_target)
    return export_response(view, fmt, rows)


def export_response(name: str, fmt: Literal["csv", "xlsx"], rows: list[dict[str, Any]]) -> Response:
    """Rows as a download named `name`: CSV (UTF-8) or an Excel workbook with one sheet `name`
    (the exports here and the dashboards' downloads)."""
    header = export_header(rows)
    content: str | bytes
    if fmt == "csv":
        buffer = io.StringIO()
        write_csv(buffer, header, rows)
        content, media_type = buffer.getvalue(), "text/csv; charset=utf-8"
    else:
        content, media_type = write_xlsx(name, header, rows), XLSX
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )
