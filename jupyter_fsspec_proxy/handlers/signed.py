"""Signed URLs: ``POST api/sign/<source>/<path>`` makes one, ``signed/<token>[/<name>]``
serves the file to anyone who has it, exactly as ``files/`` does, until it expires."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.utils import url_path_join
from tornado.web import HTTPError

from ..access import Caller
from ..errors import NoSuchSource, SignedUrlRefused
from ..signing import Grant
from ..sources import Source
from .base import ProxyHandler
from .files import FileHandler


class SignHandler(ProxyHandler):
    """``POST api/sign/<source>/<path>`` with an optional ``{"expires": seconds}``:
    ``{"url", "expires"}``, a URL that reads the file without a login."""

    body_action = "read"

    @authorized("read")
    async def post(self, path: str) -> None:
        seconds = self._expiry(self.json_body())
        source, relpath, full = self.locate(path)
        if not relpath:
            raise HTTPError(400, "Cannot sign a source root: sign a file")
        name = f"{source.name}/{relpath}"
        info = await source.backend.call("info", full)
        if info.get("type") == "directory":
            raise HTTPError(400, "%r is a directory: sign a file", name)
        if info.get("type") == "other":
            raise HTTPError(403, "%r is not a regular file", name)
        token, expires = self.manager.signer.sign(name, self.caller, seconds)
        filename = quote(relpath.rpartition("/")[2])
        url = url_path_join(self.base_url, "fsspec-proxy", "signed", token, filename)
        self.write_json({"url": url, "expires": expires})

    def _expiry(self, body: dict[str, Any]) -> float:
        """The seconds asked for, within ``max_signed_url_expiry``."""
        settings = self.manager.settings
        seconds = body.get("expires", settings.signed_url_expiry)
        longest = settings.max_signed_url_expiry
        number = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
        if not number or not 0 < seconds <= longest:
            raise HTTPError(400, "'expires' must be seconds above 0, at most %g", longest)
        return seconds


class SignedFileHandler(FileHandler):
    """``GET``/``HEAD signed/<token>[/<file name>]``: public; the token says which file,
    and whose rules apply (the signer's, as they are now)."""

    SUPPORTED_METHODS = ("GET", "HEAD", "OPTIONS")
    public = True
    grant: Grant | None = None

    @allow_unauthenticated
    async def get(self, token: str) -> None:
        await self._send_signed(token, include_body=True)

    @allow_unauthenticated
    async def head(self, token: str) -> None:
        await self._send_signed(token, include_body=False)

    async def _send_signed(self, token: str, include_body: bool) -> None:
        self.grant = self.manager.signer.verify(token)
        name = self.grant.path.rpartition("/")[2]
        self.set_header("Content-Disposition", attachment(name))
        await self._send(self.grant.path, include_body)

    @property
    def caller(self) -> Caller:
        if self.grant is None:
            raise SignedUrlRefused("No signed URL was verified")
        return self.grant.signer

    @property
    def audited_user(self) -> str | None:
        return self.caller.name

    def locate(self, path: str, *, write: bool = False) -> tuple[Source, str, str]:
        """As for the signer now: a source they may no longer read, or one that is
        gone, refuses the URL (rather than answering 404 as for a missing file)."""
        try:
            return super().locate(path, write=write)
        except NoSuchSource:
            raise SignedUrlRefused(
                "The signer of this URL may no longer read this file (or its source is gone)"
            ) from None


def attachment(name: str) -> str:
    """A Content-Disposition that downloads as ``name`` (RFC 6266: an ASCII fallback,
    then the exact name in UTF-8)."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
