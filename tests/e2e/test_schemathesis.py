"""Schemathesis against the running app: every operation, every check, a fixed seed, 0 failures.

Each run is `st run` (the command a person would type; the failure message repeats it) against
a live server on 127.0.0.1 holding a small world: an item led by the officer's department,
an opinion merged into it, a coordination request, a meeting. Path parameters name those
objects, so requests reach the domain instead of stopping at 404; bodies, queries and headers
are generated. Under /api/ three callers: the public (a public account's API key), an officer
(bearer token) and a supervisor (bearer token); under /open311/ an anonymous client. All
phases run (examples, coverage, fuzzing, stateful) with `--checks all`, deterministic
generation (Hypothesis derandomised) and a few examples per operation, so the four runs stay
within a few minutes.

One allowance, per operation and written out below: where the domain refuses a combination
of fields that a JSON Schema cannot express (latitude without longitude, a replay at both a
version and a moment, a disclosure that publishes nothing), a schema-valid request may get
the domain's 422. Nothing else is relaxed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from domain.rules import Role
from tests.e2e.conftest import START, LiveServer, serve

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 5
PASSWORD = "a long enough password"
FUTURE = (START + timedelta(days=60)).isoformat()

# Cross-field rules of the domain a JSON Schema cannot state; schema-valid data may meet them.
CROSS_FIELD_RULES = {
    "/api/opinions": "latitude and longitude come together",
    "/api/public/opinions": "latitude and longitude come together",
    "/api/issues/{ref}": "replay at a version or at a moment, not both",
    "/api/issues/{ref}/disclosures": "publish at least one field that has a value, or a note",
}


@dataclass(frozen=True)
class World:
    server: LiveServer
    issue: str
    opinion: str
    meeting: str
    credentials: dict[str, dict[str, str]]


def _ok(answer: httpx.Response) -> dict[str, object]:
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, object] = answer.json()
    return body


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path / "var", login_per_minute=10_000, public_submissions_per_minute=10_000
    )
    with serve(settings) as server, server.client() as http:
        server.account("officer-a", Role.OFFICER, "roads")
        server.account("supervisor-chen", Role.SUPERVISOR)
        for name in ("officer-a", "supervisor-chen"):
            server.services.credentials.set_password(name, PASSWORD)
        tokens = {
            name: _ok(http.post("/api/auth/token", data={"username": name, "password": PASSWORD}))[
                "access_token"
            ]
            for name in ("officer-a", "supervisor-chen")
        }
        credentials = {
            "public": {"X-API-Key": server.api_key("resident-zhou", Role.PUBLIC)},
            "officer": {"Authorization": f"Bearer {tokens['officer-a']}"},
            "supervisor": {"Authorization": f"Bearer {tokens['supervisor-chen']}"},
        }
        sup = credentials["supervisor"]
        voice = {
            "kind": "difficulty",
            "area": "livelihood",
            "channel": "hotline",
            "unit": "grid 1",
            "text": "t",
        }
        opinion = str(_ok(http.post("/api/opinions", headers=sup, json=voice))["id"])
        item = {"title": "broken lamp", "area": "security", "level": "grid", "horizon": "near"}
        issue = str(
            _ok(http.post("/api/issues", headers=sup, json=item | {"opinion_ids": [opinion]}))["number"]
        )
        assign = {"leader": "officer-a", "department": "roads", "goals": ["g"], "measures": ["m"]}
        _ok(http.post(f"/api/issues/{issue}/assign", headers=sup, json=assign | {"deadline": FUTURE}))
        ask = {"department": "parks", "request": "lend a ladder"}
        _ok(http.post(f"/api/issues/{issue}/coordination", headers=sup, json=ask))
        meeting = {"kind": "analysis", "unit": "grid 1", "held_at": START.isoformat()}
        meeting |= {"attendees": ["secretary"], "title": "analysis"}
        meeting_id = str(_ok(http.post("/api/meetings", headers=sup, json=meeting))["id"])
        server.settle()
        yield World(server, issue, opinion, meeting_id, credentials)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def config(world: World) -> str:
    """schemathesis.toml: the objects path parameters name, and the cross-field allowances."""
    parameters = {
        "ref": world.issue,
        "opinion_id": world.opinion,
        "meeting_id": world.meeting,
        "index": 0,
        "name": "resident-zhou",
        "service_code": "opinion-culture",
    }
    lines = ["[parameters]"]
    lines += [f"{_toml(key)} = {_toml(value)}" for key, value in parameters.items()]
    for path in CROSS_FIELD_RULES:
        lines += [
            "",
            "[[operations]]",
            f"include-path = {_toml(path)}",
            "[operations.checks.positive_data_acceptance]",
            f"expected-statuses = {_toml(['2xx', '3xx', 401, 403, 404, 409, 422, 429])}",
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("caller", "paths"),
    [
        ("public", "^/api/"),
        # Signing in ignores who is asking, and every attempt costs an argon2 hash: once is enough.
        ("officer", "^/api/(?!auth/token)"),
        ("supervisor", "^/api/(?!auth/token)"),
        # Open311 is open to everyone by the specification: no credentials.
        ("anonymous", "^/open311/"),
    ],
)
def test_schemathesis_finds_nothing(world: World, caller: str, paths: str, tmp_path: Path) -> None:
    settings = tmp_path / "schemathesis.toml"
    settings.write_text(config(world))
    headers = world.credentials.get(caller, {})
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(settings),
        "run",
        f"{world.server.base_url}/openapi.json",
        "--checks",
        "all",
        "--generation-deterministic",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--output-truncate",
        "false",
        "--include-path-regex",
        paths,
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    run = subprocess.run(
        command,
        cwd=tmp_path,
        env=os.environ | {"SCHEMATHESIS_HOOKS": ""},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = run.stdout + run.stderr
    shown = " ".join(
        c if not c.startswith(("Authorization", "X-API-Key")) else "<credential>" for c in command
    )
    assert run.returncode == 0, f"{shown}\n\n{report[-20_000:]}"
    # The control: every documented operation under `paths` was exercised, none skipped.
    documented = httpx.get(f"{world.server.base_url}/openapi.json").json()["paths"]
    operations = sum(len(ops) for path, ops in documented.items() if re.match(paths, path))
    tested = re.search(r"Tested: (\d+)", report)
    assert tested is not None, report[-5_000:]
    assert int(tested[1]) == operations > 0
