"""`caseline schedule [--once]`: run the scheduler alone, or every job once.

Also the composition root of the scheduler: `jobs_from_settings` builds the jobs from the
settings, and `start_in_process` runs them in a background thread (for `caseline serve`).
"""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer
from apscheduler.schedulers.base import BaseScheduler  # type: ignore[import-untyped]

from api.settings import Settings
from api.storage import build_projector, build_workflow
from domain.clock import Clock, SystemClock
from domain.workflow import Workflow
from projections.projector import Projector
from scheduler.duties import specs
from scheduler.jobs import Jobs
from scheduler.mail import SmtpMailer
from scheduler.runner import build_scheduler


def jobs_from_settings(
    settings: Settings, *, clock: Clock | None = None, shared: tuple[Workflow, Projector] | None = None
) -> Jobs:
    """The scheduler's jobs over the configured store, views, calendar and SMTP server; with
    `shared`, over a workflow and projector the caller already has (and closes itself)."""
    clock = clock or SystemClock()
    mailer = None
    if settings.smtp_enabled:
        mailer = SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout=settings.smtp_timeout,
        )
    workflow, projector = shared or (build_workflow(settings, clock=clock), build_projector(settings))
    return Jobs(
        workflow=workflow,
        projector=projector,
        owns_services=shared is None,
        clock=clock,
        leads=settings.reminder_lead_times,
        duty_units=settings.duty_unit_names,
        duties=specs(settings.duties),
        duty_zone=settings.zone,
        mailer=mailer,
        addresses=settings.email_addresses,
        email_max_age=settings.email_max_age,
    )


def start_in_process(
    settings: Settings, *, clock: Clock | None = None, shared: tuple[Workflow, Projector] | None = None
) -> tuple[BaseScheduler, Jobs]:
    """Start the jobs in a background thread; stop with `scheduler.shutdown()` then `jobs.close()`."""
    jobs = jobs_from_settings(settings, clock=clock, shared=shared)
    scheduler = build_scheduler(jobs, blocking=False)
    scheduler.start()
    return scheduler, jobs


def register(app: typer.Typer) -> None:
    """Add `schedule` to the `caseline` command line."""

    @app.command()
    def schedule(
        once: Annotated[
            bool, typer.Option(help="Run every job once, print what each did, and exit.")
        ] = False,
    ) -> None:
        """Run the scheduler alone: escalations, reminders, recurring duties and e-mail."""
        jobs = jobs_from_settings(Settings())
        try:
            if once:
                for report in jobs.run_all():
                    typer.echo(str(report))
                return
            scheduler = build_scheduler(jobs, blocking=True)

            def stop(*_: Any) -> None:
                scheduler.shutdown(wait=False)

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            typer.echo("scheduler running (UTC); Ctrl-C stops it")
            scheduler.start()
        finally:
            jobs.close()
