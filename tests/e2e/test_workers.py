"""`caseline serve --workers 2`: two server processes answer commands at once, through real HTTP
on 127.0.0.1, and neither loses nor doubles a write, on SQLite and on PostgreSQL.

On SQLite the workers run commands on their event loops and their writers queue on the lock file
beside the event log (`api.sqlite_store`); on PostgreSQL commands run in the thread pools and the
database orders the writers. Either way the projector threads share one lease.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.security import issue_token
from api.settings import Settings
from api.storage import build_workflow
from domain.rules import Actor, Role

SECRET = "workers-test-signing-key-" + "x" * 24
ADMIN = Actor("workers-admin", role=Role.ADMIN)
ISSUES = 4
CLIENTS = 8
REPORTS = 12  # per client
PUBLIC_LIMIT = 10  # public submissions per client and minute, for the whole server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def two_workers(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Settings, list[str]]]:
    """`caseline serve --workers 2` over a fresh store holding open items; yields the base URL, the
    store's settings and the items' numbers."""
    workflow = build_workflow(settings)
    try:
        workflow.open_account(ADMIN, name="wang-fang", role="supervisor")
        numbers = []
        for i in range(ISSUES):
            opened = workflow.open_issue(
                ADMIN, title=f"Drain {i} blocked", area="livelihood", level="grid", horizon="near"
            )
            assert opened.number is not None
            workflow.assign_leader(
                ADMIN, opened.number, leader="Wang Fang", department="Roads Office", goals=["Clear it"],
                measures=["Dig"], deadline=datetime.now(tz=UTC) + timedelta(days=30),
            )  # fmt: skip
            numbers.append(opened.number)
    finally:
        workflow.close()
    port = _free_port()
    env = os.environ | {
        "CASELINE_DATA_DIR": str(settings.data_dir),
        "CASELINE_JWT_SECRET": SECRET,
        "CASELINE_RUN_SCHEDULER": "false",
        "CASELINE_PUBLIC_SUBMISSIONS_PER_MINUTE": str(PUBLIC_LIMIT),
    }
    env.pop("CASELINE_DATABASE_URL", None)
    if settings.database_url is not None:
        env["CASELINE_DATABASE_URL"] = settings.database_url
        env["CASELINE_DATABASE_SCHEMA"] = settings.database_schema or ""
    log = tmp_path / "serve.log"
    caseline = Path(sys.executable).parent / "caseline"  # the console script beside this interpreter
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(caseline), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"caseline serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("caseline serve --workers 2 did not answer within 60 s")
            time.sleep(0.2)
        yield base, settings, numbers
        # (both worker processes were up: uvicorn names each one's process id as it starts)
        assert len(set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_two_workers_keep_every_command_once(two_workers: tuple[str, Settings, list[str]]) -> None:
    base, settings, numbers = two_workers
    headers = {"Authorization": f"Bearer {issue_token('wang-fang', secret=SECRET, minutes=10)}"}

    def client(k: int) -> list[tuple[int, bool]]:
        # Each client on its own connection, so the kernel spreads them over both workers
        answers = []
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            for n in range(REPORTS):
                number = numbers[(k + n) % ISSUES]
                answer = http.post(f"/api/issues/{number}/progress", json={"note": f"client {k} report {n}"})
                answers.append((answer.status_code, answer.json().get("changed")))
            # and every client repeats one command under the same key as all the others
            repeat = http.post(
                f"/api/issues/{numbers[0]}/progress",
                json={"note": "one report, sent by everyone"},
                headers={"Idempotency-Key": "shared-key-1"},
            )
            answers.append((repeat.status_code, None))
        return answers

    # When eight clients send their commands at once
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [answer for answers in pool.map(client, range(CLIENTS)) for answer in answers]

    # Then every command was answered 200 and changed its item, and the repeated one was kept once
    assert [status for status, _ in results] == [200] * (CLIENTS * (REPORTS + 1))
    assert all(changed is True for _, changed in results if changed is not None)
    workflow = build_workflow(settings)
    try:
        notes = [
            e.note
            for number in numbers
            for e in workflow.history(workflow.issue_id(number))
            if type(e).__name__ == "ProgressReported"
        ]
    finally:
        workflow.close()
    assert len(notes) == CLIENTS * REPORTS + 1
    assert notes.count("one report, sent by everyone") == 1
    assert {f"client {k} report {n}" for k in range(CLIENTS) for n in range(REPORTS)} <= set(notes)


def test_two_workers_enforce_one_rate_limit(two_workers: tuple[str, Settings, list[str]]) -> None:
    base, _, _ = two_workers
    left = 60 - time.time() % 60
    if left < 15:  # the limit's window is a calendar minute: start well inside one
        time.sleep(left + 0.1)
    form = {"kind": "difficulty", "area": "livelihood", "unit": "Grid 3"}

    def submit(n: int) -> int:
        # A new connection each time, so the kernel hands them to both workers
        with httpx.Client(base_url=base, timeout=30) as http:
            return http.post("/api/public/opinions", json=form | {"text": f"Light {n} is out."}).status_code

    # When one client sends three times the limit, eight at a time
    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = list(pool.map(submit, range(3 * PUBLIC_LIMIT)))

    # Then the server as a whole accepts the limit, not the limit per worker
    assert statuses.count(201) == PUBLIC_LIMIT
    assert statuses.count(429) == 2 * PUBLIC_LIMIT
