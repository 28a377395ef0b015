"""The fsspec-proxy browser app, in PyScript (main thread or worker).

Everything goes through fsspec-proxy-client's asynchronous filesystem, on the
session's cookie: no token and no secret in the page.
"""

import contextlib
import html
import json
from urllib.parse import quote

import parquet
from fsspec.callbacks import Callback
from fsspec_proxy_client import AsyncProxyFileSystem
from fsspec_proxy_client.discovery import endpoint_in
from pyscript import document, when, window
from tables import csv_table, human, jsonl_table

PREVIEW_BYTES = 64 * 1024
PREVIEW_ROWS = 100
HEX_BYTES = 512
JSON_LINES = ("jsonl", "ndjson")
# the page's own proxy ({base_url}fsspec-proxy/app/ is the page): the page's window,
# since a worker's own location is its script's
PROXY_URL = endpoint_in(str(window.location.href))
fs = AsyncProxyFileSystem(endpoint_url=PROXY_URL, skip_instance_cache=True)
# path: the folder shown, None while a listing is in flight or failed (nothing acts then);
# listing, shown: how many listings and previews were started, so that an answer that
# arrives after a later click is dropped; parquet: the Parquet file previewed.
state = {
    "path": None,
    "sources": {},
    "previewed": None,
    "listing": 0,
    "shown": 0,
    "parquet": None,
}


def element(name):
    return document.getElementById(name)


def show_error(exc):
    box = element("error")
    box.textContent = f"{type(exc).__name__}: {exc}"
    box.hidden = False


def when_modified(mtime):
    """In the browser's own time zone (the column says so)."""
    if mtime is None:
        return ""
    options = json.dumps({"dateStyle": "medium", "timeStyle": "short"})
    return str(window.Date.new(mtime * 1000).toLocaleString(None, window.JSON.parse(options)))


def set_status(text, busy=False):
    element("status").textContent = text
    element("browser").classList.toggle("busy", busy)


def readonly(path):
    return state["sources"][path.split("/")[0]]["readonly"]


async def load_sources():
    sources = await fs._sources()
    state["sources"] = {source["name"]: source for source in sources}
    buttons = []
    for source in sources:
        name = html.escape(source["name"])
        if source["available"]:
            buttons.append(f'<button data-path="{name}" data-source="{name}">{name}</button>')
        else:
            reason = html.escape(source["reason"] or "")
            buttons.append(f'<button disabled title="{reason}">{name}</button>')
    element("sources").innerHTML = "".join(buttons)


def crumbs(path):
    """Each folder on the way is a link; the last is where we are."""
    parts = path.split("/")
    links = [
        f'<a href="#" data-open="{html.escape("/".join(parts[: n + 1]))}">{html.escape(part)}</a>'
        for n, part in enumerate(parts[:-1])
    ]
    return " / ".join([*links, f"<span>{html.escape(parts[-1])}</span>"])


async def browse(path):
    """Show ``path``: until its listing arrives nothing acts on any folder, and if it
    fails no rows are left from the folder shown before."""
    element("error").hidden = True
    state["path"] = None
    state["listing"] += 1
    listing = state["listing"]
    element("uploader").hidden = True
    element("crumbs").innerHTML = crumbs(path)
    source = path.split("/")[0]
    for button in document.querySelectorAll("#sources button[data-source]"):
        button.classList.toggle("current", button.getAttribute("data-source") == source)
    set_status(f"Listing {path}…", busy=True)
    try:
        entries = await fs._ls(path)
    except Exception:
        if listing != state["listing"]:
            return  # another folder was asked for meanwhile: its answer counts
        message = f"{html.escape(path)} could not be listed"
        element("entries").innerHTML = f'<tr><td colspan="4" class="empty">{message}</td></tr>'
        raise
    finally:
        if listing == state["listing"]:
            set_status("Ready")
    if listing != state["listing"]:
        return
    rows = []
    if "/" in path:
        parent = html.escape(path.rsplit("/", 1)[0])
        rows.append(f'<tr><td><a href="#" data-open="{parent}">..</a></td><td></td><td></td></tr>')
    for entry in sorted(entries, key=lambda e: (e["type"] != "directory", e["name"])):
        name = html.escape(entry["name"])
        label = html.escape(entry["name"].rsplit("/", 1)[-1])
        if entry["type"] == "directory":
            rows.append(
                f'<tr><td><a href="#" data-open="{name}">{label}/</a></td>'
                "<td></td><td></td><td></td></tr>"
            )
            continue
        actions = [
            f'<button class="action" data-preview="{name}">Preview</button>',
            f'<a class="action" download href="{PROXY_URL}files/{quote(entry["name"])}">'
            "Download</a>",
        ]
        if not readonly(entry["name"]):
            actions.append(f'<button class="action" data-delete="{name}">Delete</button>')
        rows.append(
            f'<tr data-name="{name}"><td>{label}</td><td class="size">{human(entry["size"])}</td>'
            f'<td class="when">{when_modified(entry.get("mtime"))}</td>'
            f'<td class="actions">{"".join(actions)}</td></tr>'
        )
    if not rows:
        rows.append('<tr><td colspan="4" class="empty">This folder is empty</td></tr>')
    element("entries").innerHTML = "".join(rows)
    state["path"] = path
    element("uploader").hidden = readonly(path)


def show_preview(path, content):
    close = '<button id="preview-close" data-close="1" title="Close the preview">Close</button>'
    head = f'<div class="preview-head"><h2>{html.escape(path)}</h2>{close}</div>'
    element("preview").innerHTML = head + content
    state["previewed"] = path


def close_preview():
    state["shown"] += 1
    if state["parquet"] is not None:
        state["parquet"].close()
        state["parquet"] = None
    element("preview").innerHTML = ""
    state["previewed"] = None


async def preview(path):
    """Only what is needed: the first bytes of a file as a table (CSV, TSV, JSON
    Lines), text (or JSON) or a hex dump; a Parquet file's footer and first rows."""
    close_preview()
    shown = state["shown"]
    kind = path.lower().rsplit(".", 1)[-1]
    try:
        size = (await fs._info(path))["size"]
        if kind == "parquet":
            content = await preview_parquet(path, size, shown)
        else:
            content = await preview_start(path, size, kind)
    except Exception:
        if shown != state["shown"]:
            return  # another preview was asked for, or this one closed
        raise
    if shown == state["shown"] and content is not None:
        show_preview(path, content)


async def preview_start(path, size, kind):
    data = await fs._cat_file(path, start=0, end=PREVIEW_BYTES)
    truncated = size > len(data)
    note = f"<p>First {human(len(data))} of {human(size)}</p>" if truncated else ""
    text = as_unicode(data, truncated)
    if text is None:
        note = f"<p>Binary, {size:,} bytes; the first {min(len(data), HEX_BYTES)}:</p>"
        return note + as_hex(data[:HEX_BYTES])
    if kind in ("csv", "tsv"):
        return note + csv_table(text, truncated, "\t" if kind == "tsv" else ",", PREVIEW_ROWS)
    if kind in JSON_LINES:
        try:
            return note + jsonl_table(text, truncated, PREVIEW_ROWS)
        except ValueError as exc:
            note += f"<p>Shown as text: {html.escape(str(exc))}</p>"
    return note + as_text(text, kind == "json" and not truncated)


def problem_line(problem):
    return f'<p id="preview-problem" class="problem">{html.escape(str(problem))}</p>'


async def preview_parquet(path, size, shown):
    """The schema and the first rows, or what is wrong with the file in one line;
    None if another preview was asked for meanwhile."""
    file = parquet.ParquetFile(fs, path, size)
    kept = False
    set_status(f"Reading {path}…")
    try:
        await file.open()
        rows = await file.rows(0, parquet.PAGE_ROWS)
        if shown != state["shown"]:
            return None
        state["parquet"], kept = file, True
        return f'{parquet.summary(file)}<div id="parquet-page">{parquet.page(file, 0, rows)}</div>'
    except parquet.ParquetProblem as problem:
        return problem_line(problem)
    finally:
        set_status("Ready")
        if not kept:
            file.close()


async def show_rows(start):
    """Another page of the Parquet file previewed, read by ranges as needed."""
    file, shown = state["parquet"], state["shown"]
    set_status(f"Reading rows {start + 1:,}…")
    try:
        content = parquet.page(file, start, await file.rows(start, start + parquet.PAGE_ROWS))
    except parquet.ParquetProblem as problem:
        content = problem_line(problem)
    finally:
        set_status("Ready")
    if shown == state["shown"]:
        element("parquet-page").innerHTML = content


def as_unicode(data, truncated):
    """The text of ``data``, or None if it is binary (NUL bytes, or not UTF-8 before
    a character the preview cut in two)."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(data) - 3:
            return data[: exc.start].decode("utf-8")
        return None


def as_hex(data):
    lines = []
    for offset in range(0, len(data), 16):
        row = data[offset : offset + 16]
        printable = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{offset:08x}  {row.hex(' '):<47}  {printable}")
    return f'<pre id="preview-hex">{html.escape(chr(10).join(lines))}</pre>'


def as_text(text, is_json):
    if is_json:
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), indent=2)
    return f'<pre id="preview-text">{html.escape(text)}</pre>'


class ProgressBar(Callback):
    def call(self, *args, **kwargs):
        bar = element("progress")
        bar.max = self.size or 1
        bar.value = self.value


async def upload(file):
    folder = state["path"]
    if folder is None:  # no folder is shown: nothing to upload into
        return
    target = f"{folder}/{file.name}"
    local = "/tmp/fsspec-proxy-upload"
    buffer = await file.arrayBuffer()
    with open(local, "wb") as out:
        out.write(buffer.to_bytes())
    bar = element("progress")
    bar.hidden = False
    set_status(f"Uploading {file.name}…", busy=True)
    try:
        await fs._put_file(local, target, callback=ProgressBar())
    finally:
        bar.hidden, bar.value, bar.max = True, 0, 1
        element("upload").value = ""
        set_status("Ready")
    await browse(folder)


async def guarded(action, *args):
    try:
        await action(*args)
    except Exception as exc:  # every failure is shown, the app keeps working
        show_error(exc)


@when("click", "#sources")
async def on_source(event):
    path = event.target.getAttribute("data-path")
    if path:
        await guarded(browse, path)


@when("click", "#crumbs")
async def on_crumb(event):
    opened = event.target.getAttribute("data-open")
    if opened:
        event.preventDefault()
        await guarded(browse, opened)


@when("click", "#entries")
async def on_entry(event):
    # getAttribute gives None for a missing attribute; a missing dataset key would raise.
    target = event.target
    opened, previewed = target.getAttribute("data-open"), target.getAttribute("data-preview")
    deleted = target.getAttribute("data-delete")
    if opened:
        event.preventDefault()
        await guarded(browse, opened)
    elif previewed:
        await guarded(preview, previewed)
    elif deleted and window.confirm(f"Delete {deleted}?"):
        await guarded(delete, deleted)


async def delete(path):
    folder = state["path"]
    await fs._rm(path)
    if state["previewed"] == path:
        close_preview()
    await browse(folder)


@when("click", "#preview")
async def on_preview(event):
    target = event.target
    if target.getAttribute("data-close"):
        close_preview()
    elif target.getAttribute("data-rows") and state["parquet"] is not None:
        await guarded(show_rows, int(target.getAttribute("data-rows")))


@when("change", "#upload")
async def on_upload(event):
    files = event.target.files
    if files.length:
        await guarded(upload, files.item(0))


async def start():
    """The sources, and the first one that is available opened."""
    window.fsspecProxyStarted = True  # the page's own check stops waiting for Python
    await guarded(load_sources)
    first = next((name for name, s in state["sources"].items() if s["available"]), None)
    if first is not None:
        await guarded(browse, first)
    set_status("Ready")


await start()  # noqa: F704 - PyScript runs this module with top-level await
