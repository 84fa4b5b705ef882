"""Files of usage events: CSV (with a header line) or Parquet, read in chunks."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from ..errors import InvalidAmount, InvalidInput
from .events import FLOAT_COLUMN, KEY_COLUMN, PRICED_COLUMNS, REQUIRED_COLUMNS

CSV_BLOCK = 8 << 20  # bytes of CSV parsed at a time


@dataclass(frozen=True, slots=True)
class EventFile:
    """A CSV or Parquet file of usage events, read in chunks of `chunk_rows` rows."""

    path: str
    kind: str  # "csv" | "parquet"
    rows: int | None  # exact for Parquet; for CSV an estimate from the line count
    columns: tuple[str, ...]
    mapping: tuple[tuple[str, str], ...] = ()  # (ledger column, the file's column) to rename
    priced: bool = False  # a quantity column priced by the rate card instead of amounts

    def file_column(self, ledger: str) -> str:
        return dict(self.mapping).get(ledger, ledger)


def open_event_file(
    path: str, mapping: tuple[tuple[str, str], ...] = (), *, priced: bool = False
) -> EventFile:
    """Check that `path` is a readable CSV or Parquet file with the event columns (its own
    columns named as `mapping` says; with `priced`, a quantity instead of an amount).

    Raises InvalidInput (InvalidAmount for a float amount column) with one line
    naming the problem; nothing is read into the ledger.
    """
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror or error}.") from None
    source = _open_parquet(path, mapping, priced) if magic == b"PAR1" else _open_csv(path, mapping, priced)
    return EventFile(source.path, source.kind, source.rows, source.columns, mapping, priced)


def _open_parquet(path: str, mapping: tuple[tuple[str, str], ...], priced: bool) -> EventFile:
    import pyarrow.parquet as pq

    try:
        schema = pq.ParquetFile(path).schema_arrow
        rows = pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError) as error:
        raise InvalidInput(f"{path} is not a readable Parquet file: {_first_line(error)}") from None
    names = tuple(schema.names)
    _check_header(path, names, mapping, priced)
    amount = dict(mapping).get("quantity" if priced else "amount", "quantity" if priced else "amount")
    if pa.types.is_floating(schema.field(amount).type):
        raise InvalidAmount(f"{path}: {FLOAT_COLUMN}")
    return EventFile(path, "parquet", rows, names)


def _open_csv(path: str, mapping: tuple[tuple[str, str], ...], priced: bool) -> EventFile:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
        with open(path, "rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is neither a Parquet file nor a UTF-8 CSV file.") from None
    except csv.Error as error:
        raise InvalidInput(f"{path} is not a readable CSV file: {error}.") from None
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror or error}.") from None
    if not header:
        raise InvalidInput(f"{path} is empty: expected a header line with {', '.join(REQUIRED_COLUMNS)}.")
    names = tuple(name.strip() for name in header)
    _check_header(path, names, mapping, priced)
    return EventFile(path, "csv", max(0, lines - 1), names)


def _check_header(
    path: str, names: tuple[str, ...], mapping: tuple[tuple[str, str], ...] = (), priced: bool = False
) -> None:
    if len(set(names)) != len(names):
        raise InvalidInput(f"{path} has two columns of the same name.")
    absent = [column for _, column in mapping if column not in names]
    if absent:
        raise InvalidInput(f"{path} has no column {', '.join(absent)} (named in --columns).")
    renamed = {column: ledger for ledger, column in mapping}
    present = {renamed.get(n, n) for n in names}
    present |= {"workspace"} if "workspace_id" in present else set()
    required = PRICED_COLUMNS if priced else REQUIRED_COLUMNS
    missing = [c for c in required if c not in present]
    if missing:
        raise InvalidInput(
            f"{path} lacks the column(s) {', '.join(missing)}; expected "
            f"{', '.join(required)} (and optionally {KEY_COLUMN}), or map the file's own "
            "columns with --columns workspace=...,amount=... (or --preset litellm)."
        )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def read_chunks(source: EventFile, chunk_rows: int) -> Iterator[pa.Table]:
    """The file's rows, `chunk_rows` at a time, every CSV column as text (never float).

    A malformed row part-way raises InvalidInput naming it; the chunks before it
    have been handed out already.
    """
    ledger = (*REQUIRED_COLUMNS, "workspace_id", KEY_COLUMN, *(("quantity",) if source.priced else ()))
    columns = (source.file_column(c) for c in ledger)
    wanted = list(dict.fromkeys(c for c in columns if c in source.columns))
    renamed = {column: name for name, column in source.mapping}

    def ledger_names(table: pa.Table) -> pa.Table:
        return table.rename_columns([renamed.get(c, c) for c in table.column_names]) if renamed else table

    if source.kind == "parquet":
        import pyarrow.parquet as pq

        try:
            for batch in pq.ParquetFile(source.path).iter_batches(batch_size=chunk_rows, columns=wanted):
                yield ledger_names(pa.Table.from_batches([batch]))
        except (pa.ArrowException, OSError) as error:
            raise InvalidInput(f"{source.path} could not be read: {_first_line(error)}") from None
        return
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(
            source.path,
            read_options=pacsv.ReadOptions(
                block_size=CSV_BLOCK, column_names=list(source.columns), skip_rows=1
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in source.columns},
                include_columns=wanted,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        pending: list[pa.RecordBatch] = []
        held = 0
        for batch in reader:
            pending.append(batch)
            held += batch.num_rows
            while held >= chunk_rows:
                table = pa.Table.from_batches(pending)
                yield ledger_names(table.slice(0, chunk_rows))
                rest = table.slice(chunk_rows)
                pending, held = rest.to_batches(), rest.num_rows
        if held:
            yield ledger_names(pa.Table.from_batches(pending))
    except pa.ArrowException as error:
        raise InvalidInput(f"{source.path} is not a valid CSV file: {_first_line(error)}") from None
