from pathlib import Path

import billing_core
from billing_core import schema
from tests.conftest import fund


def test_reopening_keeps_data_and_does_not_remigrate(tmp_path: Path) -> None:
    path = str(tmp_path / "l.duckdb")
    with billing_core.open_ledger(path) as ledger:
        admin = ledger.add_user("ada@example.com", "Ada", admin=True)
        space = ledger.create_workspace("Acme")
        fund(ledger, admin, space.id, "42")
    with billing_core.open_ledger(path) as ledger:
        assert ledger.wallet(admin, space.id).balance == 42
        with ledger.db.reading() as cur:
            versions = cur.execute("SELECT version FROM schema_version").fetchall()
        assert versions == [(schema.LATEST,)]
        fund(ledger, admin, space.id, "1")  # ids continue after a reopen
        ledger.verify()


def test_default_path_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "env.duckdb"
    monkeypatch.setenv("BILLING_DB", str(path))
    with billing_core.open_ledger() as ledger:
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
