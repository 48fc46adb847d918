"""Container entry point: validate config, then serve on $PORT (default 8000).

WEB_CONCURRENCY worker processes (default 1) share the port: one per core a pod may use, since
one Python process runs on one core at a time. uvicorn handles SIGTERM itself: it stops
accepting, finishes in-flight requests (up to the graceful timeout) and runs the app's shutdown.
"""

import os
import sys

import uvicorn
from fastapi import FastAPI

from app.config import ConfigError, load_settings
from app.logs import configure_logging
from app.main import create_app

GRACEFUL_SHUTDOWN_SECONDS = 20


def app_from_environment() -> FastAPI:
    """The app as each worker process builds it (uvicorn imports this by name)."""
    settings = load_settings(os.environ)
    configure_logging(settings.log_level)
    return create_app(settings)


def main() -> int:
    try:
        settings = load_settings(os.environ)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    # Worker processes build their own app from the environment; a single process serves this one
    # (so a development run's random JWT secret is drawn once).
    several = settings.web_concurrency > 1
    uvicorn.run(
        "app.serve:app_from_environment" if several else create_app(settings),
        factory=several,
        workers=settings.web_concurrency,
        host="0.0.0.0",
        port=int(os.environ.get("PORT", "8000")),
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
