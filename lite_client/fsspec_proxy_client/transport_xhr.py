"""Blocking requests for Pyodide, in a web worker or on a page's main thread.

Where Pyodide can suspend Python on a JavaScript promise (JavaScript Promise
Integration: ``pyodide.ffi.can_run_sync()``, true for code started with
``runPythonAsync`` in current Chromium), a request is the browser's ``fetch``
awaited synchronously, and bytes arrive as an ``ArrayBuffer`` everywhere.
Otherwise it is a synchronous XHR.
"""

from __future__ import annotations

from .messages import Body, Response

UNREACHABLE = "the proxy is unreachable or does not allow this page's origin (CORS)"


def in_worker() -> bool:
    """True in any web worker: decided by the global scope, not by ``document``."""
    import js

    scope = getattr(js, "WorkerGlobalScope", None)
    return scope is not None and bool(js.eval("self instanceof WorkerGlobalScope"))


def can_suspend() -> bool:
    """True where this call may wait for a promise (JSPI); checked per request,
    since the same code may be called from a context that cannot."""
    from pyodide import ffi

    return bool(getattr(ffi, "can_run_sync", lambda: False)())


class XHRTransport:
    """``fetch`` where Python can suspend, else synchronous XHR. Workers get an
    ``arraybuffer`` from XHR; a main thread cannot set ``responseType`` on a
    synchronous request, so there the body arrives as x-user-defined text whose
    characters carry one byte each in their low eight bits."""

    def __init__(self) -> None:
        self.worker = in_worker()

    def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: Body = None
    ) -> Response:
        if can_suspend():
            return fetch_now(method, url, headers, body)
        return self.xhr(method, url, headers, body)

    def xhr(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: Body = None
    ) -> Response:
        from pyodide.ffi import JsException

        xhr = open_request(method, url, headers, asynchronous=False)
        if self.worker:
            xhr.responseType = "arraybuffer"
        else:
            xhr.overrideMimeType("text/plain; charset=x-user-defined")
        try:
            send(xhr, body)
        except JsException as exc:
            raise ConnectionError(f"{method} {url} failed ({UNREACHABLE}): {exc}") from None
        content = array_body(xhr) if self.worker else decode_user_defined(xhr.responseText)
        return response(xhr, content)


def fetch_now(method: str, url: str, headers: dict[str, str] | None, body: Body) -> Response:
    """The browser's ``fetch``, its answer awaited without returning to the event loop."""
    import js
    from pyodide.ffi import JsException, run_sync, to_js

    options: dict = {"method": method, "headers": headers or {}}
    if body is not None:
        options["body"] = js_bytes(body)
    try:
        answer = run_sync(js.fetch(url, to_js(options, dict_converter=js.Object.fromEntries)))
        content = run_sync(answer.arrayBuffer()).to_bytes()
    except JsException as exc:
        raise ConnectionError(f"{method} {url} failed ({UNREACHABLE}): {exc}") from None
    return Response(answer.status, content, {name: value for name, value in answer.headers})


def open_request(method: str, url: str, headers: dict[str, str] | None, asynchronous: bool):
    from js import XMLHttpRequest

    xhr = XMLHttpRequest.new()
    xhr.open(method, url, asynchronous)
    for name, value in (headers or {}).items():
        xhr.setRequestHeader(name, value)
    return xhr


def send(xhr, body: Body) -> None:
    if body is None:
        xhr.send()
    else:
        xhr.send(js_bytes(body))


def js_bytes(body: Body):
    """An upload body, read whole, as a JavaScript ``Uint8Array``."""
    from pyodide.ffi import to_js

    return to_js(memoryview(body if isinstance(body, bytes) else body.read()))


def array_body(xhr) -> bytes:
    return bytes(xhr.response.to_py()) if xhr.response else b""


def response(xhr, content: bytes) -> Response:
    return Response(xhr.status, content, parse_headers(xhr.getAllResponseHeaders()))


def decode_user_defined(text: str) -> bytes:
    """Bytes from x-user-defined text: the low byte of each UTF-16 code unit."""
    return text.encode("utf-16-le")[::2]


def parse_headers(raw: str) -> dict[str, str]:
    headers = {}
    for line in raw.strip().split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers
