"""The `caseline` command line: demo data, replay, and (later) the servers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from api.settings import Settings
from api.storage import build_workflow
from domain.errors import CaselineError

app = typer.Typer(help="Caseline: one problem, one leader, accountable to the end.", no_args_is_help=True)


def _format_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


@app.command()
def replay(
    issue: Annotated[str, typer.Argument(help="Issue number (2026-0041) or id.")],
    at: Annotated[
        datetime | None, typer.Option(help="Show the state as of this moment (ISO 8601, UTC if no zone).")
    ] = None,
    version: Annotated[int | None, typer.Option(help="Show the state as of this version.")] = None,
) -> None:
    """Print an issue's history and its state (now, as of a moment, or as of a version)."""
    workflow = build_workflow(Settings())
    try:
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=datetime.now().astimezone().tzinfo).astimezone()
        state = workflow.issue_at(issue, version=version, at=at)
        events = [e for e in workflow.history(issue) if e.originator_version <= state.version]
    except CaselineError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        workflow.close()
    typer.echo(f"Issue {state.number}: {state.title}")
    for event in events:
        fields = {
            k: v
            for k, v in vars(event).items()
            if k not in ("originator_id", "originator_version", "timestamp", "originator_topic")
        }
        detail = ", ".join(f"{k}={_format_value(v)}" for k, v in fields.items() if v not in (None, [], {}))
        typer.echo(
            f"  v{event.originator_version:<3} {event.timestamp:%Y-%m-%d %H:%M}  "
            f"{type(event).__name__:<28} {detail}"
        )
    typer.echo(
        f"State at v{state.version}: stage={state.stage} level={state.level} "
        f"leader={state.leader or '-'} department={state.department or '-'} "
        f"deadline={_format_value(state.deadline) if state.deadline else '-'}"
    )


def main() -> None:
    """Entry point of the `caseline` console script."""
    app()
