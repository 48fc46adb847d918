"""The application factory. `create_app(settings)` builds one app; nothing happens at import."""

import logging
import threading
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api import auth, chat, health, tasks
from app.api.deps import Runtime
from app.chat.llm import ModelChat
from app.config import Settings
from app.db import autocommit, create_db_engine, session_factory
from app.errors import install_error_handlers
from app.middleware import BodyLimit, RequestContext
from app.migrate import upgrade_to_head

log = logging.getLogger(__name__)
MAX_MIGRATION_RETRY_SECONDS = 10.0


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="Todo API", version="1.0.0", lifespan=_lifespan)
    app.state.runtime = _build_runtime(settings)
    for router in (health.router, auth.router, tasks.router, chat.router):
        app.include_router(router)
    install_error_handlers(app)
    # Added innermost first: request ids and access logs wrap everything, CORS headers reach errors too.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(RequestContext)
    return app


def _build_runtime(settings: Settings) -> Runtime:
    engine = create_db_engine(settings.database_url, connections=settings.worker_threads)
    model = None
    if settings.llm_enabled:
        model = ModelChat(settings.openai_base_url, settings.openai_api_key, settings.openai_model)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        autocommit_engine=autocommit(engine),
        model=model,
    )


@asynccontextmanager
async def _lifespan(app: FastAPI):
    runtime: Runtime = app.state.runtime
    # Sync endpoints run on anyio's worker threads (40 by default). A few are enough to overlap the
    # database round trips; more only contend for the GIL and stretch the slowest requests.
    anyio.to_thread.current_default_thread_limiter().total_tokens = runtime.settings.worker_threads
    stop = threading.Event()
    # Migrate in the background: /health answers at once and /ready stays 503 until the schema is
    # at head, so a pod whose database is still starting waits instead of crash-looping.
    migrator = threading.Thread(target=_migrate_until_done, args=(runtime, stop), name="migrate", daemon=True)
    migrator.start()
    log.info("started", extra={"database": runtime.settings.safe_database_url, "llm": runtime.settings.llm_enabled})
    try:
        yield
    finally:
        stop.set()
        migrator.join(timeout=5)
        runtime.engine.dispose()


def _migrate_until_done(runtime: Runtime, stop: threading.Event) -> None:
    delay = 0.5
    while not stop.is_set():
        try:
            upgrade_to_head(runtime.engine)
            runtime.migrated.set()
            return
        except Exception as error:
            log.warning("migration failed, retrying", extra={"error": type(error).__name__, "retry_in_s": delay})
            stop.wait(delay)
            delay = min(delay * 2, MAX_MIGRATION_RETRY_SECONDS)
