"""The audit log: one JSON object per line for each request that touches a source,
and for each refusal of a request that names one or none.

Written to the ``jupyter_fsspec_proxy.audit`` logger (route it where admins
collect logs) and, when ``c.ProxyManager.audit_log`` names a file, appended there.
A record names the user, never a token, cookie or storage option.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

from .config import ConfigError

LOGGER = "jupyter_fsspec_proxy.audit"
#: Characters that JSON leaves raw but line-based readers (``str.splitlines``) split on.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
#: Refusals of unauthenticated requests: at most this many records a second, in bursts
#: of up to ``ANONYMOUS_BURST``; the rest are counted in the next record.
ANONYMOUS_RATE = 10.0
ANONYMOUS_BURST = 100


class AuditLog:
    def __init__(self, path: str = "") -> None:
        """Log to the logger, and append to ``path`` if given (ConfigError if it
        cannot be opened)."""
        self.logger = logging.getLogger(LOGGER)
        self.logger.setLevel(logging.INFO)
        self._file: logging.Handler | None = None
        if path:
            try:
                self._file = logging.FileHandler(path, encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"c.ProxyManager.audit_log: cannot append to {path!r} ({exc.strerror}): "
                    "make its folder, or name another file"
                ) from None
            self._file.setFormatter(logging.Formatter("%(message)s"))
            self.logger.addHandler(self._file)
        self._allowance = float(ANONYMOUS_BURST)
        self._last = time.monotonic()
        self._unlogged = 0

    @property
    def active(self) -> bool:
        """Whether a record goes anywhere: a file, or a handler an admin routed."""
        return self.logger.hasHandlers()

    def record(self, **fields: Any) -> None:
        """Log one request: at least time, user, client, source, path, operation,
        status, bytes, duration_ms and request_id. A refusal of a request that no one
        authenticated is rate-limited, so that a flood cannot fill the disk."""
        if fields.get("user") is None and not self._anonymous_allowed():
            self._unlogged += 1
            return
        if self._unlogged and fields.get("user") is None:
            fields["unlogged_refusals"], self._unlogged = self._unlogged, 0
        entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields}
        self.logger.info("%s", json.dumps(entry, ensure_ascii=False).translate(_LINE_BREAKS))

    def _anonymous_allowed(self) -> bool:
        """A token bucket: ``ANONYMOUS_RATE`` a second, ``ANONYMOUS_BURST`` at most."""
        now = time.monotonic()
        self._allowance = min(
            ANONYMOUS_BURST, self._allowance + (now - self._last) * ANONYMOUS_RATE
        )
        self._last = now
        if self._allowance < 1:
            return False
        self._allowance -= 1
        return True

    def close(self) -> None:
        if self._file is not None:
            self.logger.removeHandler(self._file)
            self._file.close()
            self._file = None
