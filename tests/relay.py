"""A TCP relay the tests can cut, to break a backend's connections mid-transfer."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


def _reset(sock: socket.socket) -> None:
    """Close with RST, as a dropped network or a crashed peer would (shutdown first
    wakes a thread blocked sending on it)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class Relay:
    """Forwards 127.0.0.1:``port`` to ``target``; ``cut()`` resets every connection
    and refuses new ones until ``restore()``."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.up:
                _reset(client)
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self._lock:
                self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        _reset(sink)

    def cut(self) -> None:
        self.up = False
        with self._lock:
            for sock in self.open:
                _reset(sock)
            self.open.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self.listener.close()
