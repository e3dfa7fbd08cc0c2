"""One table from the domain's error tree to HTTP status codes. Routes never catch.

    NotFoundError     → 404 (also for objects outside the caller's reach)
    NotPermittedError → 403
    RuleBrokenError   → 409 (a rule broken, in a clerk's words)
    ConflictError     → 409 (still colliding after the retries)
    InvalidInputError → 422 (a value the domain refuses; request validation is FastAPI's 422)
Anything else is a bug and answers 500 without details.

Under `/api/` every error body is `{"code", "message"}` (`ErrorBody`): the `HTTPException`s
the dependencies raise (401, 403, 429), FastAPI's own (400 unreadable body, 404 no route,
405) and request validation (422, `InvalidBody`, which adds the fields in `detail` and never
echoes the values sent). Other mounts (Open311) keep their own formats.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from api.schemas import ErrorBody, InvalidBody
from domain.errors import (
    CaselineError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    NotPermittedError,
    RuleBrokenError,
)

STATUS: list[tuple[type[CaselineError], int]] = [
    (NotFoundError, 404),
    (NotPermittedError, 403),
    (InvalidInputError, 422),
    (RuleBrokenError, 409),
    (ConflictError, 409),
]

log = logging.getLogger("caseline.api")

# Codes for the errors FastAPI and Starlette raise with a plain-text detail.
HTTP_CODES = {
    400: "unreadable_body",
    401: "not_signed_in",
    403: "not_permitted",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
}


def status_for(error: CaselineError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def _where(loc: list[str | int]) -> str:
    """`["body", "goals", 0]` → `goals.0`: the field as a clerk would look for it."""
    if len(loc) == 2 and loc[0] == "body" and isinstance(loc[1], int):
        return f"body, at character {loc[1]}"  # where the JSON stopped making sense
    return ".".join(str(part) for part in loc[1:]) or (str(loc[0]) if loc else "request")


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""

    @app.exception_handler(CaselineError)
    async def domain_error(request: Request, error: CaselineError) -> JSONResponse:
        status = status_for(error)
        if status == 500:
            log.error("unmapped domain error %s on %s", type(error).__name__, request.url.path)
        return JSONResponse({"code": error.code, "message": error.message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if not request.url.path.startswith("/api/"):
            return await http_exception_handler(request, error)
        body: object = error.detail
        if not (isinstance(body, dict) and {"code", "message"} <= body.keys()):
            body = {"code": HTTP_CODES.get(error.status_code, "http_error"), "message": str(error.detail)}
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        if not request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, error)
        # Never echo the values sent: a 5 MB text would come straight back, and so would secrets.
        problems: list[dict[str, Any]] = [
            {
                "type": str(p.get("type", "invalid")),
                "loc": list(p.get("loc", ())),
                "msg": str(p.get("msg", "")),
            }
            for p in error.errors()[:50]
        ]
        message = "; ".join(f"{_where(p['loc'])}: {p['msg']}" for p in problems[:5])
        return JSONResponse(
            {"code": "invalid_request", "message": message or "The request is invalid.", "detail": problems},
            status_code=422,
        )


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "The body could not be read (malformed JSON or form data)"},
    401: {"model": ErrorBody, "description": "Not signed in, or the token is invalid or expired"},
    403: {"model": ErrorBody, "description": "Signed in, but this role may not do this"},
    404: {"model": ErrorBody, "description": "No such object, or not within the caller's reach"},
    409: {
        "model": ErrorBody,
        "description": "A rule was broken or the item kept changing; the message says which",
    },
    422: {"model": InvalidBody, "description": "The request is invalid; `detail` names the fields"},
    429: {"model": ErrorBody, "description": "Too many requests from this client; try again in a minute"},
}
