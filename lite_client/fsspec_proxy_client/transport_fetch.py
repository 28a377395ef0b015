"""``fetch`` for Pyodide's asynchronous filesystem: the page never blocks."""

from __future__ import annotations

from .transport import Body, Response


class FetchTransport:
    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, body: Body = None
    ) -> Response:
        from pyodide.ffi import to_js
        from pyodide.http import pyfetch

        options: dict = {"method": method, "headers": headers or {}}
        if body is not None:
            data = body if isinstance(body, bytes) else body.read()
            options["body"] = to_js(memoryview(data))
        response = await pyfetch(url, **options)
        content = await response.bytes()
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Response(response.status, content, headers)
