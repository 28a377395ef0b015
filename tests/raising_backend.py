"""A filesystem that raises, for ``raising://<ExceptionName>/...``, the named
exception from every call: what a backend raises, the client must raise too."""

import builtins

import fsspec
from fsspec.implementations.memory import MemoryFileSystem

RAISED = (
    "FileNotFoundError",
    "PermissionError",
    "FileExistsError",
    "IsADirectoryError",
    "NotADirectoryError",
    "ValueError",
    "TimeoutError",
    "NotImplementedError",
)


class RaisingFileSystem(MemoryFileSystem):
    protocol = "raising"

    def info(self, path, **kwargs):
        name = path.rstrip("/").rpartition("/")[2]
        raise getattr(builtins, name)(f"the backend raised {name}")


fsspec.register_implementation("raising", RaisingFileSystem, clobber=True)
