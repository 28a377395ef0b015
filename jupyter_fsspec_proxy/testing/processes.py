"""Helpers for tests and benchmarks that run servers as processes on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    """Return once ``port`` accepts connections; fail if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on {port}") from None
            time.sleep(0.05)


def wait_until(condition: Callable[[], object], what: str, timeout: float = 15) -> None:
    """Return once ``condition()`` is true; fail, saying ``what``, after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def unread(port: int, peer: int | None = None) -> list[int]:
    """The bytes waiting, on each TCP connection to 127.0.0.1:``port`` (from ``peer``'s
    port, if given), for the process listening there to read them: what arrived and
    what the sender still holds because it did not make room (Linux: /proc/net/tcp).
    A connection the server has read everything of so far counts 0."""
    local = f"0100007F:{port:04X}"
    waiting: dict[str, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        here, there, state = fields[1], fields[2], fields[3]
        tx_queue, rx_queue = (int(n, 16) for n in fields[4].split(":"))
        if state != "01":  # established only: a listening socket counts its backlog
            continue
        if here == local and (peer is None or there == f"0100007F:{peer:04X}"):
            waiting[there] = waiting.get(there, 0) + rx_queue
        elif there == local and (peer is None or here == f"0100007F:{peer:04X}"):
            waiting[here] = waiting.get(here, 0) + tx_queue
    return list(waiting.values())


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate, and kill what does not stop within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def rss(pid: int) -> int:
    """Resident memory of a process and its children (nginx's workers, say), in bytes."""
    main = psutil.Process(pid)
    total = 0
    for process in (main, *main.children(recursive=True)):
        with suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total


class Peak:
    """Samples ``measure()`` (a size in bytes) every 20 ms in a thread; keeps the peak."""

    def __init__(self, measure: Callable[[], int]) -> None:
        self.measure = measure
        self.baseline = measure()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.measure())

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / 2**20


class PeakRSS(Peak):
    """The peak resident memory of a server (and its children)."""

    def __init__(self, pid: int) -> None:
        super().__init__(lambda: rss(pid))


def folder_bytes(folder: Path) -> int:
    """The bytes of the files below ``folder`` (files vanishing meanwhile count 0)."""
    total = 0
    for path in folder.rglob("*"):
        with suppress(OSError):
            total += path.lstat().st_size
    return total
