"""Dashboards for supervisors: satisfaction per area against the target, overdue items by
level, the escalation funnel and the accountability ledger per leader, each as an SVG bar
chart beside its table, each table downloadable as CSV or Excel as the JSON API's
exports are written (`api.routes.views.export_response`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from fastapi import APIRouter, Response

from api.deps import SUPERVISORS, Services
from api.pages.charts import Chart, bar_chart
from api.pages.web import Page, PageDep, PageRoute
from api.routes.views import export_response
from api.views_cli import export_rows
from domain.rules import Level
from projections import queries

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Table = Literal["satisfaction", "overdue-by-level", "funnel", "ledger"]


def overdue_by_level(svc: Services, now: datetime) -> list[dict[str, Any]]:
    """Per level: items being worked on, and how many of them are overdue (the board's flag)."""
    found = queries.working_by_level(svc.projector.db, now=now)
    return [
        {"level": level.value, "working": working, "overdue": late}
        for level in Level
        for working, late in [found.get(level.value, (0, 0))]
    ]


def funnel(svc: Services) -> list[dict[str, Any]]:
    """How far items went: opened, given a leader, escalated once, twice, referred to the committee."""
    return [{"step": step, "items": count} for step, count in queries.funnel(svc.projector.db).items()]


TABLES = get_args(Table)


def table(page: Page, name: str) -> list[dict[str, Any]]:
    """The rows of one dashboard table (the views' own exports where there is one)."""
    svc, now = page.svc, page.now()
    if name == "overdue-by-level":
        return overdue_by_level(svc, now)
    if name == "funnel":
        return funnel(svc)
    return export_rows(svc.projector, name, now, target=svc.settings.satisfaction_target)


def charts(page: Page, data: dict[str, list[dict[str, Any]]]) -> dict[str, Chart]:
    """The four charts; every bar's text names its row, its series and its value."""
    t = page.t
    target = page.svc.settings.satisfaction_target
    percent = round(target * 100)

    def bar(
        name: str, series: str, value: float, tone: str, shown: str | None = None
    ) -> tuple[float, str, str]:
        return value, f"{name} — {series}: {shown if shown is not None else value}", tone

    rates = []
    for r in data["satisfaction"]:
        area = t.label("area", r["area"])
        tone = "good" if r["meets_target"] else "bad"
        rates.append((area, [bar(area, t("Rate"), r["rate"] * 100, tone, f"{r['rate']:.1%}")]))
    satisfaction = bar_chart(
        "chart-satisfaction",
        t("Satisfaction per area"),
        t(
            "Satisfied and basically satisfied verdicts per area; the line marks the target of {n}%.",
            n=percent,
        ),
        rates,
        maximum=100,
        target=target * 100,
        target_text=t("target {n}%", n=percent),
        legend=[("good", t("meets the target")), ("bad", t("below the target"))],
    )
    levels = []
    for r in data["overdue-by-level"]:
        level = t.label("level", r["level"])
        pair = [
            bar(level, t("being worked on"), r["working"], "neutral"),
            bar(level, t("overdue"), r["overdue"], "bad"),
        ]
        levels.append((level, pair))
    overdue = bar_chart(
        "chart-overdue",
        t("Overdue by level"),
        t("Items being worked on at each level, and how many of them are overdue."),
        levels,
        legend=[("neutral", t("being worked on")), ("bad", t("overdue"))],
    )
    steps = []
    for r in data["funnel"]:
        step = t(STEP_TITLES[r["step"]])
        steps.append((step, [bar(step, t("Items"), r["items"], "neutral")]))
    funnel_chart = bar_chart(
        "chart-funnel",
        t("Escalation funnel"),
        t("Items opened, given a leader, escalated once or twice, or on the standing committee's list."),
        steps,
    )
    leaders = []
    for r in data["ledger"]:
        name = r["leader"]
        leaders.append(
            (
                name,
                [
                    bar(name, t("items led"), r["items"], "neutral"),
                    bar(name, t("closed"), r["closed"], "good"),
                    bar(name, t("missed deadlines"), r["missed_deadlines"], "bad"),
                ],
            )
        )
    ledger = bar_chart(
        "chart-ledger",
        t("Ledger per leader"),
        t("Items each leader has led, closed, and the deadlines they missed."),
        leaders,
        legend=[("neutral", t("items led")), ("good", t("closed")), ("bad", t("missed deadlines"))],
    )
    return {
        "satisfaction": satisfaction,
        "overdue-by-level": overdue,
        "funnel": funnel_chart,
        "ledger": ledger,
    }


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
    return page.finish(export_response(name, fmt, table(page, name)))
