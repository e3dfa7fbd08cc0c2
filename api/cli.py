"""The `caseline` command line: demo data, summary, replay, views, servers and accounts."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Annotated, Any
from uuid import UUID

import typer

from api import server_cli, views_cli
from api.accounts import CredentialStore
from api.demo import LI, StoreNotEmptyError, demo_start, seed_demo, store_is_empty
from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock
from domain.errors import CaselineError
from domain.issue import Issue
from domain.rules import Actor, Area, Level, Role, Stage
from domain.workflow import Workflow
from scheduler import cli as scheduler_cli

app = typer.Typer(help="Caseline: one problem, one leader, accountable to the end.", no_args_is_help=True)

ISSUE_OPENED = "caseline:Issue.Opened"
OPINION_RECORDED = "caseline:Opinion.Recorded"
PAGE = 1000


def _format_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _where(settings: Settings) -> str:
    return "PostgreSQL" if settings.uses_postgres else str(settings.data_dir)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the demo town: the same seed writes the same town.")] = 7,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing (and say so) when the store already holds events.")
    ] = False,
    today: Annotated[
        datetime | None,
        typer.Option(
            help="End the history just before this moment instead of now (ISO 8601, UTC if no zone)."
        ),
    ] = None,
) -> None:
    """Fill an empty store with the demo town: six months of Yanghang's issues, ending today."""
    settings = Settings()
    if today is None:
        today = datetime.now(tz=UTC)
    elif today.tzinfo is None:
        today = today.replace(tzinfo=UTC)
    clock = FakeClock(demo_start(today))
    workflow = build_workflow(settings, clock=clock)
    try:
        if not store_is_empty(workflow):
            if if_empty:
                typer.echo(
                    f"{_where(settings)} already holds events; the demo town was not added (--if-empty)."
                )
                return
            raise StoreNotEmptyError(
                f"{_where(settings)} already holds events; the demo only fills an empty store "
                "(use --if-empty to skip, or point CASELINE_DATA_DIR at an empty folder)."
            )
        started = time.perf_counter()
        report = seed_demo(workflow, clock, seed=seed, today=today)
        elapsed = time.perf_counter() - started
    except StoreNotEmptyError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        workflow.close()
    stages = ", ".join(
        f"{stage.replace('_', ' ')} {count}" for stage, count in sorted(report.by_stage.items())
    )
    typer.echo(
        f"Filled {_where(settings)} with the demo town (seed {report.seed}) in {elapsed:.1f} s: "
        f"{report.events:,} events, {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d}."
    )
    typer.echo(
        f"  people    {report.leaders} leaders, {report.representatives} representatives, "
        f"{report.members} members ({report.households:,} households)"
    )
    typer.echo(
        f"  voices    {report.opinions} opinions ({report.suggestions} suggestions), "
        f"{report.unanswered} not answered yet"
    )
    typer.echo(f"  items     {report.items}: {stages}")
    typer.echo(
        f"            {report.escalated} escalated, {report.on_committee_list} on the standing committee's "
        f"list, {report.overdue} overdue, {report.reopened} reopened after evaluation, "
        f"{report.fixed_at_once} fixed at once"
    )
    typer.echo(f"  meetings  {report.meetings} (analysis, assignment and evaluation)")
    typer.echo(
        f"Story 1, the dark lane: caseline replay {report.dark_lane} "
        f"--at {report.dark_lane_replay_at.isoformat()}"
    )
    typer.echo(f"Story 2: fixed at once {report.drain}; registered and explained {report.bus_line}")
    open_demo_accounts(settings)


DEMO_PASSWORD = "caseline-demo"  # demo data only: printed by `make run`, never used outside the demo
DEMO_ACCOUNTS = (
    ("admin", Role.ADMIN, None),
    ("supervisor", Role.SUPERVISOR, None),
    (LI, Role.OFFICER, "镇建设管理办公室"),
    ("recorder", Role.RECORDER, None),
)


def open_demo_accounts(settings: Settings) -> None:
    """Sign-ins for the demo town, all with the same published demo password."""
    workflow = build_workflow(settings)
    credentials = CredentialStore(settings)
    try:
        for name, role, department in DEMO_ACCOUNTS:
            workflow.open_account(
                Actor("demo", role=Role.ADMIN), name=name, role=role.value, department=department
            )
            credentials.set_password(name, DEMO_PASSWORD)
    finally:
        workflow.close()
        credentials.close()
    logins = ", ".join(f"{name} ({role.value})" for name, role, _ in DEMO_ACCOUNTS)
    typer.echo(f"Demo sign-ins (password {DEMO_PASSWORD!r}): {logins}")


@dataclass(frozen=True)
class Summary:
    """What the store holds, read from the aggregates themselves."""

    now: datetime
    issues: list[Issue]
    opinions: int
    unanswered: int
    unmerged: int

    def count(self, attribute: str) -> Counter[str]:
        return Counter(str(getattr(issue, attribute)) for issue in self.issues)

    @property
    def overdue(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.is_overdue(self.now)]

    @property
    def committee(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.on_committee_list and issue.stage != Stage.CLOSED]


def originators(workflow: Workflow, topics: tuple[str, ...]) -> dict[str, list[UUID]]:
    """The ids of the aggregates whose events carry `topics`, paging through the notification log."""
    found: dict[str, list[UUID]] = {topic: [] for topic in topics}
    start = 1
    while True:
        page = workflow.recorder.select_notifications(start, PAGE, topics=topics)
        for notification in page:
            originator = notification.originator_id
            found[notification.topic].append(originator if isinstance(originator, UUID) else UUID(originator))
        if len(page) < PAGE:
            return found
        start = page[-1].id + 1


def summarize(workflow: Workflow, now: datetime) -> Summary:
    """Every issue and opinion in the store, loaded through the application service."""
    ids = originators(workflow, (ISSUE_OPENED, OPINION_RECORDED))
    issues = sorted((workflow.get_issue(i) for i in ids[ISSUE_OPENED]), key=lambda issue: issue.number)
    opinions = [workflow.get_opinion(i) for i in ids[OPINION_RECORDED]]
    return Summary(
        now=now,
        issues=issues,
        opinions=len(opinions),
        unanswered=sum(1 for o in opinions if not o.answered),
        unmerged=sum(1 for o in opinions if o.issue_id is None),
    )


def _item_line(issue: Issue) -> str:
    due = f"due {issue.deadline:%Y-%m-%d}" if issue.deadline else "no deadline"
    return f"  {issue.number}  {issue.title[:48]:<48}  {issue.level:<8}  {issue.leader or '-'}  {due}"


@app.command()
def summary() -> None:
    """Counts by stage, level and area; overdue items, the standing committee's list, unanswered voices."""
    workflow = build_workflow(Settings())
    try:
        result = summarize(workflow, datetime.now(tz=UTC))
    finally:
        workflow.close()
    typer.echo(
        f"{len(result.issues)} items; {result.opinions} opinions, {result.unanswered} not answered yet, "
        f"{result.unmerged} not merged into an item"
    )
    columns = [
        ("stage", [s.value for s in Stage], result.count("stage")),
        ("level", [level.value for level in Level], result.count("level")),
        ("area", [a.value for a in Area], result.count("area")),
    ]
    typer.echo("".join(f"{name:<14}{'items':>5}    " for name, _, _ in columns).rstrip())
    rows = zip_longest(*([(v, counts[v]) for v in values] for _, values, counts in columns))
    for row in rows:
        cells = [
            f"{v.replace('_', ' '):<14}{n:>5}    " if v else " " * 23 for v, n in (c or ("", 0) for c in row)
        ]
        typer.echo("".join(cells).rstrip())
    typer.echo(f"Overdue: {len(result.overdue)}")
    for issue in result.overdue:
        typer.echo(_item_line(issue))
    typer.echo(f"On the standing committee's list: {len(result.committee)}")
    for issue in result.committee:
        typer.echo(_item_line(issue))


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
        state, events = workflow.replay(issue, version=version, at=at)
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


views_cli.register(app)
server_cli.register(app)
scheduler_cli.register(app)


def main() -> None:
    """Entry point of the `caseline` console script."""
    app()
