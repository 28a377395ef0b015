"""Local files confined to a root directory, without check-then-use races.

Every operation opens what it acts on and then checks where the opened file
really is (``/proc/self/fd``), so swapping a directory for a symlink between a
check and a use cannot lead outside the root. Changes happen relative to an
open parent directory (``unlinkat``, ``renameat``, ``mkdirat``), so deleting or
moving a symlink acts on the link itself and never on its target. Symlinks
that stay inside the root work as usual; one that leads out is never followed:
reading it is refused, a listing shows it as ``other`` with no detail of its
target, and a recursive copy that meets one is refused before it starts.

Paths are the backend's absolute paths (the root joined with a relative path).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from typing import Any, BinaryIO

STAGED_PREFIX = ".fsspec-proxy-upload-"
_PATH = os.O_PATH | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC  # for scandir
_COPY_BLOCK = 1 << 20


def is_staged(name: str) -> bool:
    """True for an upload or copy still being written (hidden from listings)."""
    return name.rstrip("/").rpartition("/")[2].startswith(STAGED_PREFIX)


class ConfinedRoot:
    """fsspec-like operations on one local directory tree."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self.prefix = self.root.rstrip("/") + "/"

    # -- confinement ----------------------------------------------------------

    def relative(self, path: str) -> str:
        if path.rstrip("/") == self.root:
            return ""
        if not path.startswith(self.prefix):
            raise PermissionError("Path leads outside the source root")
        return path[len(self.prefix) :].rstrip("/")

    def _inside(self, fd: int) -> bool:
        real = os.readlink(f"/proc/self/fd/{fd}")
        return real == self.root or real.startswith(self.prefix)

    def _checked(self, fd: int) -> int:
        if not self._inside(fd):
            os.close(fd)
            raise PermissionError("Path leads outside the source root")
        return fd

    def open_fd(self, path: str, flags: int = _PATH) -> int:
        """Open ``path`` (following symlinks) and return the descriptor, once it is
        known to be inside the root. A missing path below a link that leads out
        is refused as well, so that no answer reveals what exists outside."""
        try:
            return self._checked(os.open(path, flags | os.O_CLOEXEC))
        except (FileNotFoundError, NotADirectoryError):
            self._check_nearest_existing(path)
            raise

    def _check_nearest_existing(self, path: str) -> None:
        parent = path.rstrip("/")
        while len(parent) >= len(self.root):
            try:
                fd = os.open(parent, _PATH)
            except OSError:
                parent = os.path.dirname(parent)
                continue
            os.close(self._checked(fd))
            return

    @contextlib.contextmanager
    def fd(self, path: str, flags: int = _PATH) -> Iterator[int]:
        fd = self.open_fd(path, flags)
        try:
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def parent(self, path: str, create: bool = False) -> Iterator[tuple[int, str]]:
        """The open parent directory of ``path`` and the last segment's name."""
        relpath = self.relative(path)
        if not relpath:
            raise PermissionError("The source root itself cannot be changed")
        head, _, leaf = relpath.rpartition("/")
        fd = self.makedirs_fd(head) if create else self.open_fd(self._join(head), _PATH)
        try:
            yield fd, leaf
        finally:
            os.close(fd)

    def makedirs_fd(self, relpath: str) -> int:
        """Create the directories of ``relpath`` one by one, each inside the root,
        and return the last one open."""
        return self._descend(relpath.split("/") if relpath else [], create=True)

    def nearest_existing_dir(self, path: str) -> int:
        """The deepest existing directory on the way to ``path``, open; refuses a
        file in the way, so an upload below a file fails before its body is read."""
        relpath = self.relative(path)
        return self._descend(relpath.split("/")[:-1] if relpath else [], create=False)

    def _descend(self, segments: list[str], create: bool) -> int:
        """From the root (made if missing: a per-user root on its first write), open
        each directory of ``segments`` in turn, checked to be inside the root; make
        the missing ones with ``create``, else stop at the first missing one."""
        os.makedirs(self.root, exist_ok=True)
        fd = os.open(self.root, _PATH | os.O_DIRECTORY)
        try:
            for segment in segments:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(segment, dir_fd=fd)
                try:
                    child = os.open(segment, _PATH | os.O_DIRECTORY, dir_fd=fd)
                except FileNotFoundError:
                    if create:
                        raise
                    break
                except NotADirectoryError:
                    raise NotADirectoryError(f"{segment!r} is a file, not a directory") from None
                os.close(fd)
                fd = -1
                fd = self._checked(child)
            return fd
        except BaseException:
            if fd >= 0:
                os.close(fd)
            raise

    def refuse_link_out(self, dir_fd: int, leaf: str) -> None:
        """Refuse to replace ``leaf`` if it is a symlink that leads outside the root:
        writing there would look like writing through the link."""
        try:
            mode = os.stat(leaf, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISLNK(mode) and self._info_of_link(dir_fd, leaf, leaf)["type"] == "other":
            raise PermissionError("Path leads outside the source root")

    def check_target(self, path: str) -> None:
        """Fail early, before a body is read, for a write to ``path`` that the commit
        would refuse: a symlink out of the root (:meth:`refuse_link_out`) or a folder."""
        with (
            contextlib.suppress(FileNotFoundError, NotADirectoryError),
            self.parent(path) as (
                fd,
                leaf,
            ),
        ):
            self.refuse_link_out(fd, leaf)
            if stat.S_ISDIR(os.stat(leaf, dir_fd=fd, follow_symlinks=False).st_mode):
                raise IsADirectoryError(f"{leaf!r} is a folder, not a file")

    def _join(self, relpath: str) -> str:
        return self.prefix + relpath if relpath else self.root

    # -- metadata ---------------------------------------------------------------

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """Metadata of what ``path`` opens; a symlink out of the root is described as
        itself (``other``), like :meth:`ls` shows it."""
        try:
            with self.fd(path) as fd:
                return _info_of(path, os.fstat(fd))
        except PermissionError:
            with self.parent(path) as (fd, leaf):
                if not stat.S_ISLNK(os.stat(leaf, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise
                return self._info_of_link(fd, leaf, path)

    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.info(path)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return False
        return True

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """One ``scandir`` pass; a symlink is described by its target only when the
        target is inside the root."""
        base = path.rstrip("/")
        with self.fd(path, os.O_RDONLY | os.O_NONBLOCK) as fd:
            st = os.fstat(fd)
            if not stat.S_ISDIR(st.st_mode):  # like fsspec: a file lists as itself
                return [_info_of(base, st) if detail else base]
            entries = []
            prefix = base + "/"
            for entry in os.scandir(fd):
                name = entry.name
                if name.startswith(STAGED_PREFIX):
                    continue
                if not detail:
                    entries.append(prefix + name)
                elif entry.is_symlink():
                    entries.append(self._info_of_link(fd, name, prefix + name))
                else:
                    entries.append(_info_of(prefix + name, entry.stat(follow_symlinks=False)))
        entries.sort(key=lambda e: e["name"] if detail else e)
        return entries

    def _info_of_link(self, dir_fd: int, name: str, full: str) -> dict[str, Any]:
        try:
            target = os.open(name, _PATH, dir_fd=dir_fd)
        except OSError:  # dangling
            target = None
        if target is not None:
            try:
                if self._inside(target):
                    return _info_of(full, os.fstat(target))
            finally:
                os.close(target)
        link = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return {"name": full, "type": "other", "size": 0, "mtime": link.st_mtime}

    # -- reads ------------------------------------------------------------------

    def open_with_info(self, path: str) -> tuple[dict[str, Any], int | None]:
        """What :meth:`info` says of ``path`` and, for a regular file, a descriptor
        open for reading: one open and one ``fstat`` for a GET."""
        try:
            fd = self.open_fd(path, os.O_RDONLY | os.O_NONBLOCK)
        except PermissionError:  # a link that leads out, or an unreadable file
            return self.info(path), None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return _info_of(path, st), None
        return _info_of(path, st), fd

    def open_read_fd(self, path: str) -> int:
        """A regular file's descriptor, open for reading. ``O_NONBLOCK`` keeps a FIFO
        from blocking."""
        fd = self.open_fd(path, os.O_RDONLY | os.O_NONBLOCK)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            if stat.S_ISDIR(mode):
                raise IsADirectoryError("Is a directory")
            raise PermissionError("Not a regular file")
        return fd

    def open_read(self, path: str) -> BinaryIO:
        return os.fdopen(self.open_read_fd(path), "rb")

    # -- changes ----------------------------------------------------------------

    def makedirs(self, path: str, exist_ok: bool = True, **kwargs: Any) -> None:
        relpath = self.relative(path)
        if not exist_ok and self.exists(path):
            raise FileExistsError(f"{relpath!r} exists")
        os.close(self.makedirs_fd(relpath))

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        if create_parents:
            self.makedirs(path)
            return
        with self.parent(path) as (fd, leaf):
            os.mkdir(leaf, dir_fd=fd)

    def rm(self, path: str, recursive: bool = False, **kwargs: Any) -> None:
        """Delete a file, a symlink (never its target) or, with ``recursive``, a tree."""
        with self.parent(path) as (fd, leaf):
            mode = os.stat(leaf, dir_fd=fd, follow_symlinks=False).st_mode
            if not stat.S_ISDIR(mode):
                os.unlink(leaf, dir_fd=fd)
            elif not recursive:
                raise IsADirectoryError("Is a directory: pass recursive=true to delete it")
            else:
                _remove_tree(fd, leaf)

    def move(self, src: str, dst: str) -> None:
        """Rename within the root; into ``dst`` when it is an existing directory.
        A symlink moves as a link."""
        dst = self._into_existing_dir(src, dst)
        with self.parent(src) as (src_fd, src_leaf), self.parent(dst, True) as (dst_fd, leaf):
            self.refuse_link_out(dst_fd, leaf)
            try:
                os.rename(src_leaf, leaf, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            except OSError as exc:
                if exc.errno == errno.EINVAL:
                    raise ValueError("Cannot move a directory into itself") from None
                raise

    def copy(self, src: str, dst: str, recursive: bool = False) -> None:
        """Copy a file, or with ``recursive`` a tree; into ``dst`` when it is an
        existing directory. Every file is written whole under a staged name first,
        and a tree with a symlink that leads out of the root is refused as a whole."""
        dst = self._into_existing_dir(src, dst)
        with self.fd(src) as fd:
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        if is_dir and not recursive:
            raise IsADirectoryError("Is a directory: pass recursive=true to copy it")
        if not is_dir:
            self._copy_file(src, dst)
            return
        plan = self._tree(src)
        self.makedirs(dst)
        for relpath, kind in plan:
            if kind == "directory":
                self.makedirs(f"{dst}/{relpath}")
            else:
                self._copy_file(f"{src}/{relpath}", f"{dst}/{relpath}")

    def _into_existing_dir(self, src: str, dst: str) -> str:
        with contextlib.suppress(OSError), self.fd(dst) as fd:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                return f"{dst.rstrip('/')}/{src.rstrip('/').rpartition('/')[2]}"
        return dst

    def _tree(self, top: str) -> list[tuple[str, str]]:
        """Every entry below ``top`` as (relative path, "file" or "directory"), parents
        first; refused as a whole if any symlink below leads outside the root."""
        found: list[tuple[str, str]] = []
        stack = [""]
        while stack:
            current = stack.pop()
            for entry in self.ls(f"{top}/{current}".rstrip("/")):
                name = entry["name"].rpartition("/")[2]
                rel = f"{current}/{name}" if current else name
                if entry["type"] == "other":
                    raise PermissionError(f"{rel!r} leads outside the source root")
                found.append((rel, entry["type"]))
                if entry["type"] == "directory":
                    stack.append(rel)
        return sorted(found)

    def _copy_file(self, src: str, dst: str) -> None:
        with self.open_read(src) as source, self.parent(dst, True) as (fd, leaf):
            self.refuse_link_out(fd, leaf)
            staged = StagedFile(fd)
            try:
                with staged.file() as out:
                    while block := source.read(_COPY_BLOCK):
                        out.write(block)
                staged.replace(fd, leaf)
            finally:
                staged.discard()


class StagedFile:
    """A file written under a hidden name in an open directory, then renamed (or,
    for create-only writes, linked) into place in one step."""

    def __init__(self, dir_fd: int) -> None:
        self.dir_fd = os.dup(dir_fd)
        self.name = STAGED_PREFIX + secrets.token_hex(8)
        # 0o666 less the umask: the mode of any other new file, not a temp file's 0o600.
        self.fd = os.open(
            self.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666, dir_fd=dir_fd
        )

    @contextlib.contextmanager
    def file(self) -> Iterator[BinaryIO]:
        with os.fdopen(self.fd, "wb", closefd=False) as out:
            yield out

    def replace(self, dir_fd: int, leaf: str) -> None:
        """Put the staged file at ``leaf``, replacing what is there (a symlink there is
        replaced, not followed)."""
        os.rename(self.name, leaf, src_dir_fd=self.dir_fd, dst_dir_fd=dir_fd)
        self.name = ""

    def create(self, dir_fd: int, leaf: str) -> None:
        """Put the staged file at ``leaf`` only if nothing is there (atomic)."""
        try:
            os.link(self.name, leaf, src_dir_fd=self.dir_fd, dst_dir_fd=dir_fd,
                    follow_symlinks=False)  # fmt: skip
        except FileExistsError:
            raise FileExistsError("The file already exists") from None
        os.unlink(self.name, dir_fd=self.dir_fd)
        self.name = ""

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        if self.name:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.name, dir_fd=self.dir_fd)
            self.name = ""
        with contextlib.suppress(OSError):
            os.close(self.dir_fd)
        self.dir_fd = -1


def _info_of(name: str, st: os.stat_result) -> dict[str, Any]:
    if stat.S_ISDIR(st.st_mode):
        kind = "directory"
    elif stat.S_ISREG(st.st_mode):
        kind = "file"
    else:
        kind = "other"
    size = st.st_size if kind == "file" else 0
    return {"name": name, "type": kind, "size": size, "mtime": st.st_mtime}


def _remove_tree(parent_fd: int, name: str) -> None:
    """``rm -r`` relative to an open directory, never following a symlink."""
    fd = os.open(name, _DIR | os.O_NOFOLLOW, dir_fd=parent_fd)
    try:
        for entry in list(os.scandir(fd)):
            if entry.is_dir(follow_symlinks=False):
                _remove_tree(fd, entry.name)
            else:
                os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)
