"""Dependencies shared by the routers: the services, who is asking, and what they may reach."""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer

from api.accounts import CredentialStore
from api.security import ANONYMOUS, Principal, read_token
from api.settings import Settings
from domain.errors import IssueNotFoundError, NotFoundError
from domain.issue import Issue
from domain.rules import Role
from domain.workflow import Result, Workflow, WouldPauseError
from projections.projector import Projector


class RateLimiter:
    """A fixed one-minute window per client and purpose, counted in the credential store, which
    every worker process shares: the limits hold for the server as a whole.

    Hand-written rather than a library: the well-kept ones (`limits`, `slowapi`) count in memory,
    Redis, Memcached or MongoDB, none of which Caseline runs; this is one upsert. Clients are
    counted under a keyed hash of their address, so the counters hold no address."""

    def __init__(self, credentials: CredentialStore, secret: str) -> None:
        self._credentials = credentials
        self._key = hashlib.sha256(b"caseline-rate-limit:" + secret.encode()).digest()

    def allow(self, purpose: str, client: str, per_minute: int) -> bool:
        digest = hmac.new(self._key, client.encode(), hashlib.sha256).hexdigest()[:32]
        return self._credentials.count_hit(purpose, digest, int(time.time() // 60)) <= per_minute


@dataclass
class Services:
    """What the routers need, built once by the app's lifespan."""

    settings: Settings
    workflow: Workflow
    projector: Projector
    credentials: CredentialStore
    secret: str
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.credentials, self.secret)


async def services(request: Request) -> Services:
    # `async`, like every dependency that does no I/O: FastAPI runs a plain `def` dependency in
    # the thread pool, a hand-off that costs more than the work.
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]
bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def unauthorised(message: str) -> HTTPException:
    return HTTPException(
        401, detail={"code": "not_signed_in", "message": message}, headers={"WWW-Authenticate": "Bearer"}
    )


def resolve_principal(svc: Services, token: str | None, api_key: str | None) -> Principal:
    """Who is asking: a bearer token, an API key, or nobody (the public); 401 for a bad credential."""
    if token is None and api_key is None:
        return ANONYMOUS
    name = (
        read_token(token, secret=svc.secret)
        if token is not None
        else svc.credentials.account_for_key(api_key or "")
    )
    if name is None:
        raise unauthorised("Sign in again: the token or key is invalid or expired.")
    try:
        account = svc.workflow.get_account(name)
    except NotFoundError:
        raise unauthorised("Sign in again: this account no longer exists.") from None
    if not account.active:
        raise unauthorised("This account has been revoked.")
    return Principal(account.name, Role(account.role), account.department)


async def principal(
    svc: ServicesDep,
    token: Annotated[str | None, Depends(bearer)],
    api_key: Annotated[str | None, Header(alias="X-API-Key", max_length=200)] = None,
) -> Principal:
    """Who is asking: a token check and a read or two by key, where reads cost least (`run_read`)."""
    return await run_read(svc, resolve_principal, svc, token, api_key)


PrincipalDep = Annotated[Principal, Depends(principal)]


def require(*roles: Role) -> object:
    """A dependency that lets only the given roles through (401 anonymous, 403 other roles)."""

    async def check(who: PrincipalDep) -> Principal:
        if who is ANONYMOUS:
            raise unauthorised("Sign in first.")
        if who.role not in roles:
            raise HTTPException(
                403, detail={"code": "not_permitted", "message": "Your role may not do this."}
            )
        return who

    return Depends(check)


STAFF = (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
RECORDERS = (Role.RECORDER, Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)

Staff = Annotated[Principal, require(*STAFF)]
Supervisor = Annotated[Principal, require(*SUPERVISORS)]
Recorder = Annotated[Principal, require(*RECORDERS)]
Admin = Annotated[Principal, require(Role.ADMIN)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=200, description="Repeat-safe key for this POST."
    ),
]
WaitFor = Annotated[
    int | None,
    Query(ge=0, le=2**62, description="Wait (up to 5 s) until the views include this log position."),
]


def within_reach(who: Principal, issue: Issue) -> bool:
    """Officers reach the items they lead or their department holds; supervisors reach all."""
    if who.role in SUPERVISORS:
        return True
    if who.role == Role.OFFICER:
        return issue.leader == who.name or (who.department is not None and issue.department == who.department)
    return False


def reachable_issue(svc: Services, who: Principal, ref: str | Issue) -> Issue:
    """The issue if the caller may see it; otherwise the same 404 as a missing one (401 if anonymous).

    An issue already loaded (by a page's own reach check, say) is checked as it is, not loaded again."""
    if who is ANONYMOUS:
        raise unauthorised("Sign in first.")
    issue = ref if isinstance(ref, Issue) else svc.workflow.get_issue(ref)
    if not within_reach(who, issue):
        raise IssueNotFoundError(issue.number if isinstance(ref, Issue) else ref[:40])
    return issue


def wait_for(svc: Services, position: int | None) -> None:
    """Read-your-writes: let the views catch up to `position` (bounded wait; see Projector.wait_for)."""
    if position:
        svc.projector.wait_for(position, timeout=5.0)


T = TypeVar("T")
P = ParamSpec("P")


async def run_read(svc: Services, work: Callable[..., T], *args: Any) -> T:
    """Run a short read of the store where it costs least.

    On SQLite, on the event loop itself: the read is local and CPU-bound, and a hand-off to the
    thread pool costs more, in GIL contention under load, than the read. On PostgreSQL, in the
    thread pool: a read waits on the network, and threads let one worker overlap those waits."""
    if svc.settings.uses_postgres:
        return await run_in_threadpool(work, *args)
    return work(*args)


async def run_command(svc: Services, work: Callable[..., T], *args: Any) -> T:
    """Run a command (reach check, decision, save) where it costs least, as `run_read` does.

    On SQLite the event loop also saves: writers queue on one lock anyway, so threads only added
    contention for the GIL, the largest single cost of a command under load (bench/http_load.py,
    one worker, 16 clients: 256 commands/s through the thread pool, 476 on the loop with the caller
    also resolved there). A command on the loop waits only for another writer's commit; one that
    meets a conflicting write runs again in the thread pool, where its retries may pause."""
    if not svc.settings.uses_postgres:
        try:
            with svc.workflow.without_pauses():
                return work(*args)
        except WouldPauseError:
            pass  # another writer got to the same item first: the retries, with their pauses, go to the pool
    return await run_in_threadpool(work, *args)


def command(
    register: Callable[[Callable[..., Any]], Any],
) -> Callable[[Callable[P, dict[str, object]]], Callable[P, dict[str, object]]]:
    """Register a synchronous command function (its parameters are FastAPI's, `svc` among them) as
    an async endpoint that runs it through `run_command`; the function itself stays as it is, for
    the pages to call. FastAPI reads the endpoint's parameters through `functools.wraps`."""

    def decorate(work: Callable[P, dict[str, object]]) -> Callable[P, dict[str, object]]:
        @functools.wraps(work)
        async def endpoint(*args: P.args, **kwargs: P.kwargs) -> dict[str, object]:
            svc = kwargs["svc"]
            assert isinstance(svc, Services)
            return await run_command(svc, functools.partial(work, *args, **kwargs))

        register(endpoint)
        return work

    return decorate


def answer(result: Result) -> dict[str, object]:
    return {
        "id": result.id,
        "version": result.version,
        "number": result.number,
        "position": result.position,
        "changed": result.changed,
        "detail": result.detail,
    }
