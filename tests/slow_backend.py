"""A deliberately slow synchronous filesystem, registered as ``slowmem://``:
``info`` takes ``delay`` seconds, and opening a file ``open_delay``."""

import time

import fsspec
from fsspec.implementations.memory import MemoryFileSystem


class SlowMemoryFileSystem(MemoryFileSystem):
    protocol = "slowmem"
    delay = 2.0
    open_delay = 0.0

    def info(self, path, **kwargs):
        time.sleep(self.delay)
        return super().info(path, **kwargs)

    def _open(self, path, mode="rb", **kwargs):
        time.sleep(self.open_delay)
        return super()._open(path, mode, **kwargs)


fsspec.register_implementation("slowmem", SlowMemoryFileSystem, clobber=True)
