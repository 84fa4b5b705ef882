"""Issue 16 in a real browser: an administrator takes a backup from the Approvals page and
downloads the export for analysts (a zip made on click). Screenshot: admin-backups.png."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from playwright.sync_api import expect

from .conftest import ADMIN_EMAIL, DEMO_PASSWORD, SEL_EXCEPTION, open_page, sign_in, wait_for_app

TOAST = '[data-testid="stToast"]'


def test_admin_backs_up_and_downloads_the_export(app_url, ledger_path: Path, page, screenshot):
    sign_in(page, app_url, ADMIN_EMAIL, DEMO_PASSWORD)
    open_page(page, "Approvals")
    expect(page.locator(SEL_EXCEPTION)).to_have_count(0)
    backups = ledger_path.parent / "backups"
    before = {p.name for p in backups.iterdir()} if backups.exists() else set()

    page.get_by_role("button", name="Back up now").click()
    wait_for_app(page)
    expect(page.locator(TOAST).filter(has_text="Backed up")).to_be_visible()
    made = sorted({p.name for p in backups.iterdir()} - before)
    assert len(made) == 1 and made[0].startswith("billing-"), made
    manifest = json.loads((backups / made[0] / "manifest.json").read_text())
    assert manifest["taken_by"] == ADMIN_EMAIL and manifest["rows"]["entries"] > 10_000
    expect(page.get_by_test_id("stDataFrame").filter(has_text="Last entry id")).to_be_visible()
    page.get_by_role("heading", name="Export for analysts").scroll_into_view_if_needed()
    screenshot("admin-backups")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download export").click()
    download = info.value
    assert download.suggested_filename == "ledger-export_all_csv.zip"
    archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    assert sorted(archive.namelist()) == ["audit_log.csv", "export.json", "journal.csv", "requests.csv",
                                         "wallets.csv"]
    wallets = list(csv.DictReader(io.StringIO(archive.read("wallets.csv").decode("utf-8"))))
    ids = [w["workspace_id"] for w in wallets]  # one wallet per demo workspace, each once
    assert len(ids) == len(set(ids)) >= 6
    assert {w["workspace"] for w in wallets} >= {"Acme Research", "Hooli Data"}
