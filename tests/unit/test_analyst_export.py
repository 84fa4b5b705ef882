"""Issue 16: `billing export` (analyst_export.py) on both stores: Parquet that pandas and
DuckDB read, CSV with inert cells, the README's data dictionary, `--since`, audited."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

import billing_core
from billing_core.analyst_export import TABLES, export_tables
from billing_core.cli import main
from tests.conftest import REPO_ROOT, fund

NAMES = [t.name for t in TABLES]


def documented_columns() -> dict[str, list[str]]:
    """The data dictionary of the README: `### <table>.parquet` then a table of columns."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Data dictionary", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, list[str]] = {}
    for block in re.split(r"\n\*\*`", section)[1:]:
        name = block.split(".parquet", 1)[0]
        tables[name] = re.findall(r"^\| `(\w+)` \|", block, flags=re.MULTILINE)
    return tables


@pytest.fixture
def demo(demo_url: str):
    with billing_core.open_ledger(demo_url) as ledger:
        yield ledger


def test_the_export_is_four_parquet_files_as_the_readme_describes(demo, tmp_path: Path) -> None:
    admin = demo.user_by_email("ada@example.com")
    exported = export_tables(demo, admin, tmp_path)
    assert [p.name for p in exported.files] == [f"{n}.parquet" for n in NAMES]
    documented = documented_columns()
    assert list(documented) == NAMES
    for name in NAMES:
        frame = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert list(frame.columns) == documented[name], name
        assert len(frame) == exported.rows[name]
    journal = pd.read_parquet(tmp_path / "journal.parquet")
    wallets = pd.read_parquet(tmp_path / "wallets.parquet")
    assert len(journal) == demo.verify().entries
    assert str(journal["created_at"].dtype) == "datetime64[us, UTC]"
    assert isinstance(journal["amount"].iloc[0], Decimal)
    # the books balance in the export itself: each wallet is the sum of its journal
    totals = journal.groupby("workspace_id")["signed_amount"].sum()
    assert {int(w): Decimal(b) for w, b in zip(wallets["workspace_id"], wallets["balance"], strict=True)} \
        == {int(w): Decimal(t) for w, t in totals.items()}
    counted = duckdb.sql(f"SELECT count(*) FROM '{tmp_path / 'audit_log.parquet'}'").fetchall()[0][0]
    assert counted == exported.rows["audit_log"]


def test_since_keeps_what_happened_from_that_day_on(demo, tmp_path: Path) -> None:
    admin = demo.user_by_email("ada@example.com")
    since = date(2026, 11, 1)
    exported = export_tables(demo, admin, tmp_path, since=since, formats=("parquet", "csv"))
    journal = pd.read_parquet(tmp_path / "journal.parquet")
    assert journal["created_at"].min().date() >= since
    with demo.db.reading() as cur:
        expected = cur.execute("SELECT count(*) FROM entries WHERE created_at >= ?", [since]).fetchall()[0][0]
        requests = cur.execute(
            "SELECT count(*) FROM credit_requests WHERE requested_at >= ? OR decided_at >= ?", [since, since]
        ).fetchall()[0][0]
    assert exported.rows["journal"] == expected > 0
    assert exported.rows["requests"] == requests > 0
    assert exported.rows["wallets"] == 6, "wallets are their current state, whatever the day"
    assert len(pd.read_csv(tmp_path / "journal.csv")) == expected


def test_csv_cells_never_run_as_formulas_and_amounts_stay_numbers(ledger, people, tmp_path: Path) -> None:
    admin, acme = people["admin"], people["acme"]
    fund(ledger, admin, acme.id, "10")
    ledger.consume(people["alice"], acme.id, "2.5", feature="AI", description='=HYPERLINK("http://x")')
    export_tables(ledger, admin, tmp_path, formats=("csv",))
    text = (tmp_path / "journal.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    frame = pd.read_csv(tmp_path / "journal.csv")
    assert frame["signed_amount"].tolist() == [10.0, -2.5]
    assert frame["created_at"].iloc[0] == "2026-11-27 12:00:00"


def test_the_journal_carries_each_debits_idempotency_key(ledger, people, tmp_path: Path) -> None:
    """Keys are unique within a workspace (migration 2): the same key in two workspaces is
    two debits, each exported with its own."""
    admin, acme, beta = people["admin"], people["acme"], people["beta"]
    fund(ledger, admin, acme.id, "10")
    fund(ledger, admin, beta.id, "10")
    ledger.consume(people["alice"], acme.id, "1", feature="AI", description="a", idempotency_key="evt-1")
    ledger.consume(people["bob"], beta.id, "2", feature="AI", description="b", idempotency_key="evt-1")
    ledger.consume(people["alice"], acme.id, "3", feature="AI", description="c")
    export_tables(ledger, admin, tmp_path)
    journal = pd.read_parquet(tmp_path / "journal.parquet")
    debits = journal[journal["kind"] == "debit"]
    keys = [None if pd.isna(k) else k for k in debits["idempotency_key"]]
    assert list(zip(debits["workspace_id"].astype(int), keys, strict=True)) \
        == [(acme.id, "evt-1"), (beta.id, "evt-1"), (acme.id, None)]
    assert journal[journal["kind"] == "credit"]["idempotency_key"].isna().all()


def test_an_export_is_in_the_audit_log(ledger, people, tmp_path: Path) -> None:
    admin = people["admin"]
    export_tables(ledger, admin, tmp_path, since=date(2026, 1, 1))
    (row,) = [a for a in ledger.audit_trail(admin, limit=5) if a.action == "ledger.export"]
    assert row.actor_id == admin.id and '"since": "2026-01-01"' in (row.after or "")


def test_the_archive_zips_the_same_export(ledger, people) -> None:
    data = ledger.export_archive(people["admin"], formats=("csv",))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted([f"{n}.csv" for n in NAMES] + ["export.json"])
        assert archive.read("wallets.csv").decode().startswith("workspace_id,workspace,status,balance")


def test_both_stores_export_the_same_rows(postgres, demo_file: Path, tmp_path: Path) -> None:
    """The demo seeded on each store exports the same tables, value for value."""
    name, url = postgres.fresh(demo=True)
    try:
        frames = {}
        for where, store in ((str(demo_file), "duckdb"), (url, "postgresql")):
            copy = tmp_path / "duck.duckdb"
            if store == "duckdb":
                copy.write_bytes(demo_file.read_bytes())
                where = str(copy)
            with billing_core.open_ledger(where) as book:
                export_tables(book, book.system_user(), tmp_path / store)
            frames[store] = {n: pq.read_table(tmp_path / store / f"{n}.parquet") for n in NAMES}
        for name_ in ("journal", "wallets", "requests"):
            assert frames["duckdb"][name_].equals(frames["postgresql"][name_]), name_
        assert frames["duckdb"]["audit_log"].schema == frames["postgresql"]["audit_log"].schema
    finally:
        postgres.drop(name)


def test_the_cli_exports_parquet_and_csv(demo_file: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "billing.duckdb"
    path.write_bytes(demo_file.read_bytes())
    out = str(tmp_path / "out")
    assert main(["export", "--to", out, "--since", "2026-11-20", "--csv", "--db", str(path)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"Exported from 2026-11-20 on into {tmp_path / 'out'}: journal ")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f"{n}.{x}" for n in NAMES for x in ("parquet", "csv")] + ["export.json"])
    with pytest.raises(SystemExit) as usage:
        main(["export", "--to", str(tmp_path / "x"), "--since", "yesterday", "--db", str(path)])
    assert usage.value.code == 2 and "'yesterday' is not a day such as 2026-11-01" in capsys.readouterr().err
