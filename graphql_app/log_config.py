"""One logging set-up for the command line and for each uvicorn worker process."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(levelname)s %(name)s %(message)s"


def configure_logging(level: str) -> None:
    """Log to stderr at `level` (LOG_LEVEL). A worker process that uvicorn spawned
    starts with no root handler, so one is added where missing."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=LOG_FORMAT)
    root.setLevel(level)
