"""Server time per page on the demo town, beside GET /api/health measured in the same run.

The demo town (`api.demo.seed_demo`, seed 7: six months, 40 items, about 2,700 events) is
built once into a temporary folder and its views projected; the app (`api.app:create_app`,
the real services: SQLite, the wall clock, the projector thread) is served by uvicorn in its
own process on 127.0.0.1. httpx signs in through the page form as the demo's supervisor, officer (李卫东) and
recorder, then asks for every page in turn, round after round (pages interleaved, so load on
the machine hits them alike), until `--rounds` or the `--budget` in seconds.

Figures per page: the server's own time (the `Server-Timing` header the pages set: from the
request reaching the page route to the response being ready) and the round trip seen by the
client; median and max over the rounds, first (cold) request excluded. The baseline is the
round trip of GET /api/health (a route that reads the projector's lag and answers JSON):
what any request costs here before a page does its work. Target: no page's max server time
over 300 ms. One form post is timed too (the supervisor reports progress on an item in
progress: an event written per round, answered 303).

Run: `.venv/bin/python bench/pages.py` (about 30 s idle, of which ~10 s build the demo) or
`--quick` for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from api.accounts import CredentialStore
from api.cli import DEMO_ACCOUNTS, DEMO_PASSWORD
from api.demo import LI, demo_start, seed_demo
from api.settings import Settings
from api.storage import build_projector, build_workflow
from domain.clock import FakeClock
from domain.rules import Actor, Role
from projections import queries

TARGET_MS = 300.0
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@dataclass
class Timings:
    server: list[float] = field(default_factory=list)
    trip: list[float] = field(default_factory=list)


def build_demo(folder: Path) -> Settings:
    """The demo town in `folder`, views projected, demo sign-ins opened."""
    settings = Settings(data_dir=folder, login_per_minute=10_000)
    today = datetime.now(tz=UTC)
    clock = FakeClock(demo_start(today))
    workflow = build_workflow(settings, clock=clock)
    credentials = CredentialStore(settings)
    try:
        report = seed_demo(workflow, clock, seed=7, today=today)
        for name, role, department in DEMO_ACCOUNTS:
            workflow.open_account(
                Actor("bench", role=Role.ADMIN), name=name, role=role.value, department=department
            )
            credentials.set_password(name, DEMO_PASSWORD)
    finally:
        workflow.close()
        credentials.close()
    projector = build_projector(settings)
    try:
        projector.catch_up()
    finally:
        projector.db.close()
    print(f"demo town: {report.events:,} events, {report.items} items, {report.opinions} opinions")
    return settings


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The real app (`api.app:create_app`) under uvicorn in its own process on 127.0.0.1, as
    `caseline serve` runs it: a server in a thread of this process would share the GIL with the
    client and add its waits to every round trip."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "CASELINE_DATA_DIR": str(settings.data_dir),
        "CASELINE_LOGIN_PER_MINUTE": str(settings.login_per_minute),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    server = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)


def signed_in(base: str, name: str | None) -> httpx.Client:
    nodelay = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False, transport=nodelay)
    if name is not None:
        token = CSRF.search(client.get("/sign-in").text)
        assert token, "no CSRF token on the sign-in page"
        answer = client.post(
            "/sign-in",
            data={"_csrf": token.group(1), "username": name, "password": DEMO_PASSWORD, "next": ""},
        )
        assert answer.status_code == 303, f"{name} could not sign in: {answer.status_code}"
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="requests per page (after one warm-up)")
    parser.add_argument("--budget", type=float, default=25.0, help="seconds of timed rounds at most")
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds: a smoke run, the figures mean nothing"
    )
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    with tempfile.TemporaryDirectory(prefix="caseline-bench-pages-") as tmp:
        settings = build_demo(Path(tmp) / "var")
        with served(settings) as base:
            run(base, settings, rounds, args.budget)


def run(base: str, settings: Settings, rounds: int, budget: float) -> None:
    clients = {
        "public": signed_in(base, None),
        "supervisor": signed_in(base, "supervisor"),
        "officer": signed_in(base, LI),
        "recorder": signed_in(base, "recorder"),
    }
    meetings = re.findall(r'href="(/meetings/[0-9a-f-]{36})"', clients["supervisor"].get("/meetings").text)
    projector = build_projector(settings)
    try:
        working = queries.board(
            projector.db, now=datetime.now(tz=UTC), where=queries.BoardFilter(stage="in_progress")
        ).rows
    finally:
        projector.db.close()
    pages: list[tuple[str, str]] = [
        ("public", "/register"),
        ("public", "/register?page=2"),
        ("public", "/submit"),
        ("public", "/sign-in"),
        ("supervisor", "/board"),
        ("supervisor", "/board?overdue=yes&level=district"),
        ("supervisor", "/board?stage=closed"),
        ("supervisor", "/board?text=lights&area=security"),
        ("supervisor", "/issues/2026-0001"),
        ("supervisor", "/issues/2026-0001/replay"),
        ("supervisor", "/issues/2026-0001/replay?a=10&compare=1&b=60"),
        ("supervisor", "/meetings"),
        *[("supervisor", path) for path in meetings[:3]],
        ("supervisor", "/dashboards"),
        ("supervisor", "/dashboards/download/ledger.xlsx"),
        ("supervisor", "/intake"),
        ("officer", "/board"),
        ("officer", "/issues/2026-0001"),
        ("recorder", "/intake"),
    ]
    results: dict[tuple[str, str], Timings] = {page: Timings() for page in pages}
    baseline = Timings()
    post = Timings()
    post_path = f"/issues/{working[0]['number']}/do/progress" if working else None

    def timed(
        client: httpx.Client, method: str, path: str, data: dict[str, str] | None = None
    ) -> tuple[float, float]:
        started = time.perf_counter()
        answer = client.request(method, path, data=data)
        trip = (time.perf_counter() - started) * 1000
        assert answer.status_code in (200, 303), f"{method} {path}: {answer.status_code}"
        header = answer.headers.get("server-timing", "")
        found = re.search(r"dur=([\d.]+)", header)
        return (float(found.group(1)) if found else float("nan")), trip

    for who, path in pages:  # warm-up: templates compile, caches fill
        timed(clients[who], "GET", path)
    timed(clients["public"], "GET", "/api/health")
    stop = time.monotonic() + budget
    done = 0
    for done in range(1, rounds + 1):
        _, trip = timed(clients["public"], "GET", "/api/health")
        baseline.trip.append(trip)
        for page in pages:
            server, trip = timed(clients[page[0]], "GET", page[1])
            results[page].server.append(server)
            results[page].trip.append(trip)
        if post_path:
            token = CSRF.search(clients["supervisor"].get(post_path.rsplit("/do/", 1)[0]).text)
            assert token
            server, trip = timed(
                clients["supervisor"],
                "POST",
                post_path,
                {"_csrf": token.group(1), "note": f"bench round {done}"},
            )
            post.server.append(server)
            post.trip.append(trip)
        if time.monotonic() > stop:
            break
    for client in clients.values():
        client.close()

    def row(name: str, t: Timings) -> str:
        server = (
            f"{statistics.median(t.server):7.1f} {max(t.server):7.1f}" if t.server else f"{'-':>7} {'-':>7}"
        )
        return f"{name:<58} {server}   {statistics.median(t.trip):7.1f} {max(t.trip):7.1f}"

    print(f"{done} rounds; milliseconds; server = Server-Timing of the page route, trip = client round trip")
    print(f"{'page (who)':<58} {'server':>15}   {'trip':>15}")
    print(f"{'':<58} {'median':>7} {'max':>7}   {'median':>7} {'max':>7}")
    print(row("baseline: GET /api/health (public)", baseline))
    worst = 0.0
    for (who, path), t in results.items():
        shown = re.sub(r"/meetings/([0-9a-f]{8})[0-9a-f-]{28}", r"/meetings/\1…", path)
        print(row(f"GET {shown} ({who})", t))
        worst = max(worst, max(t.server))
    if post.server:
        print(row(f"POST {post_path} (supervisor) -> 303", post))
        worst = max(worst, max(post.server))
    verdict = "met" if worst <= TARGET_MS else "NOT met"
    print(f"slowest page, max server time: {worst:.1f} ms (target <= {TARGET_MS:.0f} ms: {verdict}); "
          f"baseline median trip {statistics.median(baseline.trip):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
