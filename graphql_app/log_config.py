"""One logging set-up for the command line and for each uvicorn worker process."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(levelname)s %(name)s %(message)s"


def configure_logging(level: str) -> None:
    """Log to stderr at `level` (LOG_LEVEL). A worker process that uvicorn spawned
    starts with no root handler, so one is added where missing.

    LOG_FORMAT (and uvicorn's) shows no source line, thread or process: the
    logging module is told not to look them up for every record (the logging
    HOWTO's "Optimization"), which it otherwise does for each request's line.
    """
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=LOG_FORMAT)
    root.setLevel(level)
