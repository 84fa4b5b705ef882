"""Sizes, the stress tally and its summary table, for the hardening battery.

Every long test takes the `size` fixture and so runs twice over: `small` (no marker,
part of `make test`) and `full` (marked `stress`, the sizes of issue 4). A plain
`pytest tests/hardening` leaves the full sizes out unless `-m stress` or
`BILLING_STRESS=1` asks for them:

    make test    ->  pytest -m "not stress"                  (small sizes)
    make stress  ->  pytest -q -m stress tests/hardening     (full sizes + the table)

Tests record what they did through the `tally` fixture (runs, operations, and every
failure they found, which they then assert is zero). At the end of a run that included a
full-size test, or with `BILLING_TALLY=1`, the table is printed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

HERE = Path(__file__).resolve().parent
STRESS_TIMEOUT = 1_800  # seconds for one full-size test (pyproject's default is 300)
T = TypeVar("T")


@dataclass(frozen=True)
class Size:
    name: str

    @property
    def full(self) -> bool:
        return self.name == "full"

    def pick(self, small: T, full: T) -> T:
        return full if self.full else small


SMALL, FULL = Size("small"), Size("full")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "size" in metafunc.fixturenames:
        metafunc.parametrize(
            "size",
            [
                pytest.param(SMALL, id="small"),
                pytest.param(
                    FULL, id="full", marks=[pytest.mark.stress, pytest.mark.timeout(STRESS_TIMEOUT)]
                ),
            ],
        )


def _stress_wanted(config: pytest.Config) -> bool:
    return bool(os.environ.get("BILLING_STRESS")) or "stress" in (config.option.markexpr or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without `-m ...stress...` or BILLING_STRESS=1, leave this folder's full sizes out."""
    if _stress_wanted(config):
        return
    keep, drop = [], []
    for item in items:
        mine = HERE in Path(str(item.path)).resolve().parents
        (drop if mine and item.get_closest_marker("stress") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --------------------------------------------------------------------------- tally
@dataclass
class Tally:
    """What one test did: runs, operations, and the failures it found (with examples)."""

    test: str
    size: str
    runs: int = 0
    operations: int = 0
    failures: int = 0
    examples: list[str] = field(default_factory=list)
    note: str = ""  # one short remark for the table
    outcome: str = ""
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, runs: int = 0, operations: int = 0) -> None:
        with self._lock:
            self.runs += runs
            self.operations += operations

    def problem(self, text: str) -> None:
        """Count a failure found; keep the first few for the assertion message."""
        with self._lock:
            self.failures += 1
            if len(self.examples) < 12:
                self.examples.append(text[:300])

    def problems(self, texts: list[str]) -> None:
        for text in texts:
            self.problem(text)

    def assert_clean(self) -> None:
        assert self.failures == 0, f"{self.failures} failures found, e.g.:\n  " + "\n  ".join(self.examples)


_TALLIES = pytest.StashKey[dict[str, Tally]]()


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    spec = getattr(request.node, "callspec", None)
    size_name = spec.params["size"].name if spec and "size" in spec.params else "-"
    others = "-".join(p for p in (spec.id.split("-") if spec else []) if p != size_name)
    name = request.node.originalname.removeprefix("test_") + (f"[{others}]" if others else "")
    record = Tally(name, size_name)
    request.config.stash.setdefault(_TALLIES, {})[request.node.nodeid] = record
    yield record


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    record = item.config.stash.get(_TALLIES, {}).get(item.nodeid)
    if record is not None and (report.when == "call" or report.failed):
        record.seconds += call.duration
        if hasattr(report, "wasxfail"):
            record.outcome = "xfailed" if report.skipped else "XPASS"
        elif report.failed:
            record.outcome = "FAILED"
        elif report.when == "call":
            record.outcome = "passed"
    return report


def pytest_terminal_summary(terminalreporter: object, exitstatus: int, config: pytest.Config) -> None:
    records = list(config.stash.get(_TALLIES, {}).values())
    if not records:
        return
    if not (any(r.size == "full" for r in records) or os.environ.get("BILLING_TALLY")):
        return
    tr = terminalreporter
    headers = ("test", "size", "runs", "operations", "failures found", "result", "seconds", "note")
    rows = [
        (
            r.test,
            r.size,
            f"{r.runs:,}",
            f"{r.operations:,}",
            f"{r.failures:,}",
            r.outcome or "?",
            f"{r.seconds:,.1f}",
            r.note,
        )
        for r in sorted(records, key=lambda r: (r.test, r.size))
    ]
    rows.append(
        (
            "total",
            "",
            f"{sum(r.runs for r in records):,}",
            f"{sum(r.operations for r in records):,}",
            f"{sum(r.failures for r in records):,}",
            "",
            f"{sum(r.seconds for r in records):,.1f}",
            "",
        )
    )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    right = {2, 3, 4, 6}

    def line(cells: tuple[str, ...]) -> str:
        return " | ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    tr.write_sep("=", "hardening battery: stress summary")  # type: ignore[attr-defined]
    tr.write_line(line(headers))  # type: ignore[attr-defined]
    tr.write_line("-+-".join("-" * w for w in widths))  # type: ignore[attr-defined]
    for row in rows:
        tr.write_line(line(row))  # type: ignore[attr-defined]
