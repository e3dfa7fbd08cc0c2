"""Rate limits hold for the server as a whole: every worker process counts in the one credential
store, on SQLite and on PostgreSQL, and the counters hold no client address."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from api.accounts import CredentialStore
from api.deps import RateLimiter
from api.settings import Settings

SECRET = "rate-limit-test-signing-key-" + "y" * 24
LIMIT = 10
CLIENT = "203.0.113.77"


def _clear_of_minute_end() -> None:
    """Start well inside a calendar minute, so a test's requests share one window."""
    left = 60 - time.time() % 60
    if left < 10:
        time.sleep(left + 0.1)


@pytest.fixture
def stores(settings: Settings) -> Iterator[list[CredentialStore]]:
    """Two credential stores on one database: what two worker processes each open."""
    opened = [CredentialStore(settings), CredentialStore(settings)]
    yield opened
    for store in opened:
        store.close()


def test_two_workers_share_one_limit(stores: list[CredentialStore]) -> None:
    # Given two workers' limiters over one database, well inside a minute
    limiters = [RateLimiter(store, SECRET) for store in stores]
    _clear_of_minute_end()

    # When 40 requests from one client arrive at once, spread over both workers
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: limiters[n % 2].allow("public", CLIENT, LIMIT), range(40)))

    # Then exactly the limit is allowed in all, not the limit per worker
    assert answers.count(True) == LIMIT
    # and another client, or another purpose, has its own count
    assert limiters[0].allow("public", "198.51.100.1", LIMIT)
    assert limiters[1].allow("login", CLIENT, LIMIT)


def test_counters_hold_no_client_address_and_forget_past_minutes(stores: list[CredentialStore]) -> None:
    store = stores[0]
    limiter = RateLimiter(store, SECRET)
    limiter.allow("login", CLIENT, LIMIT)
    rows = store._run("SELECT purpose, client, minute, hits FROM " + store._prefix + "caseline_rate_hits")
    assert len(rows) == 1
    purpose, client, minute, hits = rows[0]
    assert (purpose, hits) == ("login", 1)
    assert re.fullmatch("[0-9a-f]{32}", client)  # a keyed hash, not the address
    assert minute in (int(time.time() // 60) - 1, int(time.time() // 60))

    # A count in a later minute deletes the minutes before it
    assert store.count_hit("login", client, minute + 1) == 1
    remaining = store._run("SELECT minute FROM " + store._prefix + "caseline_rate_hits")
    assert remaining == [(minute + 1,)]
