"""Container entry point: validate config, then serve on $PORT (default 8000).

uvicorn handles SIGTERM itself: it stops accepting, finishes in-flight
requests (up to the graceful timeout) and runs the app's shutdown.
"""

import os
import sys

import uvicorn

from app.config import ConfigError, load_settings
from app.logs import configure_logging
from app.main import create_app

GRACEFUL_SHUTDOWN_SECONDS = 20


def main() -> int:
    try:
        settings = load_settings(os.environ)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
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
