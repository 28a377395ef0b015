"""The proxy's routes, relative to ``{base_url}``."""

from .batch import RangesHandler
from .client import ClientWheelHandler, PipliteIndexHandler, SimpleIndexHandler
from .files import FileHandler
from .operations import ExistsHandler, InfoHandler, ListHandler, MkdirHandler, TransferHandler
from .service import (
    ConfigHandler,
    IndexHandler,
    OpenAPIHandler,
    ReloadHandler,
    SourcesHandler,
    XsrfHandler,
)

PREFIX = "fsspec-proxy"
PATH = "(.+)"

routes = [
    (f"{PREFIX}/api", IndexHandler),
    (f"{PREFIX}/api/sources", SourcesHandler),
    (f"{PREFIX}/api/xsrf", XsrfHandler),
    (f"{PREFIX}/api/openapi.json", OpenAPIHandler),
    (f"{PREFIX}/api/reload", ReloadHandler),
    (f"{PREFIX}/api/config", ConfigHandler),
    (f"{PREFIX}/api/ranges", RangesHandler),
    (f"{PREFIX}/api/ls/{PATH}", ListHandler),
    (f"{PREFIX}/api/info/{PATH}", InfoHandler),
    (f"{PREFIX}/api/exists/{PATH}", ExistsHandler),
    (f"{PREFIX}/api/mkdir/{PATH}", MkdirHandler),
    (f"{PREFIX}/api/copy/{PATH}", TransferHandler, {"operation": "copy"}),
    (f"{PREFIX}/api/move/{PATH}", TransferHandler, {"operation": "move"}),
    (f"{PREFIX}/files/{PATH}", FileHandler),
    (f"{PREFIX}/client/all.json", PipliteIndexHandler),
    (f"{PREFIX}/client/simple/", SimpleIndexHandler),
    (f"{PREFIX}/client/simple/([^/]+)/", SimpleIndexHandler),
    (f"{PREFIX}/client/([^/]+\\.whl)", ClientWheelHandler),
]
