"""create_app(): the ASGI application with its database, middleware and error handlers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from crowdpost import __version__
from crowdpost.api import mount_apis
from crowdpost.config import Settings, get_settings
from crowdpost.db import Database
from crowdpost.error_responses import install_error_handlers
from crowdpost.errors import ApiError
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.logs import configure_logging
from crowdpost.middleware import RequestContextMiddleware
from crowdpost.outbox import metrics as outbox_metrics
from crowdpost.outbox.channels import not_ready_channels
from crowdpost.readiness import ReadinessProbe
from crowdpost.web.app import mount_pages
from crowdpost.wiring import wire_domains

log = logging.getLogger(__name__)

DESCRIPTION = """
crowdpost speaks the Toloka API. Requesters use `/api/v1` (toloka-kit works unchanged:
`TolokaClient(token, url=...)`), Tolokers `/api/toloker/v1`, operators `/api/admin/v1`.
Authenticate with `Authorization: OAuth <token>` or `ApiKey <token>`.
"""


def settle_heap() -> None:
    """Moves everything alive now (modules, app, caches) out of the garbage collector's reach.

    Measured: a full collection walks ~130,000 startup objects and takes ~50-70 ms, so
    every few hundred requests one of them waited that long (the listing p99 in
    bench/RESULTS.md). Frozen objects are never scanned; new ones are collected as usual.
    For a server process, once, after startup (`crowdpost serve` calls it).
    """
    gc.collect()
    gc.freeze()


def create_app_from_environment() -> FastAPI:
    """The app of one process of `crowdpost serve --workers N`: uvicorn starts each process
    from an import string, so each builds its app here, from the same `CROWDPOST_*`
    environment as the command that started it, with its own database pool."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
    settle_heap()
    return app


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = db or Database.from_settings(settings)
    wire_domains()  # job handlers, event subscribers, log renderers: before any request runs

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if db is None:  # we made it, we close it
            database.dispose()

    app = FastAPI(
        title="crowdpost",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=WireJSONResponse,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.readiness = ReadinessProbe(database.probe_engine)
    install_error_handlers(app)
    mount_apis(app)
    _mount_operability(app)
    mount_pages(app)  # after the API: its error handlers wrap the API's for page paths
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_page_body_bytes=settings.max_page_body_bytes,
    )
    return app


def _mount_operability(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> WireJSONResponse:
        return wire({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> WireJSONResponse:
        database: Database = request.app.state.db
        probe: ReadinessProbe = request.app.state.readiness
        reason = probe.why_not_ready()
        if reason is not None:
            log.warning("not ready: %s", reason)
            raise ApiError("database is not reachable", code="REMOTE_SERVICE_UNAVAILABLE", status_code=503)
        # Still ready (the API serves) when a channel cannot send; its rows wait, and this says why.
        body = {"status": "ready", "database": database.engine.dialect.name}
        return wire({**body, "outbox": not_ready_channels(request.app.state.settings)})

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        database: Database = request.app.state.db
        try:
            with database.transaction(write=False) as session:
                outbox_metrics.refresh(session)
        except Exception:
            # The process's own metrics still answer while the database is away.
            log.warning("outbox gauges not refreshed", exc_info=True)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
