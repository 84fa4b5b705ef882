"""`make bench` keeps running: the whole benchmark at a tiny size, on DuckDB.

The benchmark builds its ledger with the journal's own statements and measures a floor
made of the journal's batch; a column added to the journal without the bench noticed
breaks it (it did once, unseen until the next `make bench`). No figure is checked here:
speed lives in the benchmark, not in tests. What is checked is that every row is
measured and the floors are there to compare with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_end_to_end_and_prints_its_floors(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--entries", "3000", "--workspaces", "20",
         "--users", "40", "--repeat", "2", "--debits-per-thread", "2", "--ingest", "1000",
         "--page-repeat", "1", "--stores", "duckdb", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    by_figure = {row.split(" | ")[0].removeprefix("| "): row.split(" | ")[1] for row in rows[1:]}
    floors = [figure for figure in by_figure if figure.startswith("FLOOR")]
    assert len(floors) == 2, floors  # group commit's and ingest's
    assert all("/s" in by_figure[figure] for figure in floors)
    for figure, duckdb in by_figure.items():
        assert "not built" not in duckdb and duckdb.strip(), (figure, duckdb)
    ingest = next(cell for figure, cell in by_figure.items() if figure.startswith("bulk ingest"))
    assert "x floor" in ingest
