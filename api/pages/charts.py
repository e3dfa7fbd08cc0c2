"""Horizontal bar charts drawn as inline SVG by the templates: no JavaScript, no library.

This module only does the arithmetic (where each bar and the target line go); the template
`_chart.html` draws them with a title, a description and a `<title>` per bar, so screen
readers announce every value, and the same numbers stand in a table beside the chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LABEL_WIDTH = 190
BAR_AREA = 420
VALUE_WIDTH = 90
ROW = 30
BAR = 18
TOP = 10


@dataclass(frozen=True)
class Bar:
    """One bar: its label, the value shown, and where it is drawn."""

    label: str
    text: str
    y: int
    x: float
    width: float
    tone: str


@dataclass(frozen=True)
class Chart:
    """A chart ready to draw."""

    id: str
    title: str
    description: str
    bars: list[Bar]
    height: int
    width: int = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR
    target_x: float | None = None
    target_text: str = ""
    legend: list[tuple[str, str]] = field(default_factory=list)


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    rows: list[tuple[str, list[tuple[float, str, str]]]],
    *,
    maximum: float | None = None,
    target: float | None = None,
    target_text: str = "",
    legend: list[tuple[str, str]] | None = None,
) -> Chart:
    """Bars for `rows` of (label, [(value, shown text, tone), ...]); several values make a group."""
    values = [value for _, series in rows for value, _, _ in series]
    top = maximum if maximum is not None else max([*values, target or 0.0, 1.0])
    scale = BAR_AREA / top if top else 0.0
    bars: list[Bar] = []
    y = TOP
    for label, series in rows:
        step = BAR // max(1, len(series)) if len(series) > 1 else BAR
        for index, (value, text, tone) in enumerate(series):
            bars.append(
                Bar(
                    label=label if index == 0 else "",
                    text=text,
                    y=y + index * step,
                    x=LABEL_WIDTH,
                    width=round(max(0.0, value) * scale, 1),
                    tone=tone,
                )
            )
        y += ROW
    target_x = LABEL_WIDTH + round(target * scale, 1) if target is not None else None
    return Chart(
        id=chart_id,
        title=title,
        description=description,
        bars=bars,
        height=max(y + TOP, 2 * TOP + ROW),
        bar_height=BAR // max(1, max((len(s) for _, s in rows), default=1)),
        target_x=target_x,
        target_text=target_text,
        legend=legend or [],
    )
