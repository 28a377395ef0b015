"""fsspec's own conformance suite (``fsspec.tests.abstract``) through the client,
against a standalone proxy, for a local source and a memory source."""

from __future__ import annotations

import posixpath
import uuid

import fsspec
import fsspec.asyn
import pytest
from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)

from jupyter_fsspec_proxy.testing.sources import SERVED_TOKEN

pytestmark = pytest.mark.slow

SUITES = {
    "Copy": AbstractCopyTests,
    "Get": AbstractGetTests,
    "Put": AbstractPutTests,
    "Open": AbstractOpenTests,
    "Pipe": AbstractPipeTests,
}


class ProxyFixtures(AbstractFixtures):
    """The fixtures fsspec's suite asks a filesystem to provide."""

    source = ""

    @pytest.fixture
    def fs(self, served):
        return fsspec.filesystem(
            "proxy", endpoint_url=served.url, token=SERVED_TOKEN, skip_instance_cache=True
        )

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def fs_path(self, fs):
        path = f"{self.source}/{uuid.uuid4().hex}"
        fs.makedirs(path, exist_ok=True)
        yield path
        if fs.exists(path):  # an object store has no folder once it is empty
            fs.rm(path, recursive=True)


for _source in ("Local", "Memory"):
    for _suite, _tests in SUITES.items():
        _name = f"Test{_source}{_suite}"
        globals()[_name] = type(_name, (ProxyFixtures, _tests), {"source": _source})


class AsyncProxyFixtures(ProxyFixtures):
    """The asynchronous filesystem, driven by fsspec's own blocking mirrors of its
    coroutines (``cp`` runs ``_copy``, ...) on fsspec's I/O loop."""

    @pytest.fixture
    def fs(self, served):
        afs = fsspec.filesystem(
            "proxy",
            asynchronous=True,
            endpoint_url=served.url,
            token=SERVED_TOKEN,
            skip_instance_cache=True,
        )
        afs._loop = fsspec.asyn.get_loop()
        # fsspec mirrors only its listed coroutines; the suite's scenarios also touch.
        afs.touch = fsspec.asyn.sync_wrapper(afs._touch, obj=afs)
        return afs


# open() is the blocking filesystem's: the asynchronous one has no file objects.
for _suite in ("Copy", "Get", "Put", "Pipe"):
    _name = f"TestAsyncMemory{_suite}"
    globals()[_name] = type(_name, (AsyncProxyFixtures, SUITES[_suite]), {"source": "Memory"})
