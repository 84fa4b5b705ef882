from pathlib import Path

import duckdb
import pytest

import billing_core
from billing_core import LedgerUnavailable, schema
from billing_core.cli import main as cli_main
from tests.conftest import fund


def test_reopening_keeps_data_and_does_not_remigrate(tmp_path: Path) -> None:
    path = str(tmp_path / "l.duckdb")
    with billing_core.open_ledger(path, create=True) as ledger:
        admin = ledger.add_user("ada@example.com", "Ada", admin=True)
        space = ledger.create_workspace("Acme")
        fund(ledger, admin, space.id, "42")
    with billing_core.open_ledger(path) as ledger:
        assert ledger.wallet(admin, space.id).balance == 42
        with ledger.db.reading() as cur:
            versions = cur.execute("SELECT version FROM schema_version").fetchall()
        # each migration applied once (numbers may have gaps while branches merge)
        assert sorted(v for (v,) in versions) == [n for n, _ in schema.MIGRATIONS]
        fund(ledger, admin, space.id, "1")  # ids continue after a reopen
        ledger.verify()


def test_default_path_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "env.duckdb"
    monkeypatch.setenv("BILLING_DB", str(path))
    with billing_core.open_ledger(create=True) as ledger:
        assert ledger.path == str(path)
    assert path.exists()


def test_no_code_updates_or_deletes_ledger_entries() -> None:
    """Append-only: no statement in billing_core changes or removes entries, postings or audit."""
    import re

    source = "\n".join(p.read_text() for p in Path(billing_core.__file__).parent.glob("*.py"))
    for table in ("entries", "postings", "audit_log"):
        assert not re.search(rf"UPDATE\s+{table}\b", source, re.IGNORECASE)
        assert not re.search(rf"DELETE\s+FROM\s+{table}\b", source, re.IGNORECASE)
        assert not re.search(rf"DROP\s+TABLE\s+(IF\s+EXISTS\s+)?{table}\b", source, re.IGNORECASE)
        assert not re.search(rf"TRUNCATE\s+(TABLE\s+)?{table}\b", source, re.IGNORECASE)


def test_a_missing_file_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    where = tmp_path / "no-such-dir" / "ledger.duckdb"
    with pytest.raises(LedgerUnavailable, match="billing init"):
        billing_core.open_ledger(str(where))
    assert not where.parent.exists()


def test_another_programs_duckdb_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    where = tmp_path / "other.duckdb"
    with duckdb.connect(str(where)) as con:
        con.execute("CREATE TABLE customers (id INTEGER, name VARCHAR)")
        con.execute("INSERT INTO customers VALUES (1, 'Ada')")
    before = where.read_bytes()
    for create in (False, True):
        with pytest.raises(LedgerUnavailable, match="another program's database"):
            billing_core.open_ledger(str(where), create=create)
    assert where.read_bytes() == before
    with duckdb.connect(str(where)) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    assert tables == ["customers"]


def test_an_empty_database_file_becomes_a_ledger_only_when_asked(tmp_path: Path) -> None:
    where = tmp_path / "empty.duckdb"
    duckdb.connect(str(where)).close()
    with pytest.raises(LedgerUnavailable, match="holds no ledger yet"):
        billing_core.open_ledger(str(where))
    with billing_core.open_ledger(str(where), create=True) as ledger:
        assert not ledger.has_data()


def test_init_creates_and_other_commands_refuse_a_missing_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = str(tmp_path / "new" / "ledger.duckdb")
    assert cli_main(["balance", "1", "--db", where]) == 1
    assert "There is no ledger at" in capsys.readouterr().err
    assert not Path(where).exists()
    assert cli_main(["init", "--db", where]) == 0
    assert cli_main(["verify", "--db", where]) == 0


def test_migration_2_keeps_every_idempotency_key_and_scopes_it_to_its_workspace(tmp_path: Path) -> None:
    where = tmp_path / "v1.duckdb"
    with duckdb.connect(str(where)) as con:  # a ledger as the first version left it
        con.execute(schema.MIGRATIONS[0][1])
        schema.seed_constants(con)
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)")
        con.execute("INSERT INTO schema_version VALUES (1, TIMESTAMP '2026-01-01')")
        con.execute("INSERT INTO idempotency_keys VALUES ('k-1', 7, 1, 2.5, 'AI'), ('k-2', 8, 1, 1, NULL)")
        con.execute("INSERT INTO sign_in_attempts VALUES ('a@example.com', TIMESTAMP '2026-01-01', TRUE)")
    with billing_core.open_ledger(str(where)) as ledger, ledger.db.reading() as cur:
        keys = cur.execute("SELECT * FROM idempotency_keys ORDER BY key").fetchall()
        assert [k[:3] for k in keys] == [("k-1", 7, 1), ("k-2", 8, 1)]
        pk = cur.execute(
            "SELECT constraint_text FROM duckdb_constraints() "
            "WHERE table_name = 'idempotency_keys' AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()
        assert pk == [('PRIMARY KEY(workspace_id, "key")',)]
        assert cur.execute("SELECT client FROM sign_in_attempts").fetchall() == [(None,)]


def test_a_migration_merged_below_the_latest_is_still_applied(tmp_path: Path, monkeypatch) -> None:
    """Migrations apply by number, not by the highest applied: a ledger already at 7 without
    5 (the grants', merged after 6 and 7 on main) gets 5 when it next opens, once."""
    path = str(tmp_path / "l.duckdb")
    full = schema.MIGRATIONS
    with monkeypatch.context() as before_grants, duckdb.connect(path) as con:  # as main left it
        before_grants.setattr(schema, "MIGRATIONS", tuple(m for m in full if m[0] != 5))
        assert schema.migrate(con) == 7
        assert 5 not in {v for (v,) in con.execute("SELECT version FROM schema_version").fetchall()}
    for _ in range(2):
        with billing_core.open_ledger(path) as ledger, ledger.db.reading() as cur:
            versions = sorted(v for (v,) in cur.execute("SELECT version FROM schema_version").fetchall())
            assert versions == [n for n, _ in schema.MIGRATIONS]
            assert cur.execute("SELECT count(*) FROM grants").fetchone() == (0,)
        with billing_core.open_ledger(path) as ledger:
            ledger.verify()
