"""Pages anyone may open: the start, signing in and out, the language switch, the public
register and the public form to report an issue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import ValidationError

from api import schemas
from api.deps import RECORDERS, STAFF
from api.pages.i18n import LANGUAGES
from api.pages.web import (
    LANG_COOKIE,
    FormDep,
    PageDep,
    PageRoute,
    fields,
    idempotency_key,
    local_path,
    problem,
    refill,
)
from api.routes.auth import log_in
from api.routes.opinions import submit_public_opinion
from domain.errors import CaselineError
from domain.rules import Area, Kind, Role
from projections import queries

router = APIRouter(route_class=PageRoute, include_in_schema=False)
REGISTER_PAGE = 20


def home_of(role: Role) -> str:
    if role in STAFF:
        return "/board"
    if role in RECORDERS:
        return "/intake"
    return "/register"


@router.get("/")
def home(page: PageDep) -> Response:
    return page.redirect(home_of(page.who.role) if page.signed_in else "/register")


@router.get("/lang/{code}")
def switch_language(
    code: str, page: PageDep, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    """Remember the chosen language for a year and go back where the switch was pressed."""
    if code in LANGUAGES:
        page.cookies.append((LANG_COOKIE, code, 365 * 24 * 3600))
    return page.redirect(local_path(next, "/"))


@router.get("/sign-in")
def sign_in_form(page: PageDep, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    return page.render("sign_in.html", next=local_path(next, ""), username="")


@router.post("/sign-in")
def sign_in(page: PageDep, form: FormDep) -> Response:
    """Check the name and password as the JSON API does; keep the token in the session cookie."""
    page.check(form)
    username = str(form.get("username") or "").strip()[:120]
    password = str(form.get("password") or "")[:200]
    next_path = local_path(str(form.get("next") or ""), "")
    if not username or not password:
        return page.render(
            "sign_in.html",
            422,
            next=next_path,
            username=username,
            error=page.t("Give your name and password."),
        )
    try:
        token, account = log_in(page.request, page.svc, username, password)
    except HTTPException as refused:
        message = (
            page.t("Too many attempts; wait a minute.")
            if refused.status_code == 429
            else page.t("The name or password is wrong.")
        )
        return page.render(
            "sign_in.html", refused.status_code, next=next_path, username=username, error=message
        )
    page.sign_in(token)
    return page.redirect(next_path or home_of(Role(account.role)))


@router.post("/sign-out")
def sign_out(page: PageDep, form: FormDep) -> Response:
    page.check(form)
    page.sign_out()
    return page.redirect("/sign-in")


@router.get("/register")
def register(page: PageDep, page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> Response:
    """The public register: only what officers chose to publish (`public_register`)."""
    found = queries.public_register(
        page.svc.projector.db, now=page.now(), page=page_no, page_size=REGISTER_PAGE
    )
    return page.render(
        "register.html",
        rows=found.rows,
        total=found.total,
        page_no=page_no,
        has_next=page_no * REGISTER_PAGE < found.total,
    )


def _submit_form(page: PageDep, status: int = 200, **context: object) -> Response:
    values = context.pop("values", {})
    return page.render("submit.html", status, kinds=list(Kind), areas=list(Area), values=values, **context)


@router.get("/submit")
def submit_form(page: PageDep) -> Response:
    return _submit_form(page)


@router.post("/submit")
def submit(page: PageDep, form: FormDep) -> Response:
    """Anyone may report an issue; it lands in the feedback tracker awaiting triage."""
    page.check(form)
    values = refill(form)
    data = fields(form, schemas.PublicOpinionCreate)
    contact = fields(form, schemas.ContactIn)
    if contact:
        data["contact"] = contact
    try:
        body = schemas.PublicOpinionCreate.model_validate(data)
        answer = submit_public_opinion(body, page.request, page.svc, idempotency_key(form))
    except ValidationError as error:
        return _submit_form(page, 422, values=values, error=problem(page, error))
    except CaselineError as error:
        return _submit_form(page, 422, values=values, error=page.refusal(error))
    except HTTPException as error:
        return _submit_form(
            page, error.status_code, values=values, error=page.t("Too many submissions; wait a minute.")
        )
    return page.render("submitted.html", reference=str(answer["id"])[:8])
