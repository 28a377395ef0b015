"""Tables of the app's previews: the HTML of a table, and the rows of CSV, TSV and
JSON Lines text. Plain Python, so it runs (and is tested) outside the browser too."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable

CELL_CHARS = 200  # longer cells are cut, with the whole text as their tooltip


def human(size: float) -> str:
    """A size in bytes as people read it."""
    units = ("B", "KiB", "MiB", "GiB")
    power = 0
    while size >= 1024 and power < len(units) - 1:
        size, power = size / 1024, power + 1
    return f"{size:.0f} B" if power == 0 else f"{size:.1f} {units[power]}"


def cell(text: str) -> str:
    if len(text) <= CELL_CHARS:
        return f"<td>{html.escape(text)}</td>"
    return f'<td title="{html.escape(text)}">{html.escape(text[:CELL_CHARS])}…</td>'


def html_table(
    header: Iterable[str],
    rows: Iterable[Iterable[str]],
    notes: Iterable[str] = (),
    table_id: str = "preview-table",
) -> str:
    """A table in a box that scrolls sideways, so a wide table never covers the
    file list; ``notes`` go under the header cells (column types)."""
    notes = list(notes)
    heads = []
    for number, name in enumerate(header):
        note = f"<small>{html.escape(notes[number])}</small>" if number < len(notes) else ""
        heads.append(f"<th>{html.escape(name)}{note}</th>")
    body = "".join("<tr>" + "".join(cell(value) for value in row) + "</tr>" for row in rows)
    return (
        f'<div class="table-box"><table id="{table_id}"><thead><tr>{"".join(heads)}'
        f"</tr></thead><tbody>{body}</tbody></table></div>"
    )


def complete_lines(text: str, truncated: bool, limit: int) -> list[str]:
    """The first ``limit`` lines of ``text``, without the last one if the text was cut."""
    return text.splitlines()[: -1 if truncated else None][:limit]


def csv_table(text: str, truncated: bool, delimiter: str, limit: int) -> str:
    lines = complete_lines(text, truncated, limit + 1)
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)) or [[]]
    return html_table(rows[0], rows[1:])


def json_cell(value: object) -> str:
    """A JSON value as a cell shows it: strings bare, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def jsonl_table(text: str, truncated: bool, limit: int) -> str:
    """One row per line; the columns are the keys in the order they first appear
    (a line that is not an object is one ``value``). Raises ValueError, naming the
    line, if a line is not JSON."""
    records = []
    for number, line in enumerate(complete_lines(text, truncated, limit), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise ValueError(f"line {number} is not JSON") from None
        records.append(value if isinstance(value, dict) else {"value": value})
    columns = list(dict.fromkeys(key for record in records for key in record))
    rows = [[json_cell(r[c]) if c in r else "" for c in columns] for r in records]
    return html_table(columns, rows)
