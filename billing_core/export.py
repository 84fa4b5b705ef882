"""CSV for people to open in spreadsheets: every download and export goes through here.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return as a formula (CSV injection, OWASP). Text cells that start so are prefixed with
a single quote, which spreadsheets show and never run; numeric columns (integers,
decimals, floats) are written as numbers, so a negative amount stays a number. Hidden
characters in text (a right-to-left override, a zero-width space) are written as their
code points, `<U+202E>`, so a cell shows what it holds.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

import pandas as pd

from .text import visible

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> object:
    """A text cell a spreadsheet will not run, its hidden characters shown; anything that
    is not text is left as it is."""
    if not isinstance(value, str):
        return value
    text = visible(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _is_numeric(column: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return True
    dtype = column.dtype
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        return bool(pa.types.is_decimal(dtype.pyarrow_dtype) or pa.types.is_integer(dtype.pyarrow_dtype)
                    or pa.types.is_floating(dtype.pyarrow_dtype))
    values = column.dropna()
    return bool(len(values)) and all(isinstance(v, (int, Decimal)) and not isinstance(v, bool)
                                     for v in values)


def inert_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell made inert; numeric columns untouched."""
    out = frame.copy()
    for name in out.columns:
        if not _is_numeric(out[name]):
            out[name] = out[name].map(inert, na_action="ignore").astype(object)
    out.columns = [str(inert(str(c))) for c in out.columns]
    return out


def _csv_text(frame: pd.DataFrame, *, header: bool) -> str:
    """Python's csv writer, which quotes every field holding a quote, a comma or a line
    break (pandas' writer leaves a lone carriage return unquoted, which splits the row)."""
    safe = inert_frame(frame)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; a \r or \n in a field is quoted
    if header:
        writer.writerow(safe.columns)
    for row in safe.itertuples(index=False, name=None):
        writer.writerow(["" if _missing(v) else v for v in row])
    return out.getvalue()


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV of inert cells."""
    return _csv_text(frame, header=True).encode("utf-8")


def csv_chunks(frames: Iterable[pd.DataFrame]) -> Iterable[bytes]:
    """Several frames of the same columns as one CSV, header once, a chunk at a time."""
    first = True
    for frame in frames:
        yield _csv_text(frame, header=first).encode("utf-8")
        first = False


def file_name(*parts: str | None, extension: str = "csv", limit: int = 120) -> str:
    """A download's file name from readable parts, safe on every file system and in a
    header: each part folded to lower-case ASCII letters, digits and hyphens (accents
    dropped, anything else a hyphen), empty parts left out, the parts joined by `_`.
    `file_name("Acme Research", "transactions", "debits")` is
    `"acme-research_transactions_debits.csv"`."""
    slugs = [_slug(part) for part in parts if part]
    stem = "_".join(s for s in slugs if s)[:limit].strip("-_") or "export"
    return f"{stem}.{extension}"


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
