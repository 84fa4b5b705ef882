"""Backups and the export for analysts, for administrators (drawn on the Approvals page).

Not a page (the underscore keeps it out of navigation). The app's backup thread takes
the scheduled backups (billing_core/backup_schedule.py); here an administrator sees them,
takes one now, and downloads the journal, wallets, requests and audit log as a zip of
CSV (cells made inert by billing_core.export) or Parquet files.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import pandas as pd
import streamlit as st

from billing_core import Ledger, User
from billing_core.backup import Manifest
from billing_core.export import file_name
from billing_core.store import as_utc
from pages import _notice
from pages._notice import Notice
from pages._shared import local_time, plain

KEY = "billing.backups"
NOTICES = KEY  # the Backups section's place for the notice helper
FORMATS = {"CSV (spreadsheets)": "csv", "Parquet (pandas, DuckDB, Polars)": "parquet"}


def backups_section(ledger: Ledger, admin: User) -> None:
    st.header("Backups", anchor=False)
    _notice.show(NOTICES)
    schedule, backups, failed = ledger.backup_overview(admin)
    st.caption(plain(schedule + " Each backup is a verified copy of the whole ledger with a "
                     "manifest; restore one with billing restore --from BACKUP --to NEW_FILE."))
    if failed:
        st.warning(plain(f"The last scheduled backup failed ({failed}). Backups are retried at "
                         "the next scheduled time."), icon=":material/warning:")
    if st.button("Back up now", key=f"{KEY}.now", icon=":material/backup:"):
        with st.spinner("Backing up the ledger…"):
            manifest = ledger.backup_now(admin)
        # the folder's name is the backup's own (billing-<time>-e<id>), no user text
        done = f"Backed up: {manifest.folder.name} ({manifest.rows.get('entries', 0):,} transactions)."
        _notice.notify(NOTICES, Notice(done, toast=done))
        st.rerun()
    if not backups:
        st.info("No backups yet.", icon=":material/info:")
        return
    st.dataframe(backup_table(backups), hide_index=True, width="stretch", key=f"{KEY}.list")


def backup_table(backups: list[Manifest]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Taken": [local_time(as_utc(m.taken_at)) for m in backups],
            "By": [m.taken_by for m in backups],
            "Transactions": [m.rows.get("entries", 0) for m in backups],
            "Last entry id": [m.high_water.entries for m in backups],
            "Size (MB)": [round(m.size / 1_000_000, 1) for m in backups],
            "Folder": [str(m.folder) for m in backups],
        }
    )


def export_section(ledger: Ledger, admin: User) -> None:
    st.header("Export for analysts", anchor=False)
    st.caption("The journal, wallets, credit requests and audit log, read at one moment, as a zip "
               "of files that spreadsheets, pandas and DuckDB open directly (times in UTC). The "
               "export is made when you download it, and recorded in the audit log.")
    left, right = st.columns(2)
    since = left.date_input("From (leave empty for everything)", value=None, key=f"{KEY}.since",
                            max_value=ledger.today())
    choice = right.radio("Format", list(FORMATS), key=f"{KEY}.format", horizontal=True)
    start = since if isinstance(since, date) else None
    fmt = FORMATS[str(choice)]
    st.download_button(
        "Download export",
        data=partial(ledger.export_archive, admin, since=start, formats=(fmt,)),  # made on click
        file_name=file_name("ledger-export", start.isoformat() if start else "all", fmt, extension="zip"),
        mime="application/zip",
        key=f"{KEY}.download",
        icon=":material/download:",
        on_click="ignore",
    )
