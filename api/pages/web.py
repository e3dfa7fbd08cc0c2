"""What every page shares: templates, the signed-in person from the session cookie, the CSRF
token, the language, time formatting, and a route class that turns refusals into pages.

Sessions: signing in puts the same short-lived JWT the JSON API hands out into an HttpOnly,
SameSite=Lax cookie; a page visited in the second half of the token's life renews it, so an
active clerk stays signed in and an idle one is signed out when the token expires.

CSRF: a random value in its own HttpOnly cookie, and in every form a token that is an HMAC
of that value and the signed-in name under the server's secret (a signed double submit). A
form posted without it, with another cookie, or by someone else answers 403 and writes nothing.

Refusals: a page dependency raises `SignInRequiredError` or `PageError`; domain errors not caught
by a page answer with the status the JSON API would use (`api.errors.status_for`), but as a
page with the message in the page's language (`Page.refusal`), never a JSON body or a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from uuid import uuid4
from zoneinfo import ZoneInfo

import jwt
from fastapi import Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from api import deps
from api.deps import Services
from api.errors import status_for
from api.pages.i18n import LANGUAGES, Translator, negotiate
from api.security import ANONYMOUS, Principal, issue_token
from domain.errors import UTC_TEXT, UTC_TEXT_FORMAT, CaselineError
from domain.rules import MAX_TEXT, Role

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
SESSION_COOKIE = "caseline_session"
CSRF_COOKIE = "caseline_csrf"
LANG_COOKIE = "lang"
CSRF_FIELD = "_csrf"
KEY_FIELD = "_key"

ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class SignInRequiredError(Exception):
    """Raised when a page needs a signed-in person and nobody is signed in."""


class PageError(Exception):
    """Raised when a page refuses: the status and a message for people (already translated)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_moment(value: str | datetime | None) -> datetime | None:
    """A stored moment (ISO text from the views, or a datetime) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_path(target: str | None, default: str) -> str:
    """`target` if it is a path on this site (no scheme, no host, no `//`), else `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ch in target for ch in "\r\n"):
        return default
    return target


@dataclass
class Page:
    """One request's view of the world: services, who is asking, language, CSRF and cookies."""

    request: Request
    svc: Services
    who: Principal
    lang: str
    t: Translator
    csrf_seed: str
    cookies: list[tuple[str, str | None, int | None]] = field(default_factory=list)

    # -- who may see what -------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self.who is not ANONYMOUS

    def require(self, *roles: Role) -> Principal:
        """The signed-in person if their role is one of `roles`; sign in first, or 404."""
        if not self.signed_in:
            raise SignInRequiredError
        if self.who.role not in roles:
            raise PageError(404, self.t("There is no such page for your role."))
        return self.who

    # -- CSRF ---------------------------------------------------------------------------------

    @property
    def csrf(self) -> str:
        message = f"csrf|{self.csrf_seed}|{self.who.name}".encode()
        return hmac.new(self.svc.secret.encode(), message, hashlib.sha256).hexdigest()

    def check(self, form: FormData) -> None:
        """Refuse a form that does not carry this session's CSRF token."""
        sent = form.get(CSRF_FIELD)
        cookie = self.request.cookies.get(CSRF_COOKIE)
        if not isinstance(sent, str) or not cookie or not hmac.compare_digest(sent, self.csrf):
            raise PageError(
                403, self.t("This form has expired or did not come from this site; reload and try again.")
            )

    # -- refusals -----------------------------------------------------------------------------

    def refusal(self, error: CaselineError) -> str:
        """A domain error's message in this page's language, its moments in the town's zone as
        every time on the pages is (the JSON API keeps the English, in UTC)."""
        return UTC_TEXT.sub(
            lambda found: self.when(datetime.strptime(found[1], UTC_TEXT_FORMAT).replace(tzinfo=UTC)),
            self.t.refusal(error.code, error.message),
        )

    # -- time ---------------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        """The zone pages show times in and read dates from: the town's (CASELINE_DUTY_TIMEZONE)."""
        return self.svc.settings.zone

    def now(self) -> datetime:
        """The workflow's clock: the wall clock in production, the fake one in tests."""
        return self.svc.workflow.clock.now()

    def when(self, value: str | datetime | None) -> str:
        moment = parse_moment(value)
        return "" if moment is None else moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def day(self, value: str | datetime | None) -> str:
        moment = parse_moment(value)
        return "" if moment is None else moment.astimezone(self.zone).strftime("%Y-%m-%d")

    def end_of_day(self, value: str) -> datetime:
        """A date from a form as the last minute of that day in the town's zone."""
        day = date.fromisoformat(value)
        return datetime(day.year, day.month, day.day, 23, 59, tzinfo=self.zone).astimezone(UTC)

    def local_input(self, value: str) -> datetime:
        """A `datetime-local` value, read in the town's zone."""
        return datetime.fromisoformat(value).replace(tzinfo=self.zone).astimezone(UTC)

    # -- answers ------------------------------------------------------------------------------

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        """The page from `template`, with the helpers every template uses."""
        body = ENV.get_template(template).render(
            page=self,
            who=self.who,
            _=self.t,
            label=self.t.label,
            lang=self.lang,
            html_lang=LANGUAGES[self.lang],
            csrf=self.csrf,
            fresh_key=lambda: uuid4().hex,
            when=self.when,
            day=self.day,
            path=self.request.url.path,
            here=str(self.request.url.path)
            + (f"?{self.request.url.query}" if self.request.url.query else ""),
            Role=Role,
            **context,
        )
        return self.finish(HTMLResponse(body, status_code=status))

    def redirect(self, location: str) -> Response:
        return self.finish(RedirectResponse(location, status_code=303))

    def finish(self, response: Response) -> Response:
        """Set the cookies this request decided on, and say how long the server took."""
        secure = self.request.url.scheme == "https"
        for name, value, max_age in self.cookies:
            if value is None:
                response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure)
            else:
                response.set_cookie(
                    name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure
                )
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def sign_in(self, token: str) -> None:
        """Hold `token` in the session cookie; a new CSRF seed goes with the new session."""
        self.cookies.append((SESSION_COOKIE, token, self.svc.settings.token_minutes * 60))
        self.csrf_seed = secrets.token_urlsafe(32)
        self.cookies.append((CSRF_COOKIE, self.csrf_seed, None))

    def sign_out(self) -> None:
        self.cookies.append((SESSION_COOKIE, None, None))
        self.who = ANONYMOUS


def _principal(request: Request, svc: Services) -> tuple[Principal, str | None]:
    """Who the session cookie names (the JSON API's rules), and a renewed token if it is ageing."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return ANONYMOUS, None
    try:
        who = deps.resolve_principal(svc, token, None)
    except HTTPException:
        return ANONYMOUS, ""
    renewed = None
    claims = jwt.decode(token, options={"verify_signature": False})
    left = float(claims.get("exp", 0)) - time.time()
    if left < svc.settings.token_minutes * 30:
        renewed = issue_token(who.name, secret=svc.secret, minutes=svc.settings.token_minutes)
    return who, renewed


def page(request: Request) -> Page:
    """The `Page` of this request (a dependency of every page)."""
    svc: Services = request.app.state.services
    lang = negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    who, renewed = _principal(request, svc)
    seed = request.cookies.get(CSRF_COOKIE)
    current = Page(request, svc, who, lang, Translator(lang), seed or secrets.token_urlsafe(32))
    if seed is None:
        current.cookies.append((CSRF_COOKIE, current.csrf_seed, None))
    if renewed == "":
        current.cookies.append((SESSION_COOKIE, None, None))
    elif renewed:
        current.cookies.append((SESSION_COOKIE, renewed, svc.settings.token_minutes * 60))
    request.state.page = current
    return current


async def posted(request: Request) -> FormData:
    """The posted form, bounded (no files; a few hundred fields at most)."""
    return await request.form(max_files=0, max_fields=500, max_part_size=64 * 1024)


PageDep = Annotated[Page, Depends(page)]
FormDep = Annotated[FormData, Depends(posted)]


def fields(
    form: FormData, model: type[BaseModel], *, lists: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The form's values for `model`: blanks left out, `lists` fields split by lines or repeated."""
    data: dict[str, Any] = {}
    for name in model.model_fields:
        if lists and name in lists:
            if lists[name] == "lines":
                raw = form.get(name)
                values = [line.strip() for line in str(raw or "").splitlines() if line.strip()]
            else:
                values = [str(v) for v in form.getlist(name) if str(v).strip()]
            if values:
                data[name] = values
            continue
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            data[name] = value.strip()
    return data


def refill(form: FormData) -> dict[str, str]:
    """What was typed, to put back into a refused form: never the CSRF token, a password, or
    a value too long to have been accepted (a 5 MB text is not sent back)."""
    return {
        k: v for k, v in form.items()
        if isinstance(v, str) and not k.startswith("_") and k != "password" and len(v) <= MAX_TEXT
    }  # fmt: skip


def problem(page: Page, error: ValidationError) -> str:
    """A validation error in a clerk's words, naming the fields (never echoing the values)."""
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if not isinstance(p, int)) or "form"
        parts.append(f"{page.t.label('field', where)}: {page.t(str(item.get('msg', '')))}")
    return "; ".join(parts)


def _bare_page(request: Request) -> Page:
    """A page for answering an error raised before the page dependency ran."""
    found = getattr(request.state, "page", None)
    if isinstance(found, Page):
        return found
    return page(request)


def error_page(request: Request, status: int, message: str) -> Response:
    current = _bare_page(request)
    return current.render("error.html", status=status, message=message, status_code=status)


class PageRoute(APIRoute):
    """A route whose refusals are pages: sign in, not found, forbidden, a broken rule."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await handler(request)
            except SignInRequiredError:
                target = quote(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
                response = _bare_page(request).redirect(f"/sign-in?next={target}")
            except PageError as error:
                response = error_page(request, error.status, error.message)
            except CaselineError as error:
                response = error_page(request, status_for(error), _bare_page(request).refusal(error))
            except HTTPException as error:
                detail = error.detail
                if isinstance(detail, dict):  # the API's {"code", "message"}: a refusal like the domain's
                    message = _bare_page(request).t.refusal(
                        str(detail.get("code")), str(detail.get("message"))
                    )
                else:
                    message = str(detail)
                response = error_page(request, error.status_code, message)
            except RequestValidationError:
                response = error_page(
                    request, 422, _bare_page(request).t("The address has a value this page cannot read.")
                )
            elapsed = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = f"page;dur={elapsed:.1f}"
            return response

        return run


def idempotency_key(form: FormData, suffix: str = "") -> str | None:
    """The form's repeat-safe key: a double click or a resubmitted form records once."""
    key = form.get(KEY_FIELD)
    if not isinstance(key, str) or not key.strip():
        return None
    return key.strip()[:100] + suffix
