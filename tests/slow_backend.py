"""A deliberately slow synchronous filesystem, registered as ``slowmem://``:
``info`` takes ``delay`` seconds, and opening a file ``open_delay``. It records
what it did, for tests that assert order and overlap, not durations."""

import threading
import time

import fsspec
from fsspec.implementations.memory import MemoryFileSystem


class SlowMemoryFileSystem(MemoryFileSystem):
    protocol = "slowmem"
    delay = 2.0
    open_delay = 0.0
    infos_done = 0  # calls to info that have returned
    opening = 0  # opens under way now
    most_opening = 0  # the most opens ever under way at once
    _lock = threading.Lock()

    def info(self, path, **kwargs):
        time.sleep(self.delay)
        try:
            return super().info(path, **kwargs)
        finally:
            type(self).infos_done += 1

    def _open(self, path, mode="rb", **kwargs):
        cls = type(self)
        with cls._lock:
            cls.opening += 1
            cls.most_opening = max(cls.most_opening, cls.opening)
        try:
            time.sleep(self.open_delay)
            return super()._open(path, mode, **kwargs)
        finally:
            with cls._lock:
                cls.opening -= 1


fsspec.register_implementation("slowmem", SlowMemoryFileSystem, clobber=True)
