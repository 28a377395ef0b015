"""A deliberately slow synchronous filesystem, registered as ``slowmem://``."""

import time

import fsspec
from fsspec.implementations.memory import MemoryFileSystem


class SlowMemoryFileSystem(MemoryFileSystem):
    protocol = "slowmem"
    delay = 2.0

    def info(self, path, **kwargs):
        time.sleep(self.delay)
        return super().info(path, **kwargs)


fsspec.register_implementation("slowmem", SlowMemoryFileSystem, clobber=True)
