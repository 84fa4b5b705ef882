"""The Audit log page in AppTest (issue 11): filters, the CSV through billing_core.export,
administrators only, hostile text drawn as text."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from billing_core import Ledger

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "audit_log.py")
K = "billing.audit"
ADMIN, OTHER_ADMIN, MEMBER = "ada@example.com", "grace@example.com", "alan@example.com"


def user(ledger: Ledger, email: str):
    found = ledger.user_by_email(email)
    assert found is not None
    return found


def table(at):
    return at.dataframe[0].value


def test_members_are_told_the_log_is_for_administrators(app_as) -> None:
    at = app_as(MEMBER, script=PAGE).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["The audit log is for administrators only."]
    assert not at.dataframe


def test_the_log_shows_the_newest_changes_and_every_filter_narrows_it(app_as, app_ledger: Ledger) -> None:
    ada, grace = user(app_ledger, ADMIN), user(app_ledger, OTHER_ADMIN)
    acme = app_ledger.find_workspace(ada, "Acme Research")
    app_ledger.grant(grace, acme.id, "42", reason="Quarterly contract top-up")
    app_ledger.rename_workspace(ada, acme.id, "Acme Labs")
    at = app_as(ADMIN, script=PAGE).run()
    assert not at.exception
    shown = table(at)
    assert list(shown.columns) == ["When", "Who", "Action", "About", "Workspace", "Detail", "Before", "After"]
    assert len(shown) == 500  # the newest 500 of the demo's many
    assert list(shown["Action"][:2]) == ["session.start", "workspace.rename"]  # Ada signing in, then hers
    renamed = shown.iloc[1]
    assert (renamed["Who"], renamed["Workspace"]) == ("Ada Lovelace", "Acme Labs")
    assert (renamed["Before"], renamed["After"]) == ('{"name": "Acme Research"}', '{"name": "Acme Labs"}')
    assert "the newest" in at.caption[1].value
    at.selectbox(key=f"{K}.who").select(grace.id).run()
    at.multiselect(key=f"{K}.actions").select("wallet.grant").run()
    shown = table(at)
    assert list(shown["Detail"]) == ["Quarterly contract top-up"] and list(shown["Who"]) == ["Grace Hopper"]
    at.selectbox(key=f"{K}.who").select(-1).run()
    at.multiselect(key=f"{K}.actions").unselect("wallet.grant").run()
    at.text_input(key=f"{K}.search").input("quarterly").run()
    assert list(table(at)["Action"]) == ["wallet.grant"]
    at.text_input(key=f"{K}.search").input("").run()
    other = app_ledger.find_workspace(ada, "Globex Marketing")
    at.selectbox(key=f"{K}.space").select(other.id).run()
    assert set(table(at)["Workspace"]) == {"Globex Marketing"}
    at.date_input(key=f"{K}.since").set_value(date(2026, 11, 28)).run()
    assert [i.value for i in at.info] == ["No change matches these filters."]


def test_the_csv_is_the_whole_filtered_log_made_inert(app_as, app_ledger: Ledger) -> None:
    ada = user(app_ledger, ADMIN)
    acme = app_ledger.find_workspace(ada, "Acme Research")
    app_ledger.grant(ada, acme.id, "7", reason="=HYPERLINK(\"https://evil.example\") \u202eevil")
    at = app_as(ADMIN, script=PAGE).run()
    at.multiselect(key=f"{K}.actions").select("wallet.grant").run()
    assert not at.exception
    shown = table(at)
    assert shown.iloc[0]["Detail"] == "=HYPERLINK(\"https://evil.example\") <U+202E>evil"  # text, seen
    from pages._audit_table import Filters, audit_csv

    data = audit_csv(app_ledger, ada, Filters(None, ("wallet.grant",), None, None, None, None)).decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) == len(app_ledger.audit_events(ada, action="wallet.grant", limit=100_000))
    assert rows[0]["detail"] == "'=HYPERLINK(\"https://evil.example\") <U+202E>evil"
    assert "\u202e" not in data
