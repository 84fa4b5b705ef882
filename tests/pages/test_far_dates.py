"""Entries dated at the ends of the calendar (written before ingest refused such dates, or
by another tool) never break a page, whatever the viewer's time zone."""

from __future__ import annotations

from datetime import datetime

import pytest

from billing_core import Ledger
from tests.pages.test_billing import history_rows

ACME = 1


@pytest.fixture
def far_entries(app_ledger: Ledger) -> list[int]:
    """Two debits of Acme dated year 9999 and year 1, written as an old version could have."""
    db = app_ledger.db
    ids = []
    with db.writing() as cur:
        for when in (datetime(9999, 12, 31, 23, 59), datetime(1, 1, 1, 0, 0)):
            entry_id = db.next_id("entries")
            cur.execute(
                "INSERT INTO entries (id, workspace_id, kind, amount, description, feature, created_at,"
                " actor_id, request_id) VALUES (?, ?, 'debit', 1, 'far away', 'AI chat', ?, NULL, NULL)",
                [entry_id, ACME, when],
            )
            ids.append(entry_id)
    return ids


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles", "UTC"])
def test_the_billing_page_shows_far_dates_without_a_traceback(app_as, far_entries, zone: str):
    at = app_as("alan@example.com")
    at.context["timezone"] = zone
    at.run()
    assert not at.exception
    shown = " ".join(history_rows(at)["Date"])
    assert "9999-12-3" in shown and "0001-01-01" in shown  # both listed, readable
