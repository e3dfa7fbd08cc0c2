"""The FastAPI application: `create_app` wires the services; the lifespan runs the projector and
the scheduler in threads (unless turned off in settings)."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from api import errors, open311, pages
from api.accounts import CredentialStore
from api.deps import Services, run_read
from api.routes import auth, issues, meetings, opinions, views
from api.security import load_secret
from api.settings import Settings
from api.storage import build_projector, build_workflow
from scheduler.cli import start_in_process


def build_services(settings: Settings) -> Services:
    """The real adapters, configured from settings (the composition root for HTTP)."""
    workflow = build_workflow(settings)
    return Services(
        settings=settings,
        workflow=workflow,
        projector=build_projector(settings),
        credentials=CredentialStore(settings),
        secret=load_secret(settings.jwt_secret, settings.data_dir),
    )


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """The HTTP app over the configured store; pass `services` to share them (tests)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or build_services(settings)
        app.state.services = svc
        stop = threading.Event()
        thread: threading.Thread | None = None
        if settings.run_projector:
            thread = threading.Thread(target=svc.projector.run_forever, args=(stop,), daemon=True)
            thread.start()
        # The scheduler runs on the app's own workflow and projector (not under tests that bring
        # their services with a fake clock). Several workers each running it is harmless: the
        # aggregates decide.
        scheduled = (
            start_in_process(settings, shared=(svc.workflow, svc.projector))
            if services is None and settings.run_scheduler
            else None
        )
        # Everything built so far (modules, routes, schemas, services) lives as long as the app:
        # out of the collector's sight, a full collection walks only what requests made since. It
        # walked it all otherwise, holding the GIL mid-load (bench/README.md, `http_load.py`). Not
        # under tests that bring their services: their process outlives the app.
        if services is None:
            gc.freeze()
        try:
            yield
        finally:
            if scheduled is not None:
                scheduler, jobs = scheduled
                scheduler.shutdown()
                jobs.close()
            stop.set()
            if thread is not None:
                thread.join(timeout=10)
            if services is None:
                svc.workflow.close()
                svc.credentials.close()
                svc.projector.db.close()

    app = FastAPI(
        title="Caseline",
        summary="One problem, one leader, accountable to the end.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
    )
    errors.install(app)

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")
    app.mount("/static/pages", StaticFiles(directory=pages.STATIC_DIR), name="pages-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Any:
        # Swagger UI from the swagger-ui-bundle package, so /docs works with no internet.
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Caseline API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
        )

    @app.get("/api/health", tags=["health"], summary="Liveness and projection lag")
    async def health() -> dict[str, Any]:
        svc: Services = app.state.services
        return {"status": "ok", "projection_lag": await run_read(svc, svc.projector.lag)}

    # Routes are matched in order, each costing a few microseconds (a path that matches nothing
    # costs ~0.6 ms): the busiest router (issue actions) first, the many page routes last.
    for module in (issues, opinions, auth, meetings, views, open311):
        app.include_router(module.router)
    app.include_router(pages.router)
    return app


class BodyLimit:
    """Refuses a body larger than `max_bytes` by its declared length (413), before anything reads it.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's `BaseHTTPMiddleware` runs every
    request through a task group and memory streams, which measured as a fifth of a request's
    cost on the event loop."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
                message = f"The request is larger than {self.max_bytes} bytes."
                refusal = (
                    open311.error_response(Request(scope), 413, message)  # the spec's own error format
                    if scope["path"].startswith(open311.PREFIX)
                    else JSONResponse({"code": errors.HTTP_CODES[413], "message": message}, status_code=413)
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
