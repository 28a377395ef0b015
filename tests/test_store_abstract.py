"""fsspec's own conformance suite (``fsspec.tests.abstract``) through the client, on
every writable store besides local and memory (tests/test_fsspec_abstract.py).

The suites whose outcome depends on the store: copies and moves on the server, files
opened for reading and writing, pipes. Get and Put move bytes between the client's
disk and a GET or PUT, the same on every store, so local and memory run them. One
proxy per store for this module; each test works in a fresh folder of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from test_fsspec_abstract import SUITES, ProxyFixtures

from jupyter_fsspec_proxy.testing.stores import Served, make_store, serving

pytestmark = pytest.mark.stores

STORES = ("S3", "GCS", "Azure", "SFTP", "WebDAV")
OBJECT_STORES = ("S3", "GCS", "Azure")


@pytest.fixture(scope="module")
def proxies(request, tmp_path_factory) -> Iterator[dict[str, Served]]:
    """Each store's proxy, started when a test first asks for it."""

    class Lazy(dict):
        def __missing__(self, name: str) -> Served:
            store = make_store(name, request)
            if store.own is not None:
                fs, root = store.behind_the_back()
                fs.makedirs(f"{root}/w", exist_ok=True)
            home = tmp_path_factory.mktemp(f"abstract-{name.lower()}")
            self[name] = stack.enter_context(serving(store, home, [store.source("W", "w")]))
            return self[name]

    with ExitStack() as stack:
        yield Lazy()


class StoreFixtures(ProxyFixtures):
    """fsspec's fixtures on source ``W`` of one store's proxy."""

    store = ""
    source = "W"

    @pytest.fixture
    def fs(self, proxies):
        return proxies[self.store].fs

    @pytest.fixture
    def supports_empty_directories(self):
        return self.store not in OBJECT_STORES  # their folders are implied by their files


for _store in STORES:
    for _suite in ("Copy", "Open", "Pipe"):
        _tests = SUITES[_suite]
        _name = f"Test{_store}{_suite}"
        globals()[_name] = type(_name, (StoreFixtures, _tests), {"store": _store})
