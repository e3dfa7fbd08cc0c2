"""`caseline project`, `caseline rebuild` and `caseline export`: running and reading the views."""

from __future__ import annotations

import csv
import io
import signal
import sys
import threading
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from openpyxl import Workbook
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from api.settings import Settings
from api.storage import build_projector
from projections import queries
from projections.projector import VIEWS_BY_NAME


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


EXPORTS = ("board", "ledger", "ledger-departments", "register", "satisfaction", "feedback")


def export_rows(projector: Any, view: str, now: datetime, *, target: float) -> list[dict[str, Any]]:
    """The rows of one exportable view, in a deterministic order (satisfaction against `target`)."""
    db = projector.db
    if view == "board":
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            chunk = queries.board(db, now=now, sort="number", page=page, page_size=queries.MAX_PAGE_SIZE)
            rows += chunk.rows
            if len(chunk.rows) < chunk.page_size:
                return rows
            page += 1
    if view == "ledger":
        return queries.ledger(db, by="leader")
    if view == "ledger-departments":
        return queries.ledger(db, by="department")
    if view == "satisfaction":
        return queries.satisfaction(db, by="area", target=target)
    if view == "feedback":
        return queries.unanswered(db, now=now, limit=1_000_000)
    if view == "register":
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            chunk = queries.public_register(db, now=now, page=page, page_size=queries.MAX_PAGE_SIZE)
            for row in chunk.rows:
                published = row.pop("published")
                out.append({**row, **{f"published_{k}": v for k, v in sorted(published.items())}})
            if len(chunk.rows) < chunk.page_size:
                return sorted(out, key=lambda r: r["number"])
            page += 1
    raise typer.BadParameter(f"choose one of {', '.join(EXPORTS)}")


def register(app: typer.Typer) -> None:
    """Add the view commands to the `caseline` command line."""

    @app.command()
    def project(
        once: Annotated[bool, typer.Option(help="Catch up once and exit.")] = False,
    ) -> None:
        """Run the projector alone: follow the event log and keep the views current."""
        projector = build_projector(Settings())
        try:
            if once:
                typer.echo(f"projected {projector.catch_up()} log entries; lag {projector.lag()}")
                return
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            typer.echo("projector running (waits while another projector holds the lease); Ctrl-C stops it")
            projector.run_forever(stop)
        finally:
            projector.db.close()

    @app.command()
    def rebuild(
        view: Annotated[
            str | None, typer.Argument(help=f"One of {', '.join(VIEWS_BY_NAME)}; all if omitted.")
        ] = None,
        jobs: Annotated[
            int,
            typer.Option(
                "--jobs", min=1, max=32, help="Processes sharing the work (each reads the whole log)."
            ),
        ] = 1,
    ) -> None:
        """Rebuild views from the start of the log and swap them in atomically."""
        if view is not None and view not in VIEWS_BY_NAME:
            raise typer.BadParameter(f"choose one of {', '.join(VIEWS_BY_NAME)}")
        projector = build_projector(Settings())
        try:
            columns = (TextColumn("rebuilding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns, disable=not sys.stderr.isatty()) as bar:
                task = bar.add_task("rebuild", total=None)

                def show(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                events = projector.rebuild([view] if view else None, progress=show, jobs=jobs)
            typer.echo(f"rebuilt {view or 'all views'} from {events} log entries")
        finally:
            projector.db.close()

    @app.command()
    def export(
        view: Annotated[str, typer.Argument(help=f"One of {', '.join(EXPORTS)}.")],
        format: Annotated[ExportFormat, typer.Option("--format", help="csv or xlsx.")] = ExportFormat.CSV,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="File to write; stdout for csv.")
        ] = None,
    ) -> None:
        """Write a view (board, ledger, register, satisfaction, feedback) as CSV or Excel."""
        if view not in EXPORTS:
            raise typer.BadParameter(f"choose one of {', '.join(EXPORTS)}")
        settings = Settings()
        projector = build_projector(settings)
        try:
            projector.catch_up()
            rows = export_rows(projector, view, datetime.now(tz=UTC), target=settings.satisfaction_target)
        finally:
            projector.db.close()
        header = export_header(rows)
        if format is ExportFormat.CSV:
            handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
            write_csv(handle, header, rows)
            if output:
                handle.close()
            return
        if output is None:
            raise typer.BadParameter("xlsx needs --output FILE")
        output.write_bytes(write_xlsx(view, header, rows))
        typer.echo(f"wrote {len(rows)} rows to {output}")


def export_header(rows: list[dict[str, Any]]) -> list[str]:
    """An export's columns: every key of the rows, in the order they first appear."""
    return list(dict.fromkeys(key for row in rows for key in row))


def write_csv(handle: TextIO, header: list[str], rows: list[dict[str, Any]]) -> None:
    """A header line, then a line per row in the given order (newlines only, no carriage returns)."""
    writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def write_xlsx(view: str, header: list[str], rows: list[dict[str, Any]]) -> bytes:
    """One sheet named after the view: a header row, then the rows in the given order."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = view[:31]
    sheet.append(header)
    for row in rows:
        sheet.append([_cell(row.get(key)) for key in header])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return str(value)
    return value
