# Runs inside Pyodide: write, read, ranges, ls, rm through fsspec-proxy-client.
import asyncio
import json
import time

import fsspec
import js
from fsspec.callbacks import Callback
from fsspec_proxy_client.transport_xhr import in_worker
from pyodide.ffi import can_run_sync, create_once_callable

settings = json.loads(settings_json)  # noqa: F821 - set by the harness
fs = fsspec.filesystem("proxy", skip_instance_cache=True, **settings["kwargs"])
folder = f"Scratch/{settings['folder']}"
data = bytes(range(256)) * 4096  # 1 MiB, every byte value

fs.pipe_file(f"{folder}/data.bin", data)
with fsspec.open(f"proxy://{folder}/note.txt", "w", **settings["kwargs"]) as f:
    f.write("written from pyodide")
report = {
    "worker": in_worker(),
    "transport": type(fs.transport).__name__,
    "url": fs.endpoint_url,
    "whole": fs.cat_file(f"{folder}/data.bin") == data,
    "range": list(fs.cat_file(f"{folder}/data.bin", start=1000, end=1010)),
    "ranges": fs.cat_ranges([f"{folder}/data.bin"] * 2, [0, 300], [3, 303]) == [b"\0\1\2", b",-."],
    "text": fs.cat(f"{folder}/note.txt").decode(),
    "listing": sorted(fs.ls(folder, detail=False)),
}


def timed_read() -> dict:
    start = time.perf_counter()
    whole = fs.cat_file(f"{folder}/data.bin") == data
    part = fs.cat_file(f"{folder}/data.bin", start=1000, end=1010) == data[1000:1010]
    return {"suspends": can_run_sync(), "mib_seconds": time.perf_counter() - start,
            "whole": whole and part}  # fmt: skip


# Code run with runPythonAsync may suspend (JSPI): the client uses fetch. Called
# back from JavaScript, it cannot: the client falls back to synchronous XHR.
report["fetch"] = timed_read()
report["xhr"] = json.loads(js.Function.new("f", "return f()")(create_once_callable(
    lambda: json.dumps(timed_read()))))  # fmt: skip

# The non-blocking path: fetch, so the page keeps running during the request.
afs = fsspec.filesystem("proxy", asynchronous=True, skip_instance_cache=True, **settings["kwargs"])
pending = asyncio.ensure_future(afs._cat_file(f"{folder}/data.bin"))
await asyncio.sleep(0)  # noqa: F704 - the harness runs this with top-level await
report["async_pending"] = not pending.done()
report["async_whole"] = (await pending) == data  # noqa: F704
report["async_transport"] = type(afs.transport).__name__
await afs._pipe_file(f"{folder}/async.txt", b"async")  # noqa: F704
report["async_ls"] = sorted(await afs._ls(folder, detail=False))  # noqa: F704
await afs._rm(f"{folder}/async.txt")  # noqa: F704
with open("/tmp/upload.bin", "wb") as local:
    local.write(data)
progress = Callback()
await afs._put_file("/tmp/upload.bin", f"{folder}/upload.bin", callback=progress)  # noqa: F704
report["upload_progress"] = [progress.value, progress.size]
report["uploaded"] = (await afs._cat_file(f"{folder}/upload.bin")) == data  # noqa: F704
await afs._rm(f"{folder}/upload.bin")  # noqa: F704

with fs.open(f"{folder}/data.bin", "rb", block_size=65536) as f:
    f.seek(500_000)
    report["seek_read"] = f.read(4) == data[500_000:500_004]
# The session's cookie alone must not be enough to write: XSRF protection.
forged = fs.transport.request("PUT", fs.endpoint_url + f"files/{folder}/forged.txt", {}, b"forged")
report["write_without_xsrf"] = forged.status
report["forged_exists"] = fs.exists(f"{folder}/forged.txt")
fs.pipe_file(f"{folder}/kept.txt", b"arrived")
fs.rm(f"{folder}/data.bin")
report["after_rm"] = sorted(fs.ls(folder, detail=False))
json.dumps(report)
