"""Issue 16: the Backups and Export sections an administrator finds on the Approvals page
(pages/_backups.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing_core.backup import list_backups

PAGE = "pages/approvals.py"
ADMIN = "ada@example.com"
K = "billing.backups"


@pytest.fixture
def admin_page(app_as):
    at = app_as(ADMIN, script=PAGE)
    at.run()
    assert not at.exception
    return at


def texts(at, kind: str) -> list[str]:
    return [e.value for e in at.get(kind)]


def test_an_admin_takes_a_backup_from_the_page_and_sees_it_listed(admin_page, app_ledger) -> None:
    folder = Path(app_ledger.path).parent / "backups"
    assert "No backups yet." in texts(admin_page, "alert") + [i.value for i in admin_page.info]
    assert any("Every 1 hour" in c or "No scheduled backups" in c for c in texts(admin_page, "caption"))
    admin_page.button(key=f"{K}.now").click().run()
    assert not admin_page.exception
    (manifest,) = list_backups(folder)
    assert manifest.taken_by == ADMIN and manifest.rows["entries"] > 10_000
    (table,) = [d for d in admin_page.dataframe if "Last entry id" in d.value.columns]
    assert table.value["Last entry id"].tolist() == [manifest.high_water.entries]
    assert table.value["By"].tolist() == [ADMIN]
    assert any(manifest.folder.name in t.value for t in admin_page.toast)
    # repeated in the page as a status message (screen readers do not announce toasts)
    assert any(manifest.folder.name in s.value for s in admin_page.success)


def test_a_failed_scheduled_backup_is_shown(admin_page, app_ledger) -> None:
    app_ledger.start_backups().last_error = "2026-11-27 00:00 UTC: the disk is full"
    admin_page.run()
    assert any("The last scheduled backup failed" in w.value and "disk is full" in w.value
               for w in admin_page.warning)


def test_the_export_is_made_only_when_downloaded(admin_page, app_ledger) -> None:
    button = admin_page.get("download_button")
    (export,) = [b for b in button if b.proto.label == "Download export"]
    assert export.proto.deferred_file_id and not export.proto.url  # a callable, run on click
    admin = app_ledger.user_by_email(ADMIN)
    assert not [a for a in app_ledger.audit_trail(admin, limit=20) if a.action == "ledger.export"]
    admin_page.radio(key=f"{K}.format").set_value("Parquet (pandas, DuckDB, Polars)").run()
    assert not admin_page.exception
