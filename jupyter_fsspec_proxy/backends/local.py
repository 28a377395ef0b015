"""Local disk through :class:`ConfinedRoot`: no path leads out of the root."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..conditions import WriteConditions
from ..confined import ConfinedRoot, StagedFile
from ..errors import PreconditionFailed
from .base import Backend, InThreads, ThreadedBackend, Upload


class LocalBackend(ThreadedBackend):
    """Handing a small local read to a thread costs about as much as the read itself,
    so metadata calls and reads run directly on the loop; only potentially long
    operations (copies, recursive deletes, listings) go to the source's threads."""

    reads_on_the_loop = True

    @classmethod
    def root_of(cls, fs_class: type, path: str) -> str:
        return os.path.realpath(fs_class._strip_protocol(path))

    def _calls(self) -> InThreads:
        self.local = ConfinedRoot(self.root)
        return InThreads(self.local, self.name, self.timeout)

    def with_root(self, root: str) -> Backend:
        view = super().with_root(root)
        assert isinstance(view, LocalBackend)
        view.local = ConfinedRoot(root)
        view.calls = self.calls.on(view.local)
        return view

    def _now(self, func: Callable[..., Any], *args: Any) -> Any:
        """A quick local call, run on the loop, its errors translated."""
        try:
            return func(*args)
        except Exception as exc:
            raise self.translate(exc) from None

    async def info(self, path: str) -> dict[str, Any]:
        return self._now(self.local.info, path)

    async def exists(self, path: str) -> bool:
        return self._now(self.local.exists, path)

    async def delete(self, path: str, recursive: bool) -> None:
        await self._guard(self.calls.run(self.local.rm, path, recursive=recursive))

    async def copy(self, src: str, dst: str, recursive: bool) -> None:
        await self._guard(self.calls.run(self.local.copy, src, dst, recursive=recursive))

    async def move(self, src: str, dst: str, recursive: bool) -> None:
        await self._guard(self.calls.run(self.local.move, src, dst))

    def _without_staged(self, entries: list[Any], detail: bool) -> list[Any]:
        return entries  # ConfinedRoot.ls never lists them

    async def _open_reader(self, path: str) -> int:
        return self.local.open_read_fd(path)

    async def _read_at(self, fd: int, pos: int, size: int) -> bytes:
        return os.pread(fd, size, pos)

    async def close_reader(self, fd: int) -> None:
        os.close(fd)

    async def open_to_read(
        self, path: str, span: tuple[int, int | None] | None = None
    ) -> tuple[dict[str, Any], int | None]:
        return self._now(self.local.open_with_info, path)

    def start_upload(
        self, target: str, conditions: WriteConditions, size: int | None = None
    ) -> Upload:
        try:
            self.local.check_target(target)
            return LocalUpload(self, target, conditions)
        except Exception as exc:
            raise self.translate(exc) from None

    async def commit_upload(
        self, staged: Any, target: str, conditions: WriteConditions, name: str
    ) -> None:
        """Create-only writes are an atomic link (EEXIST: someone was first); others
        check their condition and rename under the target's lock."""
        async with self.commit_lock(target):
            if conditions.any and not conditions.create_only:
                conditions.verify(await self.meta(target, name))
            await self._guard(self._place(staged, target, conditions), timed=False)

    async def _place(self, staged: StagedFile, target: str, conditions: WriteConditions) -> None:
        with self.local.parent(target, create=True) as (fd, leaf):
            self.local.refuse_link_out(fd, leaf)
            if not conditions.create_only:
                staged.replace(fd, leaf)
                return
            try:
                staged.create(fd, leaf)
            except FileExistsError:
                raise PreconditionFailed("The file already exists") from None


class LocalUpload(Upload):
    """Staged under a hidden name in the deepest existing directory on the way to
    the target, so the commit is a rename on the same disk."""

    def __init__(self, backend: LocalBackend, target: str, conditions: WriteConditions) -> None:
        super().__init__(backend, target, conditions)
        fd = backend.local.nearest_existing_dir(target)
        try:
            self._staged = StagedFile(fd)
        finally:
            os.close(fd)
        self._file = os.fdopen(os.dup(self._staged.fd), "wb")

    def abort(self) -> None:
        self._file.close()
        self._staged.discard()
