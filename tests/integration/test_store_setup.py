"""Server processes started together on a new PostgreSQL database set its stores up one at a time.

Each worker of `caseline serve --workers N` opens the event store, the views, the contacts and the
credentials, whose tables it creates when they are missing. Two `CREATE ... IF NOT EXISTS` of the
same table at the same instant fail on PostgreSQL ('duplicate key value violates unique
constraint "pg_type_typname_nsp_index"'), so `api.storage.setup_lock` takes them in turn. Threads
stand in for the processes here: each opens connections of its own, as a process would.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from api.accounts import CredentialStore
from api.settings import Settings
from api.storage import build_workflow
from tests.conftest import POSTGRES_URL
from tests.integration.viewtools import main_projector, scratch_store

WORKERS = 6
ROUNDS = 3

pytestmark = pytest.mark.postgres


def start_a_worker(settings: Settings, ready: threading.Barrier) -> None:
    """What a server process opens at start-up, from the same instant as the others, then closes."""
    ready.wait(timeout=30)
    with ExitStack() as opened:
        opened.callback(CredentialStore(settings).close)
        opened.callback(build_workflow(settings).close)
        opened.enter_context(main_projector(settings))


def test_workers_starting_together_on_a_new_database_all_start(postgres_schema: str, tmp_path: Path) -> None:
    # (the fixture's schema is there to require PostgreSQL; each round gets a new, missing one)
    for _ in range(ROUNDS):
        base = Settings(database_url=POSTGRES_URL, database_schema=postgres_schema, data_dir=tmp_path)
        with scratch_store(base, tmp_path) as settings:
            ready = threading.Barrier(WORKERS)
            with ThreadPoolExecutor(WORKERS) as pool:
                starts = [pool.submit(start_a_worker, settings, ready) for _ in range(WORKERS)]
            failures = [repr(start.exception()) for start in starts if start.exception() is not None]
            assert failures == []
