"""Container entry point: validate config, then serve on $PORT (default 8000).

WEB_CONCURRENCY worker processes (default 1) share the port: one per core a pod may use, since
one Python process runs on one core at a time. uvicorn handles SIGTERM itself: it stops
accepting, finishes in-flight requests (up to the graceful timeout) and runs the app's shutdown.

One thing uvicorn does at SIGTERM loses requests behind a proxy: it closes idle keep-alive
connections at once, and a client (the frontend's fetch pool) that sent a request on one in the
same instant gets a reset, which its user sees as a 502. The Service stopped sending new
connections to this pod during the preStop drain, but kept-alive ones still arrive. So here
(``DrainingHttp``) a connection is never closed under a client: a request still arriving on it is
answered with ``Connection: close``, and an idle one is closed by the keep-alive timeout, which is
longer than clients keep an idle connection (Node's fetch: 4 s, uvicorn's timeout: 5 s).
"""

import os
import sys

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import ConfigError, load_settings
from app.logs import configure_logging
from app.main import create_app

GRACEFUL_SHUTDOWN_SECONDS = 20


class DrainingHttp(HttpToolsProtocol):
    """uvicorn's HTTP protocol, but at shutdown each connection ends only between requests, by us saying so."""

    draining = False

    def shutdown(self) -> None:
        self.draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
        elif self.timeout_keep_alive_task is None:
            # Connected but silent so far: no keep-alive timer runs yet to close it.
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                                self.timeout_keep_alive_handler)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False


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
        http=DrainingHttp,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
