"""Signed URLs: ``POST api/sign/<source>/<path>`` makes one, ``signed/<token>[/<name>]``
serves the file to anyone who has it, exactly as ``files/`` does, until it expires."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.utils import url_path_join
from tornado.web import HTTPError

from ..access import Caller
from ..errors import NoSuchSource, SignedUrlRefused
from ..signing import Grant, KnowsSigners
from ..sources import SourcePath
from .base import ProxyHandler
from .files import FileHandler


class SignHandler(ProxyHandler):
    """``POST api/sign/<source>/<path>`` with an optional ``{"expires": seconds}``:
    ``{"url", "expires"}``, a URL that reads the file without a login."""

    body_action = "read"

    @authorized("read")
    async def post(self, path: str) -> None:
        seconds = self._expiry(self.json_body())
        target = self.locate(path)
        if target.is_root:
            raise HTTPError(400, "Cannot sign a source root: sign a file")
        info = await target.backend.info(target.full)
        if info.get("type") == "directory":
            raise IsADirectoryError(f"{target.name!r} is a directory: sign a file")
        if info.get("type") == "other":
            raise PermissionError(f"{target.name!r} is not a regular file")
        token, expires = self.manager.signer.sign(target.name, self.caller, seconds)
        filename = quote(target.relpath.rpartition("/")[2])
        url = url_path_join(self.base_url, "fsspec-proxy", "signed", token, filename)
        self.write_json({"url": url, "expires": expires})

    def _expiry(self, body: dict[str, Any]) -> float:
        """The seconds asked for, within ``max_signed_url_expiry``."""
        seconds = body.get("expires", self.manager.signed_url_expiry)
        longest = self.manager.max_signed_url_expiry
        number = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
        if not number or not 0 < seconds <= longest:
            raise HTTPError(400, "'expires' must be seconds above 0, at most %g", longest)
        return seconds


class SignedFileHandler(FileHandler):
    """``GET``/``HEAD signed/<token>[/<file name>]``: public; the token says which file,
    and whose rules apply (the signer's, as they are now: under JupyterHub, with the
    signer as the hub knows them now). The name only decorates the URL, for browsers
    and tools that look at its end."""

    SUPPORTED_METHODS = ("GET", "HEAD", "OPTIONS")
    public = True
    grant: Grant | None = None

    @allow_unauthenticated
    async def get(self, token: str, name: str = "") -> None:
        await self._send_signed(token, include_body=True)

    @allow_unauthenticated
    async def head(self, token: str, name: str = "") -> None:
        await self._send_signed(token, include_body=False)

    async def _send_signed(self, token: str, include_body: bool) -> None:
        grant = self.manager.signer.verify(token)
        if isinstance(self.identity_provider, KnowsSigners):
            signer = await self.identity_provider.signer_now(grant.signer)
            grant = replace(grant, signer=signer)
        self.grant = grant
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
        return None if self.grant is None else self.grant.signer.name

    @property
    def named_in_url(self) -> list[str]:
        return []  # a token, not a path: a refused one is not worth recording

    def locate(self, path: str, *, write: bool = False) -> SourcePath:
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
