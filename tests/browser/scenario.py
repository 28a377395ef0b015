# Runs inside Pyodide: write, read, ranges, ls, rm through fsspec-proxy-client.
import json

import fsspec

from fsspec_proxy_client.transport_xhr import in_worker

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
    "url": fs.url,
    "whole": fs.cat_file(f"{folder}/data.bin") == data,
    "range": list(fs.cat_file(f"{folder}/data.bin", start=1000, end=1010)),
    "ranges": fs.cat_ranges([f"{folder}/data.bin"] * 2, [0, 300], [3, 303]) == [b"\0\1\2", b",-."],
    "text": fs.cat(f"{folder}/note.txt").decode(),
    "listing": sorted(fs.ls(folder, detail=False)),
}
with fs.open(f"{folder}/data.bin", "rb", block_size=65536) as f:
    f.seek(500_000)
    report["seek_read"] = f.read(4) == data[500_000:500_004]
fs.pipe_file(f"{folder}/kept.txt", b"arrived")
fs.rm(f"{folder}/data.bin")
report["after_rm"] = sorted(fs.ls(folder, detail=False))
json.dumps(report)
