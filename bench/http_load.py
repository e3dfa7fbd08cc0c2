"""Commands per second through HTTP, beside the service layer measured in the same run.

- HTTP: `uvicorn api.app:create_app --factory` in a subprocess on 127.0.0.1 (`--workers`
  processes, default 1, the projector thread running, as `caseline serve` does), over an SQLite
  data folder; a load
  generator in another process (asyncio, 16 concurrent clients, each on its own keep-alive
  connection) sends `POST /api/issues/{ref}/progress` with a supervisor's bearer token, client k
  on issue k mod `--issues`. Every answer must be a 200 whose JSON says `"changed": true`:
  anything else stops the run.
- service layer: the same command, `Workflow.report_progress`, called directly in this process
  on a fresh SQLite store (`build_workflow(Settings(data_dir=...))`), one caller, round-robin over
  the same number of issues. All it leaves out is HTTP: parsing, the JSON schema, the token,
  loading the caller's account, the reach check, the answer.
- floor: `GET /api/health` (one small query) driven the same way after each HTTP phase: what
  uvicorn, FastAPI and the loopback cost per request with nothing else to do. When the command
  rate sits close to it, the transport is the bound, not Caseline.

Each repetition runs both phases with the same number of commands on fresh issues (two events
old: opened and assigned), service layer first; the ratio is taken within a repetition and the
median reported. Latencies are per request as the load generator saw them, pooled over the
repetitions. Absolute rates depend on the machine and its neighbours; the ratio holds up better.

Run: `.venv/bin/python bench/http_load.py` (under a minute; no repetition starts that would end
after `--budget` seconds) or `--quick` for a smoke run of a few seconds whose figures mean
nothing. `--clients 1` shows the latency of one request alone; `--no-projector` serves without
the projector thread, to see its share.

Why the generator writes its requests by hand: it shares the machine's two cores with the server,
and with httpx's `AsyncClient` it was the bottleneck. Against an ASGI app that answers at once it
topped out near 310 requests/s, under the 333 req/s the floor showed, so floor and commands
measured the client. Prepared request bytes and answers read by Content-Length leave the cores to
the server (the same empty app then answers over 2000 requests/s). What is measured is unchanged:
the same requests, through the same uvicorn and app, against the service layer of the same run.

A note on p99: the load is closed-loop (each client sends its next command when the previous
is answered), so with 16 clients and the server saturated, latency is about 16 / throughput
(Little's law): p99 <= 50 ms needs well over 320 cmd/s through HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from api.security import issue_token
from api.settings import Settings
from api.storage import build_workflow
from domain.rules import Actor, Role
from domain.workflow import Workflow

TARGET_RATIO = 0.50
TARGET_P99_MS = 50.0
CLIENTS = 16
SECRET = "bench-only-signing-key-" + "x" * 24
SUPERVISOR = "bench-supervisor"
SETUP = Actor("bench-admin", role=Role.ADMIN)
CALLER = Actor(SUPERVISOR, role=Role.SUPERVISOR)
NOTE = "Crew on site; drainage half done."


def open_issues(workflow: Workflow, count: int) -> list[str]:
    """Issues under way (opened and assigned), as numbers such as 2026-0001."""
    deadline = datetime.now(tz=UTC) + timedelta(days=90)
    numbers = []
    for i in range(count):
        opened = workflow.open_issue(
            CALLER, title=f"Drain {i} blocked", area="livelihood", level="grid", horizon="near"
        )
        assert opened.number is not None
        workflow.assign_leader(
            CALLER, opened.number, leader="Wang Fang", department="roads", goals=["Clear the drain"],
            measures=["Dig"], deadline=deadline,
        )  # fmt: skip
        numbers.append(opened.number)
    return numbers


def service_layer(folder: Path, issues: int, commands: int) -> float:
    """`report_progress` called directly on a fresh SQLite store: commands per second."""
    workflow = build_workflow(Settings(data_dir=folder))
    try:
        refs = [workflow.issue_id(number) for number in open_issues(workflow, issues)]
        started = time.perf_counter()
        for i in range(commands):
            workflow.report_progress(CALLER, refs[i % issues], note=NOTE)
        return commands / (time.perf_counter() - started)
    finally:
        workflow.close()


# -- the server and the load generator ----------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(folder: Path, port: int, *, projector: bool, workers: int = 1) -> subprocess.Popen[bytes]:
    env = os.environ | {"CASELINE_DATA_DIR": str(folder), "CASELINE_JWT_SECRET": SECRET}
    env["CASELINE_RUN_PROJECTOR"] = "true" if projector else "false"
    command = [
        sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers),
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("uvicorn did not answer within 30 s")


@dataclass(frozen=True)
class Load:
    """What one load-generator run did: how many, how long, each latency, any failures."""

    commands: int
    seconds: float
    latencies_ms: list[float]
    failures: list[str]


class Connection:
    """One keep-alive HTTP/1.1 connection, written by hand: requests are prepared bytes and an answer
    is read by its Content-Length, so the generator spends little of the two cores it shares with
    the server (httpx's client topped out near 310 requests/s against an ASGI app that did nothing,
    so it measured itself, not the server)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one request, return the status and the body of its answer."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            None,
        )
        if length is None:
            raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
        return status, await self.reader.readexactly(length)


def prepared(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _drive(port: int, token: str, refs: list[str], commands: int, clients: int) -> Load:
    """Send `commands` progress reports over `refs` (or, with no refs, GET /api/health)."""
    latencies: list[float] = []
    failures: list[str] = []
    remaining = commands
    note = json.dumps({"note": NOTE}).encode()

    async def client(k: int) -> None:
        nonlocal remaining
        if refs:
            request = prepared("POST", f"/api/issues/{refs[k % len(refs)]}/progress", token, note)
        else:
            request = prepared("GET", "/api/health", token)
        connection = Connection(*await asyncio.open_connection("127.0.0.1", port))
        try:
            while remaining > 0 and not failures:
                remaining -= 1
                sent = time.perf_counter()
                status, body = await connection.exchange(request)
                latencies.append((time.perf_counter() - sent) * 1000)
                try:
                    answer = json.loads(body)
                except ValueError:  # not JSON: a failure to report, not a generator that dies silently
                    answer = None
                if (
                    status != 200
                    or not isinstance(answer, dict)
                    or (refs and answer.get("changed") is not True)
                ):
                    failures.append(f"{status} {body[:200]!r}")
        finally:
            connection.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    seconds = time.perf_counter() - started
    return Load(len(latencies), seconds, latencies, failures)


def generate(port: int, token: str, refs: list[str], commands: int, clients: int, results: Any) -> None:
    """The load generator's process: drive the server, then hand the figures back."""
    results.put(asyncio.run(_drive(port, token, refs, commands, clients)))


def through_http(port: int, token: str, refs: list[str], commands: int, clients: int) -> Load:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=generate, args=(port, token, refs, commands, clients, results))
    process.start()
    load: Load = results.get(timeout=600)
    process.join(timeout=30)
    if load.failures:
        raise SystemExit(f"the server refused commands: {load.failures[:3]}")
    return load


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Phase:
    """One server configuration's figures, pooled over its repetitions."""

    workers: int
    ratios: list[float]
    http_rates: list[float]
    service_rates: list[float]
    floors: list[float]
    latencies: list[float]

    def report(self, args: argparse.Namespace) -> None:
        http_rate, service_rate = statistics.median(self.http_rates), statistics.median(self.service_rates)
        p50, p99 = percentile(self.latencies, 0.50), percentile(self.latencies, 0.99)
        served = f"{self.workers} worker{'s' if self.workers > 1 else ''}"
        print(
            f"HTTP ({served}): {http_rate:.0f} cmd/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
            f"service layer: {service_rate:.0f} cmd/s; ratio {statistics.median(self.ratios):.2f} "
            f"(target >= {TARGET_RATIO:.2f}; p99 target <= {TARGET_P99_MS:.0f} ms)"
        )
        floor_rate = statistics.median(self.floors)
        print(
            f"  floor: GET /api/health through the same stack and clients: {floor_rate:.0f} req/s "
            f"(the command reaches {http_rate / floor_rate:.2f} of it)"
        )
        shown = ", ".join(f"{r:.2f}" for r in self.ratios)
        print(
            f"  {len(self.ratios)} repetitions of {args.commands} commands on {args.issues} issues, "
            f"{args.clients} clients{', no projector' if args.no_projector else ''}; ratios {shown}"
        )


def run_phase(root: Path, workers: int, args: argparse.Namespace) -> Phase:
    """Serve with `workers` processes over a fresh data folder and run the repetitions."""
    folder = root / f"served-{workers}"
    workflow = build_workflow(Settings(data_dir=folder, jwt_secret=SECRET))
    try:
        workflow.open_account(SETUP, name=SUPERVISOR, role="supervisor")
        warm_up = open_issues(workflow, args.issues)
        batches = [open_issues(workflow, args.issues) for _ in range(args.repetitions)]
    finally:
        workflow.close()
    token = issue_token(SUPERVISOR, secret=SECRET, minutes=60)
    port = free_port()
    phase = Phase(workers, [], [], [], [], [])
    server = start_server(folder, port, projector=not args.no_projector, workers=workers)
    try:
        through_http(port, token, warm_up, min(200, args.commands), args.clients)
        deadline = time.monotonic() + args.budget
        last = 0.0
        for repetition, refs in enumerate(batches):
            if repetition and time.monotonic() + last > deadline:
                break  # the next repetition would end past the budget
            began = time.monotonic()
            service = service_layer(root / f"service-{workers}-{repetition}", args.issues, args.commands)
            load = through_http(port, token, refs, args.commands, args.clients)
            rate = load.commands / load.seconds
            phase.service_rates.append(service)
            phase.http_rates.append(rate)
            phase.ratios.append(rate / service)
            phase.latencies += load.latencies_ms
            floor = through_http(port, token, [], args.commands, args.clients)
            phase.floors.append(floor.commands / floor.seconds)
            last = time.monotonic() - began
    finally:
        server.terminate()
        server.wait(timeout=30)
    return phase


def main() -> None:
    parser = argparse.ArgumentParser(description="Commands per second through HTTP beside the service layer.")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--issues", type=int, default=16, help="issues the commands spread over")
    parser.add_argument("--commands", type=int, default=1000, help="commands per phase and repetition")
    parser.add_argument(
        "--budget",
        type=float,
        default=35.0,
        help="per server configuration: no repetition starts that would end after this many s",
    )
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent HTTP clients")
    cpus = os.cpu_count() or 1
    parser.add_argument(
        "--workers",
        default=",".join(dict.fromkeys(str(n) for n in (cpus, 1))),
        help="server configurations to measure, in uvicorn worker processes (default: one per CPU, then 1)",
    )
    parser.add_argument(
        "--no-projector", action="store_true", help="serve without the projector thread (to see its share)"
    )
    args = parser.parse_args()
    if args.quick:
        args.repetitions, args.issues, args.commands, args.budget = 1, 4, 100, 5.0
    configurations = [int(n) for n in args.workers.split(",")]

    root = Path(tempfile.mkdtemp(prefix="caseline-http-bench-"))
    try:
        phases = [run_phase(root, workers, args) for workers in configurations]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for phase in phases:
        phase.report(args)


if __name__ == "__main__":
    main()
