"""Dashboards for supervisors: satisfaction per area against the target, overdue items by
level, the escalation funnel and the accountability ledger per leader, each as an SVG bar
chart beside its table, each table downloadable as CSV or Excel (`write_xlsx`)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response

from api.deps import SUPERVISORS, Services
from api.pages.charts import Chart, bar_chart
from api.pages.web import Page, PageDep, PageRoute
from api.views_cli import export_rows, write_xlsx
from domain.rules import Level
from projections import queries

router = APIRouter(route_class=PageRoute, include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Table = Literal["satisfaction", "overdue-by-level", "funnel", "ledger"]


def overdue_by_level(svc: Services, now: datetime) -> list[dict[str, Any]]:
    """Per level: items being worked on, and how many of them are overdue (the board's flag)."""
    rows = []
    for level in Level:
        working = sum(
            queries.board(
                svc.projector.db, now=now, where=queries.BoardFilter(level=level, stage=stage), page_size=1
            ).total
            for stage in queries.WORKING
        )
        late = queries.board(
            svc.projector.db, now=now, where=queries.BoardFilter(level=level, overdue=True), page_size=1
        ).total
        rows.append({"level": level.value, "working": working, "overdue": late})
    return rows


def funnel(svc: Services, now: datetime) -> list[dict[str, Any]]:
    """How far items went: opened, given a leader, escalated once, twice, referred to the committee."""
    board = export_rows(svc.projector, "board", now)
    steps = [
        ("opened", len(board)),
        ("assigned", sum(1 for r in board if r["leader"])),
        ("escalated_once", sum(1 for r in board if r["escalations"] >= 1)),
        ("escalated_twice", sum(1 for r in board if r["escalations"] >= 2)),
        ("committee", sum(1 for r in board if r["on_committee"])),
    ]
    return [{"step": step, "items": count} for step, count in steps]


TABLES = ("satisfaction", "overdue-by-level", "funnel", "ledger")


def table(page: Page, name: str) -> list[dict[str, Any]]:
    """The rows of one dashboard table (the views' own exports where there is one)."""
    svc, now = page.svc, page.now()
    if name == "overdue-by-level":
        return overdue_by_level(svc, now)
    if name == "funnel":
        return funnel(svc, now)
    return export_rows(svc.projector, name, now)


def charts(page: Page, data: dict[str, list[dict[str, Any]]]) -> dict[str, Chart]:
    t = page.t
    target = page.svc.settings.satisfaction_target
    satisfaction = bar_chart(
        "chart-satisfaction",
        t("Satisfaction per area"),
        t("Share of satisfied and basically satisfied verdicts per area; the line marks the target of {target}%.",
          target=round(target * 100)),
        [
            (t.label("area", r["area"]), [(r["rate"] * 100, f"{t.label('area', r['area'])}: {r['rate']:.0%}",
                                             "good" if r["meets_target"] else "bad")])
            for r in data["satisfaction"]
        ],
        maximum=100,
        target=target * 100,
        target_text=t("target {n}%", n=round(target * 100)),
        legend=[("good", t("meets the target")), ("bad", t("below the target"))],
    )  # fmt: skip
    overdue = bar_chart(
        "chart-overdue",
        t("Overdue by level"),
        t("Items being worked on at each level, and how many of them are overdue."),
        [
            (t.label("level", r["level"]), [
                (r["working"], f"{t.label('level', r['level'])} — {t('being worked on')}: {r['working']}", "neutral"),
                (r["overdue"], f"{t.label('level', r['level'])} — {t('overdue')}: {r['overdue']}", "bad"),
            ])
            for r in data["overdue-by-level"]
        ],
        legend=[("neutral", t("being worked on")), ("bad", t("overdue"))],
    )  # fmt: skip
    steps = bar_chart(
        "chart-funnel",
        t("Escalation funnel"),
        t("How many items were opened, given a leader, escalated once or twice, or sent to the standing committee."),
        [(t(STEP_TITLES[r["step"]]), [(r["items"], f"{t(STEP_TITLES[r['step']])}: {r['items']}", "neutral")])
         for r in data["funnel"]],
    )  # fmt: skip
    ledger = bar_chart(
        "chart-ledger",
        t("Ledger per leader"),
        t("Items each leader has led, closed, and the deadlines they missed."),
        [
            (r["leader"], [
                (r["items"], f"{r['leader']} — {t('items led')}: {r['items']}", "neutral"),
                (r["closed"], f"{r['leader']} — {t('closed')}: {r['closed']}", "good"),
                (r["missed_deadlines"], f"{r['leader']} — {t('missed deadlines')}: {r['missed_deadlines']}", "bad"),
            ])
            for r in data["ledger"]
        ],
        legend=[("neutral", t("items led")), ("good", t("closed")), ("bad", t("missed deadlines"))],
    )  # fmt: skip
    return {"satisfaction": satisfaction, "overdue-by-level": overdue, "funnel": steps, "ledger": ledger}


STEP_TITLES = {
    "opened": "Opened",
    "assigned": "Given a leader",
    "escalated_once": "Escalated once",
    "escalated_twice": "Escalated twice",
    "committee": "Standing committee",
}


@router.get("/dashboards")
def dashboards(page: PageDep) -> Response:
    page.require(*SUPERVISORS)
    data = {name: table(page, name) for name in TABLES}
    return page.render(
        "dashboards.html",
        data=data,
        charts=charts(page, data),
        target=page.svc.settings.satisfaction_target,
        step_titles=STEP_TITLES,
    )


@router.get("/dashboards/download/{name}.{fmt}")
def download(name: Table, fmt: Literal["csv", "xlsx"], page: PageDep) -> Response:
    """One dashboard table as CSV or as an Excel workbook."""
    page.require(*SUPERVISORS)
    rows = table(page, name)
    header = list(dict.fromkeys(key for row in rows for key in row))
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        response = Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")
    else:
        response = Response(write_xlsx(name, header, rows), media_type=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return page.finish(response)
