"""Every route of the proxy, relative to ``{base_url}``, in one list."""

from __future__ import annotations

from typing import Any

from .batch import RangesHandler
from .client import ClientWheelHandler, PipliteIndexHandler, SimpleIndexHandler
from .files import FileHandler
from .login import LoginHandler
from .operations import ExistsHandler, InfoHandler, ListHandler, MkdirHandler, TransferHandler
from .service import (
    ConfigHandler,
    IndexHandler,
    NotFoundHandler,
    OpenAPIHandler,
    ReloadHandler,
    SourcesHandler,
    XsrfHandler,
)
from .signed import SignedFileHandler, SignHandler
from .site import AppFileHandler, SiteHandler
from .uploads import UploadSessionHandler
from .webapp import WEBAPP, AppConfigHandler, AppHandler

PREFIX = "fsspec-proxy"
PATH = "(.+)"


def routes(lite_dir: str = "") -> list[tuple[Any, ...]]:
    """The proxy's routes; the JupyterLite site at ``lite/`` when ``lite_dir`` is set."""
    lite = [
        (f"{PREFIX}/lite/(.*)", SiteHandler, {"path": lite_dir, "default_filename": "index.html"})
    ]
    return [  # none overlaps but the last: the busiest first, as tornado tries them in order
        (f"{PREFIX}/files/{PATH}", FileHandler),
        (f"{PREFIX}/api/ranges", RangesHandler),
        (f"{PREFIX}/api/ls/{PATH}", ListHandler),
        (f"{PREFIX}/api/info/{PATH}", InfoHandler),
        (f"{PREFIX}/api", IndexHandler),
        (f"{PREFIX}/api/sources", SourcesHandler),
        (f"{PREFIX}/api/xsrf", XsrfHandler),
        (f"{PREFIX}/api/openapi.json", OpenAPIHandler),
        (f"{PREFIX}/api/reload", ReloadHandler),
        (f"{PREFIX}/api/config", ConfigHandler),
        (f"{PREFIX}/api/exists/{PATH}", ExistsHandler),
        (f"{PREFIX}/api/mkdir/{PATH}", MkdirHandler),
        (f"{PREFIX}/api/copy/{PATH}", TransferHandler, {"operation": "copy"}),
        (f"{PREFIX}/api/move/{PATH}", TransferHandler, {"operation": "move"}),
        (f"{PREFIX}/api/uploads/{PATH}", UploadSessionHandler),
        (f"{PREFIX}/api/sign/{PATH}", SignHandler),
        (f"{PREFIX}/signed/([^/]+)", SignedFileHandler),
        (f"{PREFIX}/signed/([^/]+)/([^/]+)", SignedFileHandler),  # with the file's name
        (f"{PREFIX}/client/all.json", PipliteIndexHandler),
        (f"{PREFIX}/client/simple/", SimpleIndexHandler),
        (f"{PREFIX}/client/simple/([^/]+)/", SimpleIndexHandler),
        (f"{PREFIX}/client/([^/]+\\.whl)", ClientWheelHandler),
        *(lite if lite_dir else []),
        (f"{PREFIX}/login", LoginHandler),
        (f"{PREFIX}/app/", AppHandler),
        (f"{PREFIX}/app/config.json", AppConfigHandler),
        (f"{PREFIX}/app/(.+)", AppFileHandler, {"path": str(WEBAPP)}),
        (f"{PREFIX}/.*", NotFoundHandler),  # last: the rest
    ]
