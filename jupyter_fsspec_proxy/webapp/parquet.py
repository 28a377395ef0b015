"""The app's view of a Parquet file: its schema, row count and row groups, and
pages of rows, read in the page by hyparquet (npm, pure JavaScript) through
PyScript's JS interop. hyparquet asks for byte ranges only: the footer first,
then the column chunks of the rows shown, each through the proxy's ``files/``
route like every other read of the app."""

from __future__ import annotations

import asyncio
import datetime
import html
import json
import math
from typing import NamedTuple

from js import Object, Uint8Array
from pyodide.code import run_js
from pyodide.ffi import JsException, create_proxy, jsnull, to_js
from pyscript import config
from tables import html_table, human

PAGE_ROWS = 100
MAGIC = b"PAR1"
# Each module by its own path: a worker has no import map for the bare names
# that hyparquet-compressors' index imports.
MODULES = {
    "hyparquet": ("hyparquet", "src/index.js"),
    "snappy": ("hysnappy", "js/index.js"),
    "zstd": ("fzstd", "esm/index.mjs"),
    "gzip": ("hyparquet-compressors", "src/gzip.js"),
    "brotli": ("hyparquet-compressors", "src/brotli.js"),
    "lz4": ("hyparquet-compressors", "src/lz4.js"),
}
import_module = run_js("(url) => import(url)")  # in this thread, main or worker
# hyparquet awaits some slices twice: a real Promise can be, a Python coroutine cannot.
promising = run_js("(read) => (start, end) => Promise.resolve(read(start, end))")
_loaded = {}


class ParquetProblem(Exception):
    """What is wrong with a file that does not read as Parquet, in one line."""


class Column(NamedTuple):
    name: str
    type: str  # as Arrow names it
    codecs: str  # of its chunks, in the order they first appear
    scale: int | None  # digits after the point, for decimals


async def reader():
    """hyparquet and the decompressors of hyparquet-compressors, imported once from
    the packages the server names (``app_npm_url``)."""
    if not _loaded:
        packages = config["fsspec_proxy"]["npm"]
        urls = {key: packages[name] + file for key, (name, file) in MODULES.items()}
        try:
            modules = await asyncio.gather(*(import_module(url) for url in urls.values()))
        except JsException:
            where = packages["hyparquet"]
            raise ParquetProblem(
                f"The Parquet reader could not be loaded from {where} "
                "(FsspecProxy.app_npm_url; see the app's docs to serve it locally)."
            ) from None
        _loaded.update(zip(urls, modules, strict=True))
        gzip, zstd, lz4 = _loaded["gzip"], _loaded["zstd"], _loaded["lz4"]
        codecs = {
            "SNAPPY": _loaded["snappy"].snappyUncompressor(),
            "GZIP": create_proxy(lambda data, size: gzip.gunzip(data, Uint8Array.new(size))),
            "ZSTD": create_proxy(lambda data, size: zstd.decompress(data)),
            "BROTLI": _loaded["brotli"].decompressBrotli,
            "LZ4": lz4.decompressLz4,
            "LZ4_RAW": lz4.decompressLz4Raw,
        }
        _loaded["compressors"] = js_object(codecs)
    return _loaded["hyparquet"], _loaded["compressors"]


def js_object(values: dict):
    return to_js(values, dict_converter=Object.fromEntries)


class ParquetFile:
    """A Parquet file of a source, read by ranges; ``requests`` and ``bytes_read``
    count what was fetched so far (the view shows them)."""

    def __init__(self, fs, path: str, size: int) -> None:
        self.fs, self.path, self.size = fs, path, size
        self.requests = self.bytes_read = 0
        self.failure = None  # the Python error of a read hyparquet asked for
        self._slice = create_proxy(self.read_range)
        self.metadata = self.file = self.hyparquet = self.compressors = None
        self.columns: list[Column] = []

    async def read_range(self, start, end=None):
        try:
            data = await self.fs._cat_file(self.path, start=start, end=end)
        except Exception as exc:  # raised again by the caller, not as a JS error's text
            self.failure = exc
            raise
        self.requests += 1
        self.bytes_read += len(data)
        return to_js(data).buffer

    async def open(self) -> None:
        """Read the footer; raises ParquetProblem if the file is not (whole) Parquet."""
        self.hyparquet, self.compressors = await reader()
        buffer = js_object({"byteLength": self.size, "slice": promising(self._slice)})
        self.file = self.hyparquet.cachedAsyncBuffer(buffer)
        try:
            self.metadata = await self.hyparquet.parquetMetadataAsync(self.file)
        except JsException as exc:
            self.raise_failure()
            raise ParquetProblem(await self.diagnose(exc)) from None
        self.columns = self.describe_columns()

    def raise_failure(self) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure

    async def diagnose(self, exc: JsException) -> str:
        if self.size < 2 * len(MAGIC) + 4:
            return f"Not a Parquet file: {self.size} bytes is too short to be one."
        head = await self.fs._cat_file(self.path, start=0, end=len(MAGIC))
        tail = await self.fs._cat_file(self.path, start=self.size - len(MAGIC))
        if tail != MAGIC:
            if head == MAGIC:
                return "A truncated Parquet file: it starts as Parquet but its footer is missing."
            return "Not a Parquet file: it does not end with Parquet's footer (PAR1)."
        return f"A damaged Parquet file: its footer cannot be read ({one_line(exc)})."

    def close(self) -> None:
        self._slice.destroy()

    @property
    def num_rows(self) -> int:
        return int(self.metadata.num_rows)

    def row_groups(self) -> list[int]:
        return [int(group.num_rows) for group in self.metadata.row_groups]

    def describe_columns(self) -> list[Column]:
        """The top-level columns (a struct's fields are in its type)."""
        codecs: dict[str, dict[str, None]] = {}
        for group in self.metadata.row_groups:
            for chunk in group.columns:
                name = chunk.meta_data.path_in_schema[0]
                codecs.setdefault(name, {})[str(chunk.meta_data.codec)] = None
        tree = self.hyparquet.parquetSchema(self.metadata).to_py()
        columns = []
        for child in tree["children"]:
            element = child["element"]
            decimal = type_name(child).startswith("decimal")
            scale = element.get("scale", 0) if decimal else None
            used = ", ".join(codecs.get(element["name"], {}))
            columns.append(Column(element["name"], type_name(child), used, scale))
        return columns

    async def rows(self, start: int, stop: int) -> list[list[str]]:
        """Rows ``start`` to ``stop`` as text; only the pages they need are read."""
        options = {
            "file": self.file,
            "metadata": self.metadata,
            "rowStart": start,
            "rowEnd": stop,
            "compressors": self.compressors,
            "useOffsetIndex": True,
        }
        try:
            found = await self.hyparquet.parquetReadObjects(js_object(options))
        except JsException as exc:
            self.raise_failure()
            raise ParquetProblem(f"The rows cannot be read: {one_line(exc)}") from None
        return [
            [cell_text(row.get(column.name), column) for column in self.columns]
            for row in convert(found)
        ]


def one_line(exc: JsException) -> str:
    return str(exc).strip().splitlines()[0].removeprefix("Error: ")


def convert(value):
    """A JS value as Python; dates become UTC datetimes."""

    def date(value, _convert, _cache):
        if getattr(value, "constructor", None) and value.constructor.name == "Date":
            return datetime.datetime.fromtimestamp(value.valueOf() / 1000, datetime.UTC)
        return str(value)

    return value.to_py(default_converter=date)


def cell_text(value, column: Column | None = None) -> str:
    """A value as its cell shows it (nested values as JSON)."""
    kind = column.type if column else ""
    if value is None or value is jsnull:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("nan", "NaN")
    if isinstance(value, datetime.datetime):
        if kind.startswith("date"):
            return value.date().isoformat()
        exact = "milliseconds" if value.microsecond % 1000 == 0 else "auto"
        text = value.replace(tzinfo=None).isoformat(" ", timespec=exact)
        return text.removesuffix(".000")
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    if isinstance(value, str):
        return value
    if column and column.scale is not None and isinstance(value, int | float):
        return f"{value:.{column.scale}f}"
    if isinstance(value, int) and kind in ("float", "double", "halffloat"):
        return repr(float(value))  # JavaScript has one kind of number: 1.0 arrives as 1
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, default=cell_text, ensure_ascii=False)


INTEGERS = {
    f"{sign}INT_{bits}": f"{sign.lower()}int{bits}"
    for sign in ("", "U")
    for bits in (8, 16, 32, 64)
}
PHYSICAL = {
    "BOOLEAN": "bool",
    "INT32": "int32",
    "INT64": "int64",
    "INT96": "timestamp[ns]",
    "FLOAT": "float",
    "DOUBLE": "double",
    "BYTE_ARRAY": "binary",
}
UNITS = {"MILLIS": "ms", "MICROS": "us", "NANOS": "ns"}


def type_name(node: dict) -> str:
    """A schema node's type as Arrow names it (``int64``, ``timestamp[us]``, ...)."""
    element, children = node["element"], node["children"]
    logical = element.get("logical_type") or {}
    kind, converted = logical.get("type"), element.get("converted_type")
    if children:
        if kind == "LIST" or converted == "LIST":
            # list > repeated group > item, or (older writers) list > repeated item
            repeated = children[0]
            item = repeated["children"][0] if len(repeated["children"]) == 1 else repeated
            return f"list<{type_name(item)}>"
        if kind == "MAP" or converted in ("MAP", "MAP_KEY_VALUE"):
            key, value = children[0]["children"]
            return f"map<{type_name(key)}, {type_name(value)}>"
        fields = ", ".join(f"{c['element']['name']}: {type_name(c)}" for c in children)
        return f"struct<{fields}>"
    if kind in ("STRING", "ENUM", "JSON") or converted in ("UTF8", "ENUM", "JSON"):
        return "string"
    if kind == "INTEGER":
        return f"{'' if logical['isSigned'] else 'u'}int{logical['bitWidth']}"
    if kind == "DECIMAL" or converted == "DECIMAL":
        return f"decimal128({element.get('precision')}, {element.get('scale', 0)})"
    if kind == "DATE" or converted == "DATE":
        return "date32[day]"
    if kind in ("TIMESTAMP", "TIME"):
        unit = UNITS[logical["unit"]]
        if kind == "TIME":
            return f"time{32 if unit == 'ms' else 64}[{unit}]"
        return f"timestamp[{unit}{', tz=UTC' if logical['isAdjustedToUTC'] else ''}]"
    if converted in INTEGERS:
        return INTEGERS[converted]
    if kind == "FLOAT16":
        return "halffloat"
    if kind == "UUID":
        return "uuid"
    if element.get("type") == "FIXED_LEN_BYTE_ARRAY":
        return f"fixed_size_binary[{element.get('type_length')}]"
    return PHYSICAL.get(element.get("type"), str(element.get("type", "")).lower())


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def summary(file: ParquetFile) -> str:
    """Rows, row groups and the schema, from the footer."""
    groups = file.row_groups()
    sizes = sorted({f"{rows:,}" for rows in (min(groups, default=0), max(groups, default=0))})
    described = [(c.name, c.type, c.codecs) for c in file.columns]
    schema = html_table(["Column", "Type", "Compression"], described, table_id="parquet-schema")
    return (
        f'<p id="parquet-summary">Parquet: {plural(file.num_rows, "row")} in '
        f"{plural(len(groups), 'row group')} of {'–'.join(sizes)} rows, "
        f"{plural(len(file.columns), 'column')}</p>{schema}"
    )


def page(file: ParquetFile, start: int, rows: list[list[str]]) -> str:
    """The rows from ``start``, with buttons to the first, previous, next and last
    pages, and what was read so far."""
    total, stop = file.num_rows, start + len(rows)
    at_start, at_end = start == 0, stop >= total
    targets = [
        ("First", 0, at_start),
        ("Previous", max(start - PAGE_ROWS, 0), at_start),
        ("Next", stop, at_end),
        ("Last", max(total - PAGE_ROWS, 0), at_end),
    ]
    buttons = "".join(
        f'<button data-rows="{row}"{" disabled" if disabled else ""}>{label}</button>'
        for label, row, disabled in targets
    )
    shown = f"Rows {start + 1:,}–{stop:,} of {total:,}" if rows else "No rows"
    read = f"read so far: {human(file.bytes_read)} of {human(file.size)} in " + plural(
        file.requests, "range request"
    )
    columns = file.columns
    table = html_table([c.name for c in columns], rows, notes=[c.type for c in columns])
    return (
        f'<div class="pager"><span id="parquet-rows">{shown}</span>{buttons}'
        f' <span id="parquet-read">({html.escape(read)})</span></div>{table}'
    )
