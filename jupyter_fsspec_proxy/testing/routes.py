"""The proxy's routes as the docs name them: ``routes()``, the one list the server
serves, is what openapi.yaml, docs/http-api.md and the attacks of the tests follow."""

from __future__ import annotations

import re

from tornado.web import RequestHandler

from ..handlers import PREFIX, routes
from ..handlers.base import ProxyHandler

#: the last route, whatever no other route serves: a JSON 404, not a route to name
CATCH_ALL = f"{PREFIX}/.*"


def shape(pattern: str) -> str:
    """A route without its prefix, each captured part ``{}``: ``api/ls/(.+)`` -> ``api/ls/{}``."""
    return re.sub(r"\(.*?\)", "{}", pattern.removeprefix(f"{PREFIX}/"))


def served() -> dict[str, type[RequestHandler]]:
    """Every route's shape and handler (the JupyterLite site's too), the catch-all aside."""
    return {shape(p): handler for p, handler, *_ in routes(lite_dir="lite") if p != CATCH_ALL}


def verbs(handler: type[RequestHandler]) -> list[str]:
    """The HTTP methods ``handler`` implements itself (not the ones it inherits unchanged)."""
    base = ProxyHandler if issubclass(handler, ProxyHandler) else RequestHandler
    return [
        m
        for m in handler.SUPPORTED_METHODS
        if getattr(handler, m.lower()) is not getattr(base, m.lower())
    ]


def route_of(path: str) -> str:
    """The shape of the route that serves ``{PREFIX}/{path}`` (tornado tries them in order)."""
    target = f"{PREFIX}/{path.partition('?')[0]}"
    return next(shape(p) for p, *_ in routes(lite_dir="lite") if re.fullmatch(p, target))
