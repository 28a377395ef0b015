"""The baseline: a plain tornado StaticFileHandler serving one directory."""

import asyncio
import sys

from tornado.web import Application, StaticFileHandler


async def main(root: str, port: int) -> None:
    Application([(r"/(.*)", StaticFileHandler, {"path": root})]).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
