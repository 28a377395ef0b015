"""The audit log: one JSON object per line for each request that touches a source.

Written to the ``jupyter_fsspec_proxy.audit`` logger (route it where admins
collect logs) and, when ``c.FsspecProxy.audit_log`` names a file, appended there.
A record names the user, never a token, cookie or storage option.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

LOGGER = "jupyter_fsspec_proxy.audit"


class AuditLog:
    def __init__(self, path: str = "") -> None:
        self.logger = logging.getLogger(LOGGER)
        self.logger.setLevel(logging.INFO)
        self._file: logging.Handler | None = None
        if path:
            self._file = logging.FileHandler(path, encoding="utf-8")
            self._file.setFormatter(logging.Formatter("%(message)s"))
            self.logger.addHandler(self._file)

    @property
    def active(self) -> bool:
        """Whether a record goes anywhere: a file, or a handler an admin routed."""
        return self.logger.hasHandlers()

    def record(self, **fields: Any) -> None:
        """Log one request: at least time, user, source, path, operation, status,
        bytes, duration_ms and request_id."""
        entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields}
        self.logger.info("%s", json.dumps(entry, ensure_ascii=False))

    def close(self) -> None:
        if self._file is not None:
            self.logger.removeHandler(self._file)
            self._file.close()
            self._file = None
