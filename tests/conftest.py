"""Shared fixtures: a fake clock, and the application service on real SQLite and PostgreSQL.

PostgreSQL tests need a server on 127.0.0.1:5432 (trust auth). Elsewhere they skip and say
why; in CI (`CASELINE_REQUIRE_POSTGRES=1`, set by `.ci/run`) a missing server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from api.settings import Settings
from api.storage import build_workflow
from domain.clock import FakeClock
from domain.workflow import Workflow

POSTGRES_URL = os.environ.get("CASELINE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(error).__name__})"
    return None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh, empty schema in the test database, dropped afterwards."""
    reason = postgres_available()
    if reason is not None:
        if os.environ.get("CASELINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; CI requires the PostgreSQL tests to run")
        pytest.skip(f"{reason}; these tests run in CI, where PostgreSQL is required")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


StoreFactory = Callable[..., Workflow]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for one real store: an SQLite folder, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "var")
    schema = request.getfixturevalue("postgres_schema")
    return Settings(database_url=POSTGRES_URL, database_schema=schema, data_dir=tmp_path / "var")


@pytest.fixture
def make_workflow(settings: Settings, clock: FakeClock) -> Iterator[StoreFactory]:
    """Builds application instances over the same store (several act as separate processes)."""
    built: list[Workflow] = []

    def make(**overrides: object) -> Workflow:
        """`clock=` reads another clock; any other keyword overrides a setting (`issue_cache=0`)."""
        chosen = overrides.pop("clock", clock)
        configured = settings.model_copy(update=overrides) if overrides else settings
        workflow = build_workflow(configured, clock=chosen)  # type: ignore[arg-type]
        built.append(workflow)
        return workflow

    yield make
    for workflow in built:
        workflow.close()


@pytest.fixture
def workflow(make_workflow: StoreFactory) -> Workflow:
    return make_workflow()
