"""Asynchronous XHR for Pyodide's asynchronous filesystem: the page never blocks,
and uploads report their progress as the browser sends them."""

from __future__ import annotations

import asyncio

from .messages import Body, ProgressReader, Response
from .transport_xhr import UNREACHABLE, array_body, open_request, response, send


def unreachable(method: str, url: str) -> ConnectionError:
    return ConnectionError(f"{method} {url} failed ({UNREACHABLE})")


class AsyncXHRTransport:
    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: Body = None
    ) -> Response:
        from pyodide.ffi import create_proxy

        xhr = open_request(method, url, headers, asynchronous=True)
        xhr.responseType = "arraybuffer"
        done = asyncio.get_running_loop().create_future()
        handlers = [
            create_proxy(lambda _: done.done() or done.set_result(None)),
            create_proxy(lambda _: done.done() or done.set_exception(unreachable(method, url))),
        ]
        xhr.onload, xhr.onerror = handlers
        if isinstance(body, ProgressReader):  # progress as sent, not as read from memory
            callback = body.callback
            handlers.append(create_proxy(lambda event: callback.absolute_update(event.loaded)))
            xhr.upload.onprogress = handlers[-1]
            body = body.source
        try:
            send(xhr, body)
            await done
        finally:
            for handler in handlers:
                handler.destroy()
        return response(xhr, array_body(xhr))
