"""`make run` as an operator would type it, with the programs it starts replaced by stubs
that record their arguments: what gets seeded, and where the app listens."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stub_venv(tmp_path: Path) -> tuple[Path, Path]:
    """A venv whose `python` and `billing` only log how they were called."""
    venv, log = tmp_path / "venv", tmp_path / "calls.log"
    (venv / "bin").mkdir(parents=True)
    for program in ("python", "billing"):
        stub = venv / "bin" / program
        stub.write_text(f'#!/bin/sh\necho "{program} $*" >> "{log}"\n')
        stub.chmod(0o755)
    (venv / ".installed").touch()  # newer than pyproject.toml: nothing to install
    os.utime(venv / ".installed", (2**31 - 1, 2**31 - 1))
    return venv, log


def make_run(venv: Path, *assignments: str) -> list[str]:
    done = subprocess.run(["make", "--no-print-directory", "run", f"VENV={venv}", *assignments],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return (venv.parent / "calls.log").read_text().splitlines()


def test_make_run_seeds_its_own_default_file_and_listens_on_loopback(stub_venv) -> None:
    venv, _ = stub_venv
    calls = make_run(venv)
    assert calls[0] == "billing seed --db data/billing.duckdb --if-missing"
    assert "--server.address 127.0.0.1" in calls[1] and "streamlit run app.py" in calls[1]


@pytest.mark.parametrize("db", ["postgresql://billing@db.internal/billing", "/srv/ledger.duckdb"])
def test_make_run_never_seeds_the_demo_into_another_database(stub_venv, db: str) -> None:
    venv, _ = stub_venv
    calls = make_run(venv, f"DB={db}")
    assert not [c for c in calls if c.startswith("billing")], calls  # no seed, no demo password
    assert len(calls) == 1 and "streamlit run app.py" in calls[0]


def test_make_run_can_be_told_to_listen_elsewhere(stub_venv) -> None:
    venv, _ = stub_venv
    assert "--server.address 0.0.0.0" in make_run(venv, "ADDRESS=0.0.0.0")[-1]
