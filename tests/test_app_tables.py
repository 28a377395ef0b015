"""The app's tables (webapp/tables.py), which run in the page and in CPython alike:
what the preview of a CSV, TSV or JSON Lines file shows."""

from __future__ import annotations

import re

import pytest

from jupyter_fsspec_proxy.webapp.tables import CELL_CHARS, csv_table, html_table, human, jsonl_table


def cells(table: str) -> list[list[str]]:
    """The header and rows of a rendered table, as text."""
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in rows]


def test_a_cut_csv_loses_its_last_partial_line_and_keeps_the_limit():
    text = "a,b\n1,2\n3,4\n5,"
    assert cells(csv_table(text, truncated=True, delimiter=",", limit=10)) == [
        ["a", "b"],
        ["1", "2"],
        ["3", "4"],
    ]
    assert cells(csv_table(text, truncated=False, delimiter=",", limit=1)) == [
        ["a", "b"],
        ["1", "2"],
    ]
    assert cells(csv_table("x\ty\n1\t2\n", False, "\t", 10)) == [["x", "y"], ["1", "2"]]


def test_json_lines_columns_in_order_of_appearance_with_json_cells():
    text = '{"id": 1, "name": "a"}\n\n{"id": 2, "tags": ["x"], "name": null}\n7\n'
    assert cells(jsonl_table(text, truncated=False, limit=10)) == [
        ["id", "name", "tags", "value"],
        ["1", "a", "", ""],
        ["2", "null", "[&quot;x&quot;]", ""],
        ["", "", "", "7"],
    ]


def test_a_line_that_is_not_json_is_named():
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        jsonl_table('{"a": 1}\n{"a": \n', truncated=False, limit=10)
    # the cut-off last line of a preview is not a fault
    assert cells(jsonl_table('{"a": 1}\n{"a": ', truncated=True, limit=10)) == [["a"], ["1"]]


def test_cells_are_escaped_long_ones_cut_with_the_whole_as_tooltip():
    long = "x" * (CELL_CHARS + 5)
    table = html_table(["<b>"], [["<script>"], [long]], notes=["int64"], table_id="t")
    assert "<script>" not in table and "&lt;script&gt;" in table
    assert "<th>&lt;b&gt;<small>int64</small></th>" in table and 'id="t"' in table
    assert f'title="{long}">{"x" * CELL_CHARS}…</td>' in table


def test_human_sizes():
    assert [human(n) for n in (0, 1023, 1024, 5 * 2**20, 3 * 2**40)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "5.0 MiB",
        "3072.0 GiB",
    ]
