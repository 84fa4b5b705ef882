"""The `billing` command: readable one-line errors, non-zero exits, no tracebacks."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from billing_core.cli import main


@pytest.fixture
def db(demo_file: Path, tmp_path: Path) -> str:
    copy = tmp_path / "ledger.duckdb"
    shutil.copy(demo_file, copy)
    return str(copy)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_balance_and_history(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "balance", "Umbrella Labs", "--db", db)
    assert code == 0 and out.strip() == "Umbrella Labs: 0.00 en-credits (active)"
    code, out, _ = run(capsys, "history", "1", "--limit", "3", "--db", db)
    assert code == 0 and len(out.strip().splitlines()) == 3


def test_consume_debits_and_reports_the_balance(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, before, _ = run(capsys, "balance", "1", "--db", db)
    code, out, _ = run(
        capsys, "consume", "1", "2.5", "--feature", "AI chat", "--description", "cli", "--db", db
    )
    assert code == 0 and out.startswith("Debited 2.50 en-credits from Acme Research")
    _, after, _ = run(capsys, "balance", "1", "--db", db)
    assert before != after


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["consume", "1", "abc", "--feature", "f", "--description", "d"], "plain number"),
        (["consume", "1", "-5", "--feature", "f", "--description", "d"], "greater than zero"),
        (["consume", "Umbrella Labs", "1", "--feature", "f", "--description", "d"], "No credits available"),
        (["consume", "Hooli Data", "1", "--feature", "f", "--description", "d"], "inactive"),
        (["consume", "99", "1", "--feature", "f", "--description", "d"], "no workspace"),
        (["balance", "'; DROP TABLE entries; --"], "no workspace"),
        (["history", "1", "--limit", "0"], "1 to 500"),
        (["balance", "2", "--as", "alan@example.com"], "not a member"),
        (["balance", "1", "--as", "nobody@example.com"], "no user"),
        (["consume", "1", "1", "--feature", "f", "--description", "d", "--as", ""], "is empty"),
        (["consume", "1", "1", "--feature", "f", "--description", "d", "--as", "  "], "is empty"),
    ],
)
def test_user_mistakes_are_one_line_and_nonzero(
    db: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, *args, "--db", db)
    assert code == 1 and out == ""
    assert err.startswith("billing: ") and message in err and len(err.strip().splitlines()) == 1


def test_seed_refuses_a_ledger_with_data(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "seed", "--db", db)
    assert code == 1 and "already holds data" in err
    code, out, _ = run(capsys, "seed", "--db", db, "--if-missing")
    assert code == 0 and "not seeding" in out


def test_init_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "new" / "ledger.duckdb")
    assert run(capsys, "init", "--db", path)[0] == 0
    code, out, _ = run(capsys, "verify", "--db", path)
    assert code == 0 and "books balance" in out


def test_a_second_process_gets_a_clear_message(db: str) -> None:
    """While another process holds the ledger (the app), the CLI explains and exits 1."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({db!r}); print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        done = subprocess.run(
            [sys.executable, "-m", "billing_core.cli", "balance", "1", "--db", db],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert "in use by another process" in done.stderr and "Traceback" not in done.stderr


def test_a_damaged_file_is_refused_not_repaired(tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"this is not a ledger" * 100)
    done = subprocess.run(
        [sys.executable, "-m", "billing_core.cli", "balance", "1", "--db", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "damaged" in done.stderr and "Traceback" not in done.stderr
    assert bad.read_bytes() == b"this is not a ledger" * 100


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_actor_variable_is_refused_not_the_operator(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    _, before, _ = run(capsys, "balance", "1", "--db", db)
    monkeypatch.setenv("BILLING_ACTOR", value)
    code, out, err = run(capsys, "consume", "1", "1", "--feature", "f", "--description", "d", "--db", db)
    assert code == 1 and "is empty" in err and out == ""
    monkeypatch.delenv("BILLING_ACTOR")
    _, after, _ = run(capsys, "balance", "1", "--db", db)
    assert before == after  # nothing was debited


def test_the_first_admin_is_created_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    import billing_core

    where = str(tmp_path / "fresh.duckdb")
    assert main(["init", "--db", where]) == 0
    with billing_core.open_ledger(where) as ledger:
        assert not ledger.has_admin()
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    code, out, err = run(capsys, "admin", "create", "Root@Example.com", "--name", "Root",
                         "--password-stdin", "--db", where)
    assert code == 0 and "root@example.com" in out, err
    with billing_core.open_ledger(where) as ledger:
        assert ledger.has_admin()
        assert ledger.authenticate("root@example.com", "correct horse battery").is_admin
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, "admin", "create", "two@example.com", "--name", "Two",
                       "--password-stdin", "--db", where)
    assert code == 1 and "password must be" in err
