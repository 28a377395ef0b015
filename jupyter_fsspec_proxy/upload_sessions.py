"""Upload sessions: one backend upload kept open across the requests that send its
pieces, bound to the caller and the path that opened it, bounded in number, and
aborted once idle for too long."""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tornado.ioloop import PeriodicCallback

from .access import Caller
from .backend import Upload
from .conditions import WriteConditions
from .errors import NoSuchUpload, OffsetMismatch, TooManyUploads, UploadsFull

#: How often, at most, expired sessions are looked for (seconds).
MAX_SWEEP_INTERVAL = 30.0


@dataclass(eq=False)
class UploadSession:
    """An upload in pieces: what it writes, whose it is, and its conditions."""

    id: str
    owner: Caller
    path: str  # ``<source>/<path>``, as clients name it
    upload: Upload
    conditions: WriteConditions
    deadline: float  # time.monotonic() after which it is aborted unless a piece arrives
    receiving: bool = False  # a piece is arriving
    ended: bool = field(default=False)  # aborted or committed: never used again

    @property
    def offset(self) -> int:
        """Where the next piece starts: every byte received so far."""
        return self.upload.received

    def describe(self) -> dict[str, Any]:
        remaining = max(self.deadline - time.monotonic(), 0)
        return {"id": self.id, "offset": self.offset, "expires": math.ceil(time.time() + remaining)}


class UploadSessions:
    """The open sessions of this process."""

    def __init__(self, idle_timeout: float, max_sessions: int, max_per_user: int) -> None:
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.max_per_user = max_per_user
        self._sessions: dict[str, UploadSession] = {}
        self._sweeper: PeriodicCallback | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    def check_room(self, owner: Caller) -> None:
        """Raise unless ``owner`` may open one more session now."""
        mine = [s for s in self._sessions.values() if s.owner == owner]
        if len(mine) >= self.max_per_user:
            raise TooManyUploads(
                f"{len(mine)} uploads of this user are open, the most allowed: finish or "
                "cancel one (DELETE), or wait until one expires",
                self._retry_after(mine),
            )
        if len(self._sessions) >= self.max_sessions:
            raise UploadsFull(
                "The server has as many open uploads as it allows; try again later",
                self._retry_after(list(self._sessions.values())),
            )

    def _retry_after(self, sessions: list[UploadSession]) -> int:
        """Seconds until the first of ``sessions`` may expire."""
        first = min(s.deadline for s in sessions) - time.monotonic()
        return max(math.ceil(first), 1)

    def open(
        self, owner: Caller, path: str, upload: Upload, conditions: WriteConditions
    ) -> UploadSession:
        """A new session for ``upload`` (aborted if there is no room for it)."""
        try:
            self.check_room(owner)
        except Exception:
            upload.abort()
            raise
        session = UploadSession(
            secrets.token_urlsafe(24), owner, path, upload, conditions, self._new_deadline()
        )
        self._sessions[session.id] = session
        self._sweep_periodically()
        return session

    def find(self, session_id: str, owner: Caller, path: str) -> UploadSession:
        """The live session ``session_id`` of ``owner`` on ``path``; anything else,
        including another caller's session, is NoSuchUpload (they look the same)."""
        session = self._sessions.get(session_id)
        if session is None or session.owner != owner or session.path != path:
            raise NoSuchUpload("No such upload (unknown, finished, cancelled or expired)")
        if self._expired(session):
            self.abort(session)
            raise NoSuchUpload("No such upload (unknown, finished, cancelled or expired)")
        session.deadline = self._new_deadline()
        return session

    def begin_piece(self, session: UploadSession, offset: int) -> None:
        """Accept a piece at ``offset``: the session's offset, while no other piece
        is arriving (of two at once, one wins)."""
        if session.receiving:
            raise OffsetMismatch(
                "Another piece of this upload is being received; retry once it ended",
                session.offset,
            )
        if offset != session.offset:
            raise OffsetMismatch(
                f"This upload continues at offset {session.offset}, not {offset}",
                session.offset,
            )
        session.receiving = True

    def end_piece(self, session: UploadSession) -> None:
        """The piece's request is over (answered, or its connection gone)."""
        session.receiving = False
        session.deadline = self._new_deadline()

    def finish(self, session: UploadSession) -> None:
        """Take the session out before its upload is committed: it is then over."""
        session.ended = True
        self._sessions.pop(session.id, None)

    def abort(self, session: UploadSession) -> None:
        """End the session and discard everything of its upload."""
        if not session.ended:
            self.finish(session)
            session.upload.abort()

    def sweep(self) -> None:
        """Abort every session that is idle past its deadline."""
        for session in [s for s in self._sessions.values() if self._expired(s)]:
            self.abort(session)

    def close(self) -> None:
        """Abort every session (the server stops)."""
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None
        for session in list(self._sessions.values()):
            self.abort(session)

    def _expired(self, session: UploadSession) -> bool:
        return not session.receiving and time.monotonic() > session.deadline

    def _new_deadline(self) -> float:
        return time.monotonic() + self.idle_timeout

    def _sweep_periodically(self) -> None:
        if self._sweeper is None:
            interval = min(max(self.idle_timeout / 4, 0.1), MAX_SWEEP_INTERVAL)
            self._sweeper = PeriodicCallback(self.sweep, interval * 1000)
            self._sweeper.start()
