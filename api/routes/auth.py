"""Signing in (OAuth2 password flow), who am I, and account administration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request

from api import schemas
from api.deps import Admin, PrincipalDep, Services, ServicesDep, answer
from api.errors import ERROR_RESPONSES
from api.security import issue_token
from domain.access import Account
from domain.errors import NotFoundError

router = APIRouter(prefix="/api", tags=["accounts"], responses=ERROR_RESPONSES)


def log_in(request: Request, svc: Services, username: str, password: str) -> tuple[str, Account]:
    """A short-lived bearer token for an active account's name and password, and the account.

    Raises HTTPException: 429 when the client has tried too often this minute, 401 when the name
    or password is wrong or the account is revoked (one answer for all three)."""
    client = request.client.host if request.client else "unknown"
    if not svc.limiter.allow("login", client, svc.settings.login_per_minute):
        raise HTTPException(
            429, detail={"code": "rate_limited", "message": "Too many attempts; wait a minute."}
        )
    wrong = HTTPException(
        401,
        detail={"code": "bad_credentials", "message": "The name or password is wrong."},
        headers={"WWW-Authenticate": "Bearer"},
    )
    if not svc.credentials.check_password(username, password):
        raise wrong
    try:
        account = svc.workflow.get_account(username)
    except NotFoundError:
        raise wrong from None
    if not account.active:
        raise wrong
    return issue_token(account.name, secret=svc.secret, minutes=svc.settings.token_minutes), account


@router.post("/auth/token", response_model=schemas.Token, summary="Sign in (OAuth2 password flow)")
def sign_in(
    request: Request,
    svc: ServicesDep,
    username: Annotated[str, Form(min_length=1, max_length=120)],
    password: Annotated[str, Form(min_length=1, max_length=200)],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> dict[str, Any]:
    """Exchange a name and password for a short-lived bearer token. Rate limited per client."""
    token, _ = log_in(request, svc, username, password)
    return {"access_token": token, "token_type": "bearer", "expires_in": svc.settings.token_minutes * 60}


@router.get("/me", summary="Who am I")
def me(who: PrincipalDep) -> dict[str, Any]:
    return {"name": who.name, "role": who.role.value, "department": who.department}


@router.post(
    "/accounts", status_code=201, response_model=schemas.CommandAnswer, summary="Open or change an account"
)
def open_account(body: schemas.AccountCreate, svc: ServicesDep, who: Admin) -> dict[str, object]:
    """Admins grant roles; every grant is recorded as an event."""
    result = svc.workflow.open_account(who.actor, name=body.name, role=body.role, department=body.department)
    if body.password is not None:
        svc.credentials.set_password(body.name, body.password)
    return answer(result)


@router.delete("/accounts/{name}", response_model=schemas.CommandAnswer, summary="Revoke an account")
def revoke_account(name: str, svc: ServicesDep, who: Admin) -> dict[str, object]:
    return answer(svc.workflow.revoke_account(who.actor, name, reason="revoked by an administrator"))
