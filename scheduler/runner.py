"""APScheduler 3.x wiring, and nothing else: which job runs how often.

Every process that wants the jobs runs the same few static ones, in UTC, one at a time
(one worker thread), each coalesced (a backlog of missed runs becomes one run), never
overlapping itself (`max_instances=1`) and never dropped for being late
(`misfire_grace_time=None`). Each job also runs as soon as the scheduler starts, so a
restart catches up at once. Correctness never depends on how many schedulers run: the
aggregates decide.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.base import BaseScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.blocking import BlockingScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from scheduler.jobs import Jobs

JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
EVERY = {"escalate": 60, "remind": 60, "raise_duties": 600, "email": 60}


def build_scheduler(jobs: Jobs, *, blocking: bool) -> BaseScheduler:
    """A scheduler with the static jobs: blocking (`caseline schedule`) or background (`caseline serve`)."""
    kind = BlockingScheduler if blocking else BackgroundScheduler
    scheduler: BaseScheduler = kind(
        timezone=UTC, job_defaults=JOB_DEFAULTS, executors={"default": ThreadPoolExecutor(1)}
    )
    start = datetime.now(tz=UTC)
    for name, seconds in EVERY.items():
        if name == "email" and jobs.mailer is None:
            continue
        scheduler.add_job(
            getattr(jobs, name),
            IntervalTrigger(seconds=seconds, timezone=UTC),
            id=name,
            name=f"caseline {name}",
            next_run_time=start,
            replace_existing=True,
        )
    return scheduler
