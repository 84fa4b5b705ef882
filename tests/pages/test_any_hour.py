"""The pages look the same whatever hour the demo is built and viewed at.

The demo ends at the ledger's clock ("now") and every relative time on a page is
measured from that clock, never the wall clock. Built and viewed at 00:30 and at
23:30 UTC of one day, and across a daylight-saving change in the viewer's zone, the
Billing and Approvals pages have the same elements in the same order, reading the
same once digits are masked (the times themselves move; "7 h ago" must not turn into
"1 d ago").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import billing_core
from billing_core.clock import CLOCK_VARIABLE
from billing_core.demo import WORKSPACE_NAMES, seed_demo
from tests.conftest import signed_in_as

ROOT = Path(__file__).resolve().parents[2]
PAGES = {"Billing": ("pages/billing.py", "alan@example.com"),
         "Approvals": ("pages/approvals.py", "ada@example.com")}
# (day, viewer's zone): an ordinary day, and the two days Europe/Berlin changes its clocks
# (at 01:00 UTC, between the 00:30 and the 23:30 views).
DAYS = [
    ("2026-11-27", "UTC"),
    ("2026-03-29", "Europe/Berlin"),
    ("2026-10-25", "Europe/Berlin"),
]


# A chart's summary names the workspace that spent the most in its window, and the last
# 30 days hold nearly a day more of the story at 23:30 than at 00:30: when two teams spent
# about the same, the name may differ while the sentence is the same.
WORKSPACES = re.compile("|".join(re.escape(n) for n in WORKSPACE_NAMES))


def shape(at: AppTest) -> list[tuple[str, str]]:
    """Every element in drawing order as (type, text with its digits masked, and the
    workspace names in what is written as markdown)."""
    out = []
    for node in at.main:
        text = getattr(node, "value", None) if not hasattr(node, "children") else None
        label = getattr(node, "label", None) if hasattr(node, "children") else None
        shown = text if isinstance(text, str) else label if isinstance(label, str) else ""
        if node.type == "markdown":
            shown = WORKSPACES.sub("<workspace>", shown)
        out.append((node.type, re.sub(r"[0-9]+", "#", shown)))
    return out


def render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, now: datetime, zone: str,
           page: str) -> tuple[list[tuple[str, str]], AppTest]:
    from pages import _shared

    path = tmp_path / f"demo-{now:%Y%m%dT%H%M}.duckdb"
    if not path.exists():
        with billing_core.open_ledger(str(path), clock=lambda: now, create=True) as book:
            seed_demo(book, months=2, now=now)
    monkeypatch.setenv("BILLING_DB", str(path))
    monkeypatch.setenv(CLOCK_VARIABLE, now.isoformat() + "Z")
    _shared.get_ledger.clear()
    script, email = PAGES[page]
    try:
        user = _shared.get_ledger().user_by_email(email)
        assert user is not None
        at = AppTest.from_file(str(ROOT / script), default_timeout=30)
        signed_in_as(at, _shared.get_ledger(), user)
        at.context["timezone"] = zone
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return shape(at), at
    finally:
        _shared.get_ledger().close()
        _shared.get_ledger.clear()


@pytest.fixture
def views(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def view(now: datetime, zone: str, page: str) -> tuple[list[tuple[str, str]], AppTest]:
        return render(tmp_path, monkeypatch, now, zone, page)

    yield view


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize(("day", "zone"), DAYS)
def test_a_page_has_the_same_shape_at_half_past_midnight_and_half_past_eleven(
    views, day: str, zone: str, page: str
):
    early, _ = views(datetime.fromisoformat(f"{day}T00:30:00"), zone, page)
    late, late_at = views(datetime.fromisoformat(f"{day}T23:30:00"), zone, page)
    assert len(early) > 20  # a whole page was drawn, not an error
    assert early == late
    if page == "Approvals":
        captions = " ".join(c.value for c in late_at.caption)
        assert " h ago" in captions  # the teams still waiting asked hours ago, not days
