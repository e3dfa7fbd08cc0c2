"""End-to-end fixtures: the real app under uvicorn on 127.0.0.1, reached through real HTTP.

`live_server` (one per test module) and `serve(...)` (a context manager for tests that need
their own settings or an empty store) yield a `LiveServer`: its `base_url`, the `Services`
the app runs on (so a test can drive the workflow directly, as staff would through other
screens), the `FakeClock` those services read, and helpers to open accounts with API keys or
bearer tokens and to wait until the views include a write.

Why uvicorn in a thread and httpx against the port, not starlette's TestClient: the whole
stack (sockets, HTTP parsing, the lifespan that runs the projector thread) is exercised, and
TestClient's httpx use emits a deprecation warning that `-W error` turns into a failure.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.accounts import CredentialStore
from api.app import create_app
from api.deps import Services
from api.security import issue_token, load_secret
from api.settings import Settings
from api.storage import build_projector, build_workflow
from domain.clock import FakeClock
from domain.rules import Actor, Role

START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
ADMIN = Actor("e2e-admin", role=Role.ADMIN)


@dataclass
class LiveServer:
    """A running Caseline server and the services behind it."""

    base_url: str
    services: Services
    clock: FakeClock

    def client(self, **options: Any) -> httpx.Client:
        """An HTTP client for this server (use it as a context manager)."""
        return httpx.Client(base_url=self.base_url, timeout=10.0, **options)

    def account(self, name: str, role: Role | str, department: str | None = None) -> None:
        """Open (or regrant) an account, as `caseline users add` would."""
        self.services.workflow.open_account(ADMIN, name=name, role=str(role), department=department)

    def api_key(self, name: str, role: Role | str = Role.RECORDER, department: str | None = None) -> str:
        """A fresh API key for the account (opened if need be), as `caseline api-keys create` does."""
        self.account(name, role, department)
        key_id, key = self.services.credentials.create_api_key(name)
        self.services.workflow.record_api_key(ADMIN, name, key_id=key_id)
        return key

    def revoke_key(self, name: str, key: str) -> None:
        key_id = key.split("_")[1]
        self.services.workflow.record_api_key(ADMIN, name, key_id=key_id, revoke=True)
        self.services.credentials.revoke_api_key(key_id)

    def bearer(self, name: str, role: Role | str, department: str | None = None) -> dict[str, str]:
        """An Authorization header with a valid token for the account (opened if need be)."""
        self.account(name, role, department)
        token = issue_token(name, secret=self.services.secret, minutes=self.services.settings.token_minutes)
        return {"Authorization": f"Bearer {token}"}

    def settle(self, position: int | None = None, *, timeout: float = 10.0) -> None:
        """Wait until the views include `position` (default: the head of the log)."""
        projector = self.services.projector
        target = projector.log.head() if position is None else position
        if not projector.wait_for(target, timeout=timeout):
            raise AssertionError(f"the views did not reach position {target} within {timeout} s")


def build_services(settings: Settings, clock: FakeClock) -> Services:
    """The app's services over `settings`, reading `clock` (so tests can move time)."""
    return Services(
        settings=settings,
        workflow=build_workflow(settings, clock=clock),
        projector=build_projector(settings),
        credentials=CredentialStore(settings),
        secret=load_secret(settings.jwt_secret, settings.data_dir),
    )


@contextmanager
def serve(settings: Settings, *, clock: FakeClock | None = None) -> Iterator[LiveServer]:
    """Run the app under uvicorn on a free port of 127.0.0.1 until the block ends."""
    clock = clock or FakeClock(START)
    services = build_services(settings, clock)
    app = create_app(settings, services=services)
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and the
    # accepted connections inherit it (with 0, each keep-alive request waits ~40 ms for an ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", ws="none", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn")
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield LiveServer(f"http://127.0.0.1:{port}", services, clock)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        services.workflow.close()
        services.credentials.close()
        services.projector.db.close()
        services.projector.log.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per test module, over its own data folder."""
    folder: Path = tmp_path_factory.mktemp("live")
    with serve(Settings(data_dir=folder / "var")) as server:
        yield server
