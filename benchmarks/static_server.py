"""The baseline: plain tornado serving one directory.

GET and HEAD through ``StaticFileHandler``; PUT streamed to the file; and
``/_list/<dir>``, the directory's entries with their sizes as JSON.
"""

import asyncio
import json
import os
import sys

from tornado.web import Application, RequestHandler, StaticFileHandler, stream_request_body


@stream_request_body
class FileHandler(StaticFileHandler):
    def prepare(self) -> None:
        if self.request.method == "PUT":
            self.request.connection.set_max_body_size(1 << 40)
            target = os.path.join(self.root, self.path_args[0])
            self.upload = open(target, "wb")  # noqa: SIM115 (closed in put)

    def data_received(self, chunk: bytes) -> None:
        self.upload.write(chunk)

    def put(self, path: str) -> None:
        self.upload.close()
        self.set_status(201)


class ListHandler(RequestHandler):
    def initialize(self, root: str) -> None:
        self.root = root

    def get(self, path: str) -> None:
        with os.scandir(os.path.join(self.root, path)) as entries:
            listing = [{"name": e.name, "size": e.stat().st_size, "type": "file"} for e in entries]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(listing))


async def main(root: str, port: int) -> None:
    Application(
        [
            (r"/_list/(.*)", ListHandler, {"root": root}),
            (r"/(.*)", FileHandler, {"path": root}),
        ]
    ).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
