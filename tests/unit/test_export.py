"""billing_core.export: CSV cells a spreadsheet would run are made inert; numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from billing_core.export import csv_bytes, csv_chunks, file_name, inert

HOSTILE = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.mark.parametrize("text", HOSTILE)
def test_a_text_cell_that_starts_like_a_formula_is_quoted(text: str):
    assert inert(text) == "'" + text
    frame = pd.DataFrame({"note": [text]})
    assert rows(csv_bytes(frame))[1] == ["'" + text]


def test_negative_numbers_in_numeric_columns_stay_numbers():
    frame = pd.DataFrame({
        "float": [-1.5],
        "int": [-3],
        "decimal": [Decimal("-2.5000")],
        "arrow": pd.Series([Decimal("-4.25")], dtype=pd.ArrowDtype(pa.decimal128(18, 4))),
        "text": ["-7"],
    })
    assert rows(csv_bytes(frame))[1] == ["-1.5", "-3", "-2.5000", "-4.2500", "'-7"]


def test_a_hostile_column_name_is_quoted_too():
    assert rows(csv_bytes(pd.DataFrame({"=cmd": ["ok"]})))[0] == ["'=cmd"]


def test_chunks_write_the_header_once():
    parts = [pd.DataFrame({"a": ["=x"]}), pd.DataFrame({"a": ["y"]})]
    assert rows(b"".join(csv_chunks(parts))) == [["a"], ["'=x"], ["y"]]


@pytest.mark.parametrize(
    ("parts", "name"),
    [
        (("Acme Research", "transactions", "debits", "2026-11-01", "2026-11-27"),
         "acme-research_transactions_debits_2026-11-01_2026-11-27.csv"),
        (("Acme Research", "transactions"), "acme-research_transactions.csv"),
        (("Café Ünïcode", None, "", "search =HYPERLINK(x)"), "cafe-unicode_search-hyperlink-x.csv"),
        (("../../etc/passwd", "a\r\nb\"c"), "etc-passwd_a-b-c.csv"),
        (("日本語", "\u202eexe.live"), "exe-live.csv"),
        (("***",), "export.csv"),
    ],
)
def test_a_file_name_is_a_safe_slug_of_its_parts(parts: tuple, name: str):
    assert file_name(*parts) == name


def test_a_long_file_name_is_cut():
    assert len(file_name("x" * 500, "transactions")) <= 120 + len(".csv")


def test_hidden_characters_are_written_as_code_points():
    """Issue 10, item 17: a cell shows what it holds, also in a spreadsheet."""
    frame = pd.DataFrame({"note": ["\u202eexe.live", "=\u200bcmd", "two\nlines"]})
    assert [r[0] for r in rows(csv_bytes(frame))[1:]] == [
        "<U+202E>exe.live", "'=<U+200B>cmd", "two\nlines"]
