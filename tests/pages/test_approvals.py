"""The Approvals page in AppTest, over a fresh copy of the demo ledger.

Every action is checked in the ledger (`app_ledger`) as well as on screen.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from billing_core import Ledger, RequestStatus, WalletStatus

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "approvals.py")
ADMIN = "ada@example.com"
OTHER_ADMIN = "grace@example.com"
MEMBER = "alan@example.com"
K = "billing.approvals"


@pytest.fixture
def admin_page(app_as):
    """The Approvals page, signed in as Ada, after its first run."""
    at = app_as(ADMIN, script=PAGE)
    at.run()
    assert not at.exception
    return at


def user(ledger: Ledger, email: str):
    found = ledger.user_by_email(email)
    assert found is not None
    return found


def balance(ledger: Ledger, workspace_id: int) -> Decimal:
    return ledger.wallet(user(ledger, ADMIN), workspace_id).balance


def request(ledger: Ledger, request_id: int):
    return ledger.credit_request(user(ledger, ADMIN), request_id)


def pending_ids(ledger: Ledger) -> list[int]:
    return [r.id for r in ledger.requests(user(ledger, ADMIN), status="pending")]


def texts(at, kind: str) -> list[str]:
    """What the elements of a kind read as, with plain()'s markdown escapes removed."""
    return [re.sub(r"\\(.)", r"\1", str(e.value)) for e in getattr(at, kind)]


def raw(at, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def table_with(at, column: str):
    """The first table drawn with this column (st.dataframe keeps no key in AppTest)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")


def shown_cells(at, column: str):
    """The table with this column as the reader sees it: the Styler's display strings."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    frame = next(f for f in at.dataframe if column in f.value.columns)
    return convert_arrow_bytes_to_pandas_df(frame.proto.arrow_data.styler.display_values)


def tinted_rows(at, column: str) -> dict[int, str]:
    """Row number -> background colour, from the pandas Styler behind that table."""
    frame = next(f for f in at.dataframe if column in f.value.columns)
    css = frame.proto.arrow_data.styler.styles
    return {int(row): colour.strip()
            for row, colour in re.findall(r"_row(\d+)_col0\b[^{]*\{ background-color: ([^}]+)\}", css)}


def card_ids(at) -> list[int]:
    """Request ids in the order their Approve buttons are drawn."""
    prefix = f"{K}.approve."
    return [int(b.key[len(prefix):]) for b in at.button if b.key and b.key.startswith(prefix)
            and b.key[len(prefix):].isdigit()]


def approve(at, request_id: int, note: str = ""):
    at.text_input(key=f"{K}.note.{request_id}").input(note)
    at.button(key=f"{K}.approve.{request_id}").click()
    return at.run()


def reject(at, request_id: int, note: str = ""):
    at.text_input(key=f"{K}.note.{request_id}").input(note)
    at.button(key=f"{K}.reject.{request_id}").click()
    return at.run()


# --------------------------------------------------------------------------- the queue


def test_admin_sees_the_three_pending_requests_oldest_first(admin_page, app_ledger):
    pending = app_ledger.requests(user(app_ledger, ADMIN), status="pending")
    assert len(pending) >= 3  # the demo leaves a few teams waiting
    times = [r.requested_at for r in pending]
    assert times == sorted(times)
    assert card_ids(admin_page) == [r.id for r in pending]
    cards = [m for m in texts(admin_page, "markdown") if " · request #" in m]
    assert all(r.workspace_name in card for r, card in zip(pending, cards, strict=True))
    captions = " ".join(texts(admin_page, "caption"))
    assert "Alan Turing" in captions and " h ago" in captions
    ada = user(app_ledger, ADMIN)
    acme = next(w for w in app_ledger.workspaces(ada) if w.name == "Acme Research")
    assert f"Balance {app_ledger.wallet(ada, acme.id).balance:,.2f} en-credits" in captions
    assert "/day (last 30 days)" in captions  # the burn rate
    notes = [f"Note: {r.note}" for r in pending if r.note]  # whatever the demo's teams wrote
    assert notes and all(n in texts(admin_page, "text") for n in notes)


def test_approving_credits_the_wallet_exactly_once(admin_page, app_ledger):
    first = pending_ids(app_ledger)[0]
    workspace_id = request(app_ledger, first).workspace_id
    before = balance(app_ledger, workspace_id)

    approve(admin_page, first, "Budget confirmed")

    assert not admin_page.exception
    assert not texts(admin_page, "error")
    assert any(f"Approved #{first}" in t for t in texts(admin_page, "toast"))
    assert any(f"Approved #{first}" in t for t in texts(admin_page, "success"))  # in the page too
    decided = request(app_ledger, first)
    assert decided.status is RequestStatus.APPROVED
    assert decided.decided_by_name == "Ada Lovelace"
    assert decided.decision_note == "Budget confirmed"
    assert balance(app_ledger, workspace_id) == before + decided.amount
    assert first not in card_ids(admin_page)

    admin_page.run()  # a further run (a refresh) credits nothing more
    assert balance(app_ledger, workspace_id) == before + decided.amount
    admin = user(app_ledger, ADMIN)
    credits = app_ledger.history(admin, workspace_id, search=f"Credit request #{first} approved")
    assert len(credits.items) == 1
    assert app_ledger.verify().ok


def test_rejecting_without_a_note_shows_the_error_and_changes_nothing(admin_page, app_ledger):
    first = pending_ids(app_ledger)[0]
    workspace_id = request(app_ledger, first).workspace_id
    before = balance(app_ledger, workspace_id)
    audit_before = len(app_ledger.audit_trail(user(app_ledger, ADMIN), limit=10_000))

    reject(admin_page, first, "   ")

    assert not admin_page.exception
    assert any("reason for the rejection" in e for e in texts(admin_page, "error"))
    assert request(app_ledger, first).status is RequestStatus.PENDING
    assert balance(app_ledger, workspace_id) == before
    assert len(app_ledger.audit_trail(user(app_ledger, ADMIN), limit=10_000)) == audit_before
    assert first in card_ids(admin_page)


def test_rejecting_with_a_note_records_it_and_credits_nothing(admin_page, app_ledger):
    first = pending_ids(app_ledger)[0]
    workspace_id = request(app_ledger, first).workspace_id
    before = balance(app_ledger, workspace_id)

    reject(admin_page, first, "Please wait for the new budget")

    assert not texts(admin_page, "error")
    assert any(f"Rejected #{first}" in t for t in texts(admin_page, "toast"))
    decided = request(app_ledger, first)
    assert decided.status is RequestStatus.REJECTED
    assert decided.decision_note == "Please wait for the new budget"
    assert balance(app_ledger, workspace_id) == before
    assert first not in card_ids(admin_page)
    log = table_with(admin_page, "Decision note")
    top = log.iloc[0]
    assert (top["Request"], top["Outcome"]) == (f"#{first}", "rejected")
    assert (top["Decided by"], top["Decision note"]) == ("Ada Lovelace",
                                                         "Please wait for the new budget")
    assert app_ledger.verify().ok


def test_a_request_another_admin_decided_first_shows_already_approved(admin_page, app_ledger):
    first = pending_ids(app_ledger)[0]
    workspace_id = request(app_ledger, first).workspace_id
    before = balance(app_ledger, workspace_id)
    app_ledger.approve_request(user(app_ledger, OTHER_ADMIN), first, "Done it")

    approve(admin_page, first, "Me too")

    assert not admin_page.exception
    errors = texts(admin_page, "error")
    assert any(f"Request #{first} was already approved by Grace Hopper" in e for e in errors)
    assert request(app_ledger, first).decided_by_name == "Grace Hopper"
    assert balance(app_ledger, workspace_id) == before + request(app_ledger, first).amount
    assert app_ledger.verify().ok


def test_an_admin_cannot_approve_their_own_request(app_as, app_ledger):
    ada = user(app_ledger, ADMIN)
    acme = next(w for w in app_ledger.workspaces(ada) if w.name == "Acme Research")
    own = app_ledger.request_credits(ada, acme.id, "300", "For my own experiment")
    before = balance(app_ledger, acme.id)
    at = app_as(ADMIN, script=PAGE).run()
    assert any("another administrator must approve" in c for c in texts(at, "caption"))

    approve(at, own.id)

    assert any("You cannot approve your own request" in e for e in texts(at, "error"))
    assert request(app_ledger, own.id).status is RequestStatus.PENDING
    assert balance(app_ledger, acme.id) == before


def test_bulk_approve_of_two_requests_reports_each(admin_page, app_ledger):
    first, second, *rest = pending_ids(app_ledger)
    balances = {r: balance(app_ledger, request(app_ledger, r).workspace_id)
                for r in (first, second)}
    admin_page.checkbox(key=f"{K}.pick.{first}").check()
    admin_page.checkbox(key=f"{K}.pick.{second}").check()
    admin_page.run()
    assert any("2 selected" in m for m in texts(admin_page, "markdown"))
    admin_page.text_input(key=f"{K}.bulk_note").input("Quarterly top-up")
    admin_page.button(key=f"{K}.approve_selected").click()
    admin_page.run()

    assert not admin_page.exception
    report = " ".join(texts(admin_page, "success"))
    assert f"Approved #{first}" in report and f"Approved #{second}" in report
    assert any("2 of 2 requests decided" in t for t in texts(admin_page, "toast"))
    for request_id in (first, second):
        decided = request(app_ledger, request_id)
        assert decided.status is RequestStatus.APPROVED
        assert decided.decision_note == "Quarterly top-up"
        assert balance(app_ledger, decided.workspace_id) == balances[request_id] + decided.amount
    assert all(request(app_ledger, r).status is RequestStatus.PENDING for r in rest)
    assert card_ids(admin_page) == rest
    assert app_ledger.verify().ok


def test_bulk_reject_without_a_note_changes_nothing(admin_page, app_ledger):
    waiting = pending_ids(app_ledger)
    admin_page.button(key=f"{K}.select_all").click()
    admin_page.run()
    assert all(admin_page.checkbox(key=f"{K}.pick.{r}").value for r in pending_ids(app_ledger))
    admin_page.button(key=f"{K}.reject_selected").click()
    admin_page.run()

    errors = " ".join(texts(admin_page, "error"))
    assert errors.count("reason for the rejection") == 1  # said once, not per request
    assert pending_ids(app_ledger) == waiting


def test_bulk_approve_reports_a_failure_next_to_the_successes(admin_page, app_ledger):
    first, second, *_ = pending_ids(app_ledger)
    admin_page.checkbox(key=f"{K}.pick.{first}").check()
    admin_page.checkbox(key=f"{K}.pick.{second}").check()
    admin_page.run()
    app_ledger.reject_request(user(app_ledger, OTHER_ADMIN), second, "Not this quarter")
    admin_page.button(key=f"{K}.approve_selected").click()
    admin_page.run()

    assert f"Approved #{first}" in " ".join(texts(admin_page, "success"))
    assert "already rejected by Grace Hopper" in " ".join(texts(admin_page, "error"))
    assert request(app_ledger, first).status is RequestStatus.APPROVED
    assert request(app_ledger, second).status is RequestStatus.REJECTED


# --------------------------------------------------------------------------- wallets


def test_wallet_overview_totals_and_highlights_zero_balance(admin_page, app_ledger):
    admin = user(app_ledger, ADMIN)
    wallets = app_ledger.wallets(admin)
    metrics = {m.label: m.value for m in admin_page.metric}
    total = sum(s.wallet.balance for s in wallets)
    assert metrics["Total balance"] == f"{total:,.2f}"
    assert metrics["Zero balance"] == "1"
    table = table_with(admin_page, "Health")
    assert len(table) == len(wallets)
    health = dict(zip(table["Workspace"], table["Health"], strict=True))
    assert health["Umbrella Labs"] == "Zero balance"
    assert health["Hooli Data"] == "Inactive"
    tints = tinted_rows(admin_page, "Health")
    umbrella = table.index[table["Workspace"] == "Umbrella Labs"][0]
    acme = table.index[table["Workspace"] == "Acme Research"][0]
    assert tints[umbrella].startswith("rgba(198, 40, 40") and acme not in tints
    assert any("Umbrella Labs" in m and "zero balance" in m for m in texts(admin_page, "markdown"))
    assert len(admin_page.get("vega_lite_chart")) == 2  # spend by workspace: daily and totals


def test_a_wallet_running_out_within_two_weeks_is_highlighted_low(app_as, app_ledger):
    ada = user(app_ledger, ADMIN)
    northwind = next(w for w in app_ledger.workspaces(ada) if w.name == "Northwind Studio")
    burn = app_ledger.burn_rate(ada, northwind.id)
    keep = (burn.per_day * 7).quantize(Decimal("0.01"))  # about a week of spend left
    spend = app_ledger.wallet(ada, northwind.id).balance - keep
    if spend > 0:
        app_ledger.consume(ada, northwind.id, spend, feature="AI chat", description="Big batch")
    at = app_as(ADMIN, script=PAGE).run()
    assert {m.label: m.value for m in at.metric}["Low balance"] == "1"
    table = table_with(at, "Health")
    row = table[table["Workspace"] == "Northwind Studio"].iloc[0]
    assert row["Health"] == "Low balance" and int(row["Days left"]) <= 14
    northwind_row = table.index[table["Workspace"] == "Northwind Studio"][0]
    assert tinted_rows(at, "Health")[northwind_row].startswith("rgba(239, 108, 0")
    assert any("Northwind Studio: runs out" in m for m in texts(at, "markdown"))


def test_deactivating_and_reactivating_a_wallet(admin_page, app_ledger):
    ada = user(app_ledger, ADMIN)
    acme = next(w for w in app_ledger.workspaces(ada) if w.name == "Acme Research")
    admin_page.selectbox(key=f"{K}.status_pick").select(acme.id).run()
    button = admin_page.button(key=f"{K}.status_button")
    assert button.label == "Deactivate wallet"
    button.click().run()

    assert not admin_page.exception
    assert app_ledger.wallet(ada, acme.id).status is WalletStatus.INACTIVE
    assert any("Acme Research's wallet is now inactive" in t for t in texts(admin_page, "toast"))
    assert any("Acme Research's wallet is now inactive" in t for t in texts(admin_page, "success"))
    table = table_with(admin_page, "Health")
    assert table.loc[table["Workspace"] == "Acme Research", "Status"].item() == "inactive"

    button = admin_page.button(key=f"{K}.status_button")
    assert button.label == "Activate wallet"
    button.click().run()
    assert app_ledger.wallet(ada, acme.id).status is WalletStatus.ACTIVE
    assert app_ledger.verify().ok


def test_the_status_next_to_the_wallet_picker_follows_a_change(admin_page, app_ledger):
    """Issue 10, item 3: the picker said "Initech Support (active)" after Deactivate.
    Its labels are names only now (Streamlit keeps a picked option by its label); the
    status is drawn beside it from the same run's data."""
    ada = user(app_ledger, ADMIN)
    initech = next(w for w in app_ledger.workspaces(ada) if w.name == "Initech Support")
    admin_page.selectbox(key=f"{K}.status_pick").select(initech.id).run()
    picker = admin_page.selectbox(key=f"{K}.status_pick")
    assert picker.format_func(initech.id) == "Initech Support"
    badge = next(m for m in raw(admin_page, "markdown") if "-badge[" in m and "ctive" in m
                 and "warning" not in m)
    assert badge.endswith("Active]")
    admin_page.button(key=f"{K}.status_button").click().run()

    assert app_ledger.wallet(ada, initech.id).status is WalletStatus.INACTIVE
    picker = admin_page.selectbox(key=f"{K}.status_pick")
    assert picker.value == initech.id
    assert "active" not in picker.format_func(initech.id)
    badges = [m for m in raw(admin_page, "markdown") if "-badge[" in m and "ctive]" in m
              and "warning" not in m]
    assert badges == [":red-badge[:material/block: Inactive]"]


def test_no_wallet_table_shows_none_for_a_missing_run_out_date(app_as, app_ledger):
    """Issue 10, item 5: Hooli Data is inactive (no run-out date) and a wallet that spent
    nothing never runs out: each cell says which, never "None"."""
    ada = user(app_ledger, ADMIN)
    idle = app_ledger.create_workspace("Idle Works")
    app_ledger.grant_credits(ada, idle.id, "100", description="funding")
    at = app_as(ADMIN, script=PAGE).run()
    table = table_with(at, "Health")
    shown = shown_cells(at, "Health")
    hooli = table.index[table["Workspace"] == "Hooli Data"][0]
    quiet = table.index[table["Workspace"] == "Idle Works"][0]
    assert (shown.loc[hooli, "Runs out on"], shown.loc[hooli, "Days left"]) == ("inactive",
                                                                                  "inactive")
    assert (shown.loc[quiet, "Runs out on"], shown.loc[quiet, "Days left"]) == ("never", "never")
    assert not shown.isin(["None", "nan", "<NA>", "NaT"]).any().any(), shown
    # a number column would draw its missing cells as a grey "None" whatever the Styler
    # says (seen in Chromium): the words are the cells' values
    assert (table.loc[hooli, "Days left"], table.loc[quiet, "Days left"]) == ("inactive", "never")
    assert not table.isna().any().any()
    acme = table.index[table["Workspace"] == "Acme Research"][0]
    assert shown.loc[acme, "Days left"].isdigit()


def test_the_decisions_log_formats_amounts_like_every_other_table(admin_page):
    """Issue 10, item 6: 5000.00 in the log, 5,000.00 everywhere else."""
    shown = shown_cells(admin_page, "Decision note")
    amounts = list(shown["Amount"])
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", a) for a in amounts), amounts
    assert any("," in a for a in amounts)  # the demo has top-ups of 1,000 and more


def test_a_bug_in_one_section_shows_a_sentence_and_the_rest_still_draws(
    app_as, app_ledger, monkeypatch
):
    """The error boundary (pages._shared.section): with BILLING_PAGE_ERRORS unset, a bug
    in the wallets section is one readable sentence; the queue and the log still draw."""
    from pages import _shared

    monkeypatch.delenv(_shared.PAGE_ERRORS_VARIABLE)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(type(app_ledger), "wallet_overview", broken)
    at = app_as(ADMIN, script=PAGE).run()
    assert not at.exception
    errors = texts(at, "error")
    assert any(e.startswith("This part of the page (Every wallet) could not be shown") for e in errors)
    assert all("RuntimeError" not in e and "Traceback" not in e for e in errors)
    assert table_with(at, "Decision note") is not None  # the decisions log is drawn
    assert any(s.value == "Spend by workspace, last 30 days" for s in at.header)


# --------------------------------------------------------------------------- access and text


def test_a_member_forcing_the_approvals_page_is_refused_and_sees_no_data(app_as):
    at = app_as(MEMBER, script=PAGE).run()

    assert not at.exception
    assert any("administrators only" in e for e in texts(at, "error"))
    assert not at.button and not at.checkbox and not at.text_input
    assert not at.dataframe and not at.metric and not at.get("vega_lite_chart")
    shown = " ".join(texts(at, "markdown") + texts(at, "caption") + texts(at, "text"))
    assert "Umbrella" not in shown and "Globex" not in shown


def test_signed_out_the_page_asks_to_sign_in(app_as):
    at = app_as(None, script=PAGE).run()
    assert not at.exception
    assert any("Sign in" in w for w in texts(at, "warning"))
    assert not at.button


def test_user_text_is_shown_as_text_never_as_markup(app_as, app_ledger):
    evil = app_ledger.create_workspace("**Evil** <b>Corp</b> :red[x]")
    alan = user(app_ledger, MEMBER)
    app_ledger.add_member(evil.id, alan.id)
    app_ledger.request_credits(alan, evil.id, "10", "<img src=x onerror=alert(1)> [link](http://x)")
    at = app_as(ADMIN, script=PAGE).run()

    assert not at.exception
    assert not at.get("html")
    card = next(m for m in raw(at, "markdown") if "Evil" in m)
    assert "\\*\\*Evil\\*\\* \\<b\\>Corp\\<\\/b\\> \\:red\\[x\\]" in card
    assert "Note: <img src=x onerror=alert(1)> [link](http://x)" in texts(at, "text")


def test_the_decisions_log_lists_decided_requests_newest_first(admin_page, app_ledger):
    every = app_ledger.requests(user(app_ledger, ADMIN))
    decided = [r for r in every if r.status is not RequestStatus.PENDING]
    log = table_with(admin_page, "Decision note")
    assert len(log) == len(decided)
    assert list(log["Decided"]) == sorted(log["Decided"], reverse=True)
    assert set(log["Outcome"]) <= {"approved", "rejected", "cancelled"}
    assert admin_page.download_button(key=f"{K}.log_csv")
    admin_page.pills(key=f"{K}.log_kinds").set_value(["rejected"]).run()
    log = table_with(admin_page, "Decision note")
    assert set(log["Outcome"]) <= {"rejected"}


# --------------------------------------------------------------------------- through app.py

APP = str(ROOT / "app.py")


def test_an_admin_reaches_approvals_through_the_navigation(app_as, app_ledger):
    at = app_as(ADMIN, script=APP).run()
    assert not at.exception
    at.switch_page("pages/approvals.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Approvals"]
    assert card_ids(at) == pending_ids(app_ledger)

    first = card_ids(at)[0]
    approve(at, first, "Through the app")
    assert request(app_ledger, first).status is RequestStatus.APPROVED
    assert [t.value for t in at.title] == ["Approvals"]  # still on the page after the rerun


def test_a_member_at_the_approvals_address_is_told_it_is_for_administrators(app_as):
    """Issue 10, item 9: the address answers (out of the member's menu) with the refusal,
    instead of Billing opening in its place; no data, no controls."""
    at = app_as(MEMBER, script=APP).run()
    assert not at.exception
    at.switch_page("pages/approvals.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Approvals"]
    assert any("administrators only" in e for e in texts(at, "error"))
    assert not at.main.button and not at.checkbox and not at.text_input
    assert not at.dataframe and not at.metric and not at.get("vega_lite_chart")
    at.switch_page("pages/analytics.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Spend analytics"]


def test_a_refusal_names_the_request_it_refused_from_the_callers_side(admin_page, app_ledger):
    """The outcome carries the request id it was asked about (never read back out of the
    error's message): the refusal says which request and what was refused."""
    first = pending_ids(app_ledger)[0]
    reject(admin_page, first, "  ")
    errors = texts(admin_page, "error")
    assert any(e.startswith(f"Could not reject request #{first}: ") for e in errors), errors
