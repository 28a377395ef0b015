"""The standalone command's logging: lines about a file proxy, none built for nothing."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from jupyter_server.log import log_request
from jupyter_server.prometheus.log_functions import prometheus_log_method
from jupyter_server.serverapp import ServerApp
from tornado.log import access_log


def install(serverapp: ServerApp, extension_log: Any, settings: dict[str, Any]) -> None:
    """Drop Jupyter's notebook-server lines; build a record only if it is shown.
    ``settings`` are the extension's, which Jupyter merges into the web app's."""
    serverapp.log.addFilter(NotebookServerLines())
    for logger in (extension_log, serverapp.log):
        skip_unshown_records(logger)
    record_metrics = serverapp.record_http_request_metrics
    settings["log_function"] = partial(
        log_request_if_shown, record_prometheus_metrics=record_metrics
    )


class NotebookServerLines(logging.Filter):
    """Drops the lines of Jupyter's start-up that describe a notebook server."""

    NOT_HERE = ("Serving notebooks from local directory", "shut down all kernels", "active kernel")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(phrase in message for phrase in self.NOT_HERE)


def skip_unshown_records(logger: logging.Logger | logging.LoggerAdapter) -> None:
    """traitlets leaves its loggers at DEBUG and filters in the handlers, so every
    request builds debug records that no handler shows (Jupyter's token check, say).
    Raise the logger to the lowest level a handler it reaches would show."""
    if isinstance(logger, logging.LoggerAdapter):
        logger = logger.logger
    levels, current = [], logger
    while current is not None:
        levels += [handler.level for handler in current.handlers]
        current = current.parent if current.propagate else None
    logger.setLevel(max(1, min(levels, default=logging.WARNING)))


def log_request_if_shown(handler: Any, record_prometheus_metrics: bool = True) -> None:
    """Jupyter's access line, built only at a level its logger shows (successes are
    debug lines); the request metrics are recorded either way."""
    status = handler.get_status()
    if status < 300 or status == 304:
        level = logging.DEBUG
    else:
        level = logging.INFO if status < 400 else logging.WARNING
    try:
        logger = handler.log
    except AttributeError:
        logger = access_log
    if logger.isEnabledFor(level):
        log_request(handler, record_prometheus_metrics)
    elif record_prometheus_metrics:
        prometheus_log_method(handler)
