"""One table from the domain's error tree to HTTP status codes. Routes never catch.

    NotFoundError     → 404 (also for objects outside the caller's reach)
    NotPermittedError → 403
    RuleBrokenError   → 409 (a rule broken, in a clerk's words)
    ConflictError     → 409 (still colliding after the retries)
    InvalidInputError → 422 (a value the domain refuses; request validation is FastAPI's 422)
Anything else is a bug and answers 500 without details.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.schemas import ErrorBody
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


def status_for(error: CaselineError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""

    @app.exception_handler(CaselineError)
    async def domain_error(request: Request, error: CaselineError) -> JSONResponse:
        status = status_for(error)
        if status == 500:
            log.error("unmapped domain error %s on %s", type(error).__name__, request.url.path)
        return JSONResponse({"code": error.code, "message": error.message}, status_code=status)


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Not signed in, or the token is invalid or expired"},
    403: {"model": ErrorBody, "description": "Signed in, but this role may not do this"},
    404: {"model": ErrorBody, "description": "No such object, or not within the caller's reach"},
    409: {
        "model": ErrorBody,
        "description": "A rule was broken or the item kept changing; the message says which",
    },
    429: {"model": ErrorBody, "description": "Too many requests from this client; try again in a minute"},
}
