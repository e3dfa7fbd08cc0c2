"""`caseline schedule --once` and the APScheduler wiring, over a real SQLite store and the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock, SystemClock
from scheduler.cli import jobs_from_settings, register, start_in_process
from scheduler.runner import EVERY, build_scheduler
from tests.integration.test_scheduler_inbox import Sink, free_port
from tests.integration.test_scheduler_support import escalations_per_deadline, seed_assigned


@pytest.fixture
def store(tmp_path: Path) -> Settings:
    """A store with three items whose deadlines passed last month (by the wall clock), one at the top."""
    settings = Settings(data_dir=tmp_path / "var")
    month_ago = datetime.now(tz=UTC) - timedelta(days=30)
    workflow = build_workflow(settings, clock=FakeClock(month_ago))
    try:
        seed_assigned(
            workflow, at=month_ago, levels=["grid", "town", "district"],
            deadlines=[month_ago + timedelta(days=d) for d in (1, 2, 3)],
        )  # fmt: skip
    finally:
        workflow.close()
    return settings


def test_schedule_once_runs_every_job_once_and_exits(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the command line with the scheduler's commands, over the store, e-mail to a local sink
    from aiosmtpd.controller import Controller

    app = typer.Typer()
    register(app)

    @app.command()
    def version() -> None:  # a second command, so `schedule` is addressed by name as in `caseline`
        """Print nothing."""

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CASELINE_DATA_DIR", str(store.data_dir))
    monkeypatch.setenv("CASELINE_SMTP_ENABLED", "true")
    monkeypatch.setenv("CASELINE_SMTP_PORT", str(port))
    monkeypatch.setenv("CASELINE_SUPERVISORS", '{"village": ["village@example.org"]}')
    monkeypatch.setenv("CASELINE_EMAIL_DIRECTORY", '{"standing-committee": ["committee@example.org"]}')
    try:
        # When `schedule --once` runs twice
        first = CliRunner().invoke(app, ["schedule", "--once"])
        second = CliRunner().invoke(app, ["schedule", "--once"])
    finally:
        controller.stop()

    # Then the first run escalated the three items and mailed the supervisors and the committee,
    # the second found nothing left to do; both exited cleanly
    assert first.exit_code == 0, first.output
    assert "escalate: 3 recorded" in first.output
    assert "email: 2 recorded" in first.output
    assert second.exit_code == 0, second.output
    assert "escalate: 0 recorded" in second.output
    assert "email: 0 recorded" in second.output
    assert sorted(m["To"] for m in sink.messages) == ["committee@example.org", "village@example.org"]


def test_the_scheduler_runs_static_utc_jobs_that_coalesce_never_overlap_and_never_expire(
    store: Settings,
) -> None:
    # Given the jobs built from the settings, and a background scheduler for them
    jobs = jobs_from_settings(store)
    try:
        scheduler = build_scheduler(jobs, blocking=False)
        scheduler.start(paused=True)  # the job defaults apply once the jobs are scheduled

        # Then the static jobs are there, in UTC, coalesced, one instance each, no misfire limit
        # (no e-mail job: SMTP is off)
        assert sorted(job.id for job in scheduler.get_jobs()) == sorted(n for n in EVERY if n != "email")
        for job in scheduler.get_jobs():
            assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None)
            assert job.trigger.interval == timedelta(seconds=EVERY[job.id])
            assert str(job.trigger.timezone) == "UTC"
        assert str(scheduler.timezone) == "UTC"
        scheduler.shutdown(wait=True)
    finally:
        jobs.close()


def test_the_scheduler_started_in_process_escalates_at_once(store: Settings) -> None:
    # Given the scheduler started in a background thread, as `caseline serve` would
    scheduler, jobs = start_in_process(store, clock=SystemClock())
    try:
        # When it has had a moment to run its first round
        give_up = time.monotonic() + 30
        while sum(escalations_per_deadline(jobs.workflow).values()) < 3 and time.monotonic() < give_up:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
        jobs.close()

    # Then the three overdue items were escalated (or referred) once each, without being asked
    workflow = build_workflow(store)
    try:
        assert sorted(escalations_per_deadline(workflow).values()) == [1, 1, 1]
    finally:
        workflow.close()
