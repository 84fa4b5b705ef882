"""`billing migrate`: a DuckDB ledger copied into PostgreSQL (or another file), checked."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

import billing_core
from billing_core import InvalidInput, LedgerCorrupt
from billing_core.cli import main
from billing_core.migrate import copy_ledger
from tests.conftest import PostgresForTests


def _target(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if store == "duckdb":
        return str(tmp_path / "copy.duckdb")
    server: PostgresForTests = request.getfixturevalue("postgres")
    name, url = server.fresh()
    request.addfinalizer(lambda: server.drop(name))
    return url


def test_the_demo_copies_with_every_row_and_balance(
    store: str, request: pytest.FixtureRequest, demo_file: Path, tmp_path: Path
) -> None:
    source_path = tmp_path / "source.duckdb"
    shutil.copy(demo_file, source_path)
    target_url = _target(store, request, tmp_path)
    with (
        billing_core.open_ledger(str(source_path)) as source,
        billing_core.open_ledger(target_url, create=True) as target,
    ):
        report = copy_ledger(source, target)
        assert report.entries == source.verify().entries > 10_000
        admin = target.user_by_email("ada@example.com")
        assert admin is not None
        acme = target.find_workspace(admin, "Acme Research")
        before = target.wallet(admin, acme.id).balance
        assert before == source.wallet(admin, acme.id).balance
        # the copy is a working ledger: new ids follow the copied ones, sign-in works
        entry = target.consume(admin, acme.id, "2.5", feature="AI", description="after the move")
        assert entry.id == report.entries + 1
        assert target.wallet(admin, acme.id).balance == before - Decimal("2.5")
        assert target.authenticate("ada@example.com", "en-credits-demo").id == admin.id
        target.verify()


def test_a_target_that_holds_data_is_refused_and_left_alone(
    store: str, request: pytest.FixtureRequest, demo_file: Path, tmp_path: Path
) -> None:
    source_path = tmp_path / "source.duckdb"
    shutil.copy(demo_file, source_path)
    target_url = _target(store, request, tmp_path)
    with billing_core.open_ledger(target_url, create=True) as target:
        target.add_user("someone@example.com", "Someone")
    code = main(["migrate", "--from", str(source_path), "--to", target_url])
    assert code == 1
    with billing_core.open_ledger(target_url) as target:
        assert not target.has_data() or target.user_by_email("ada@example.com") is None


def test_a_source_whose_books_do_not_balance_is_not_copied(
    store: str, request: pytest.FixtureRequest, demo_file: Path, tmp_path: Path
) -> None:
    source_path = tmp_path / "source.duckdb"
    shutil.copy(demo_file, source_path)
    with billing_core.open_ledger(str(source_path)) as source, source.db.writing() as cur:
        cur.execute("UPDATE wallets SET balance = balance + 1 WHERE workspace_id = 1")  # damage it
    target_url = _target(store, request, tmp_path)
    with (
        billing_core.open_ledger(str(source_path)) as source,
        billing_core.open_ledger(target_url, create=True) as target,
    ):
        with pytest.raises(LedgerCorrupt):
            copy_ledger(source, target)
        assert not target.has_data()


def test_the_command_line_reports_the_copy_and_refuses_a_server_source(
    store: str, request: pytest.FixtureRequest, demo_file: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source_path = tmp_path / "source.duckdb"
    shutil.copy(demo_file, source_path)
    target_url = _target(store, request, tmp_path)
    with billing_core.open_ledger(str(source_path)) as source:
        entries = source.verify().entries
    assert main(["migrate", "--from", str(source_path), "--to", target_url]) == 0
    out = capsys.readouterr().out
    assert "verify() passed on both" in out and f"{entries:,} entries" in out
    assert main(["migrate", "--from", "postgresql://x@127.0.0.1:1/x", "--to", target_url]) == 1
    assert "Migrate from a DuckDB ledger file" in capsys.readouterr().err
    assert main(["migrate", "--from", str(tmp_path / "missing.duckdb"), "--to", target_url]) == 1


def test_a_ledger_is_not_copied_onto_itself(demo_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "same.duckdb"
    shutil.copy(demo_file, path)
    with billing_core.open_ledger(str(path)) as source:
        with pytest.raises(InvalidInput):
            copy_ledger(source, source)


def test_the_rate_card_usage_and_remainders_are_copied(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Issue 15's tables and columns move too: prices, carried remainders, the quantity, unit
    and rate of usage debits, idempotency keys of usage, external ids."""
    source_path = str(tmp_path / "usage.duckdb")
    with billing_core.open_ledger(source_path, create=True) as source:
        admin = source.add_user("ada@example.com", "Ada", admin=True)
        acme = source.create_workspace("Acme")
        source.grant_credits(admin, acme.id, "100", description="funding")
        source.link_workspace(admin, acme.id, "team-acme")
        source.set_price(admin, "*", "token", "0.0000123457")
        used = source.consume_usage(admin, acme.id, "AI chat", 7, unit="token", description="d",
                                    idempotency_key="k1")
    with (
        billing_core.open_ledger(source_path) as source,
        billing_core.open_ledger(_target(store, request, tmp_path), create=True) as target,
    ):
        report = copy_ledger(source, target)
        assert report.rows["prices"] == 1 and report.rows["usage_remainders"] == 1
        assert target.prices(admin) == source.prices(admin)
        assert target.external_id(admin, acme.id) == "team-acme"
        assert target.history(admin, acme.id, limit=1).items[0] == used
        again = target.consume_usage(admin, acme.id, "AI chat", 7, unit="token", description="d",
                                     idempotency_key="k1")
        assert again == used  # the key and its usage came along
        nxt = target.consume_usage(admin, acme.id, "AI chat", 7, unit="token", description="d")
        assert nxt.amount == Decimal("0.0001")  # 0.0000864199 + the carried 0.0000864199
        target.verify()
