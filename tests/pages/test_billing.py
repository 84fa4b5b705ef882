"""The Billing page in AppTest, over a fresh copy of the demo ledger (checked after actions).

Acme Research (id 1) is Alan's first workspace; Hooli Data (6) is inactive; Umbrella Labs
(5) is at zero and Alan is not a member of it. Alan has one pending request at Acme.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from billing_core import InvalidAmount, Ledger, RequestStatus, Workspace, parse_amount
from pages._shared import plain

ACME, UMBRELLA, HOOLI = 1, 5, 6
NO_CREDITS = "No credits available: features that use en-credits are blocked."


def billing(app_as, email: str, **query: str):
    at = app_as(email)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Billing"]
    return at


def history_list(at) -> dict | None:
    """What the transaction list component was given (None when it is not drawn)."""
    lists = [e for e in at.get("bidi_component")
             if e.proto.component_name.endswith("billing_transaction_list")]
    return json.loads(lists[0].proto.json) if lists else None


def history_rows(at) -> pd.DataFrame:
    """The rows of the transaction history, as the list draws them."""
    drawn = history_list(at)
    assert drawn is not None
    assert drawn["columns"][:4] == ["Amount", "Type", "Description", "Feature"]
    assert drawn["columns"][4].startswith("Date (")
    columns = ["Amount", "kind", "Type", "Description", "Feature", "Date"]
    return pd.DataFrame(drawn["rows"], columns=columns).drop(columns="kind")


def shown(at) -> str:
    """Every piece of text on the page, for 'is this mentioned anywhere' checks."""
    parts = [e.value for kind in ("markdown", "caption", "text", "error", "info", "warning")
             for e in getattr(at, kind)]
    parts += [str(m.value) for m in at.metric] + [str(s.value) for s in at.selectbox]
    return "\n".join(map(str, parts))


def test_member_picks_only_among_their_workspaces(app_as):
    at = billing(app_as, "alan@example.com")
    assert at.selectbox[0].options == ["Acme Research", "Hooli Data"]


def test_admin_picks_among_every_workspace(app_as, app_ledger: Ledger):
    at = billing(app_as, "ada@example.com")
    admin = app_ledger.user_by_email("ada@example.com")
    assert at.selectbox[0].options == [w.name for w in app_ledger.workspaces(admin)]
    assert len(at.selectbox[0].options) == 6


def test_wallet_card_shows_balance_status_and_pending(app_as, app_ledger: Ledger):
    at = billing(app_as, "alan@example.com")
    alan = app_ledger.user_by_email("alan@example.com")
    wallet = app_ledger.wallet(alan, ACME)
    assert at.metric[0].label == "Available balance"
    assert at.metric[0].value == f"{wallet.balance:,.2f} en-credits"
    assert any("Active" in m.value and "badge" in m.value for m in at.markdown)
    assert "**2,000.00 en-credits**" in [m.value for m in at.markdown]  # the pending request
    assert not [e for e in at.error if NO_CREDITS in e.value]


def test_inactive_wallet_shows_the_blocked_warning(app_as):
    at = billing(app_as, "alan@example.com", workspace=str(HOOLI))
    assert at.selectbox[0].value.name == "Hooli Data"
    assert any("Inactive" in m.value for m in at.markdown)
    assert any(NO_CREDITS in e.value and "inactive" in e.value for e in at.error)


def test_zero_balance_shows_the_blocked_warning(app_as):
    at = billing(app_as, "ada@example.com")
    at.selectbox[0].select_index(at.selectbox[0].options.index("Umbrella Labs")).run()
    assert not at.exception
    assert at.metric[0].value == "0.00 en-credits"
    assert any(NO_CREDITS in e.value and "0 en-credits" in e.value for e in at.error)


def test_member_forcing_another_workspace_in_the_address_sees_their_own(app_as, app_ledger):
    at = billing(app_as, "alan@example.com", workspace=str(UMBRELLA))
    assert at.selectbox[0].value.name == "Acme Research"
    acme = app_ledger.wallet(app_ledger.user_by_email("alan@example.com"), ACME)
    assert at.metric[0].value == f"{acme.balance:,.2f} en-credits"
    assert "Umbrella" not in shown(at)


def test_member_forcing_another_workspace_in_session_state_sees_their_own(app_as, app_ledger):
    at = app_as("alan@example.com")
    at.session_state["billing.workspace_id"] = UMBRELLA
    umbrella = app_ledger.workspace(app_ledger.user_by_email("ada@example.com"), UMBRELLA)
    at.session_state["billing.workspace_pick"] = umbrella
    at.run()
    assert not at.exception
    assert at.selectbox[0].value.name == "Acme Research"
    assert "Umbrella" not in shown(at)
    acme = app_ledger.wallet(app_ledger.user_by_email("alan@example.com"), ACME)
    assert at.metric[0].value == f"{acme.balance:,.2f} en-credits"


def test_history_shows_the_newest_page_first(app_as, app_ledger: Ledger):
    at = billing(app_as, "alan@example.com")
    alan = app_ledger.user_by_email("alan@example.com")
    first = app_ledger.history(alan, ACME, limit=50)
    rows = history_rows(at)
    assert len(rows) == 50
    assert list(rows.columns) == ["Amount", "Type", "Description", "Feature", "Date"]
    assert list(rows["Description"]) == [tx.description for tx in first.items]
    newest = first.items[0]
    sign = "−" if newest.kind.value == "debit" else "+"
    assert rows.iloc[0]["Amount"] == f"{sign}{newest.amount:,.2f}"
    assert rows.iloc[0]["Type"] == newest.kind.value.capitalize()
    assert rows.iloc[0]["Date"] == newest.created_at.strftime("%Y-%m-%d %H:%M")
    assert "50 transactions shown" in " ".join(c.value for c in at.caption)


def test_history_dates_are_in_the_viewers_time_zone(app_as, app_ledger: Ledger):
    at = app_as("alan@example.com")
    at.context["timezone"] = "Asia/Tokyo"  # UTC+9, no daylight saving
    at.run()
    alan = app_ledger.user_by_email("alan@example.com")
    newest = app_ledger.history(alan, ACME, limit=1).items[0]
    from datetime import timedelta

    tokyo = (newest.created_at + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M")
    assert history_rows(at).iloc[0]["Date"] == tokyo


def test_load_more_appends_the_next_page_from_the_cursor(app_as, app_ledger: Ledger):
    at = billing(app_as, "alan@example.com")
    alan = app_ledger.user_by_email("alan@example.com")
    first = app_ledger.history(alan, ACME, limit=50)
    second = app_ledger.history(alan, ACME, limit=50, cursor=first.next_cursor)
    at.button(key="billing.history.more").click().run()
    assert not at.exception
    rows = history_rows(at)
    assert len(rows) == 100
    assert list(rows["Description"][50:]) == [tx.description for tx in second.items]
    assert "100 transactions shown" in " ".join(c.value for c in at.caption)


def test_changing_a_filter_starts_again_from_the_first_page(app_as, app_ledger: Ledger):
    at = billing(app_as, "alan@example.com")
    at.button(key="billing.history.more").click().run()
    assert len(history_rows(at)) == 100
    at.button_group(key="billing.history.kind").set_value("Credits").run()
    assert not at.exception
    rows = history_rows(at)
    alan = app_ledger.user_by_email("alan@example.com")
    credits = app_ledger.history(alan, ACME, limit=50, kind="credit")
    assert len(rows) == len(credits.items) > 0
    assert set(rows["Type"]) == {"Credit"}
    assert all(a.startswith("+") for a in rows["Amount"])


def test_text_search_filters_the_history(app_as):
    at = billing(app_as, "alan@example.com")
    at.text_input(key="billing.history.search").input("translation").run()
    rows = history_rows(at)
    assert len(rows) > 0
    assert all(
        "translation" in (d + f).lower()
        for d, f in zip(rows["Description"], rows["Feature"], strict=True)
    )


def test_a_short_result_says_it_is_the_whole_history(app_as):
    at = billing(app_as, "alan@example.com")
    at.button_group(key="billing.history.kind").set_value("Credits").run()
    assert any("that is the whole history" in c.value for c in at.caption)
    assert "billing.history.more" not in [b.key for b in at.button]


def test_a_date_range_means_whole_days_in_the_viewers_zone(app_as, app_ledger: Ledger):
    from datetime import date, datetime, time
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")  # UTC+9: a local day straddles two UTC days
    at = app_as("alan@example.com")
    at.context["timezone"] = "Asia/Tokyo"
    at.run()
    at.date_input(key="billing.history.dates").set_value(
        (date(2026, 11, 18), date(2026, 11, 19))).run()
    assert not at.exception
    alan = app_ledger.user_by_email("alan@example.com")
    local_days = app_ledger.history(
        alan, ACME, limit=50, since=datetime(2026, 11, 18, tzinfo=tokyo),
        until=datetime.combine(date(2026, 11, 19), time.max, tokyo))
    utc_days = app_ledger.history(
        alan, ACME, limit=50, since=date(2026, 11, 18), until=date(2026, 11, 19))
    assert local_days.next_cursor is None  # the whole range is on one page
    assert {tx.id for tx in local_days.items} != {tx.id for tx in utc_days.items}
    rows = history_rows(at)
    assert list(rows["Date"]) == [
        tx.created_at.astimezone(tokyo).strftime("%Y-%m-%d %H:%M") for tx in local_days.items
    ]
    assert {d[:10] for d in rows["Date"]} == {"2026-11-18", "2026-11-19"}


def test_no_match_shows_an_empty_state(app_as):
    at = billing(app_as, "alan@example.com")
    at.text_input(key="billing.history.search").input("no such transaction at all").run()
    assert not at.exception
    assert "No transactions match these filters." in [i.value for i in at.info]
    assert history_list(at) is None


def test_a_new_workspace_shows_empty_states(app_as, app_ledger: Ledger):
    space = app_ledger.create_workspace("Empty Co")
    alan = app_ledger.user_by_email("alan@example.com")
    app_ledger.add_member(space.id, alan.id)
    at = billing(app_as, "alan@example.com", workspace=str(space.id))
    assert at.selectbox[0].value.name == "Empty Co"
    infos = " ".join(i.value for i in at.info)
    assert "No transactions yet" in infos
    assert "No credit requests yet" in infos
    assert "No en-credits were spent in this period." in infos
    assert any(NO_CREDITS in e.value for e in at.error)  # a new wallet starts at zero


def test_a_person_without_workspaces_is_told_so(app_as, app_ledger: Ledger):
    app_ledger.add_user("newcomer@example.com", "New Comer")
    at = billing(app_as, "newcomer@example.com")
    assert not at.selectbox
    assert any("not a member of any workspace" in i.value for i in at.info)


def test_spend_charts_are_drawn(app_as):
    at = billing(app_as, "alan@example.com")
    assert len(at.get("vega_lite_chart")) == 2
    at.button_group(key="billing.spend.days").set_value(90).run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 2


def test_requests_are_grouped_by_status_with_counts(app_as, app_ledger: Ledger):
    at = billing(app_as, "alan@example.com")
    alan = app_ledger.user_by_email("alan@example.com")
    mine = app_ledger.requests(alan, workspace_id=ACME)
    expected = [
        f"{title} ({sum(r.status is status for r in mine)})"
        for title, status in [("Pending", RequestStatus.PENDING),
                              ("Approved", RequestStatus.APPROVED),
                              ("Rejected", RequestStatus.REJECTED),
                              ("Cancelled", RequestStatus.CANCELLED)]
    ]
    assert [t.label for t in at.tabs] == expected
    # the history is a list, not a dataframe; the grants have tables of their own
    decided = [d.value for d in at.dataframe if "Asked by" in d.value.columns]
    tables = sum(any(r.status is s for r in mine) for s in RequestStatus if s is not RequestStatus.PENDING)
    assert len(decided) == tables >= 2  # approved, rejected and cancelled: a table each that has any
    assert {"Asked by", "Decided by", "Decision note"} <= set(decided[0].columns)


def open_request_form(at, amount: str, note: str = ""):
    at.button(key="billing.requests.new").click().run()
    assert not at.exception
    at.text_input(key="billing.request.amount").input(amount)
    at.text_area(key="billing.request.note").input(note)
    next(b for b in at.button if b.label == "Submit request").click().run()
    assert not at.exception
    return at


def test_submitting_the_request_form_creates_a_pending_request(app_as, app_ledger: Ledger):
    alan = app_ledger.user_by_email("alan@example.com")
    before = {r.id for r in app_ledger.requests(alan, workspace_id=ACME)}
    at = open_request_form(billing(app_as, "alan@example.com"), " 250.5 ", "For the Q1 pilot")
    created = [r for r in app_ledger.requests(alan, workspace_id=ACME) if r.id not in before]
    assert len(created) == 1
    request = created[0]
    assert (request.amount, request.status, request.note) == (
        Decimal("250.5000"), RequestStatus.PENDING, "For the Q1 pilot")
    assert request.requested_by == alan.id
    assert [t.value for t in at.toast] == [
        f"Request #{request.id} for 250.50 en-credits is pending approval."]
    # repeated in the page as a status message: screen readers do not announce toasts
    assert [s.value for s in at.success] == [
        f"Request #{request.id} for 250.50 en-credits is pending approval."]
    assert at.tabs[0].label == "Pending (2)"
    assert "billing.request.amount" not in [t.key for t in at.text_input]  # the dialog closed


@pytest.mark.parametrize("amount", ["abc", "-1", "0", "1e3", "1,000", "", "12.34567"])
def test_a_bad_amount_shows_billing_cores_message_and_writes_nothing(
    app_as, app_ledger: Ledger, amount: str
):
    with pytest.raises(InvalidAmount) as refused:
        parse_amount(amount)
    alan = app_ledger.user_by_email("alan@example.com")
    before = app_ledger.requests(alan)
    at = open_request_form(billing(app_as, "alan@example.com"), amount)
    assert [e.value for e in at.error] == [plain(str(refused.value))]  # shown escaped, as text
    assert app_ledger.requests(alan) == before
    assert at.text_input(key="billing.request.amount").value == amount  # still open to fix


def test_user_text_in_a_note_is_drawn_as_text(app_as, app_ledger: Ledger):
    note = "**bold** <img src=x onerror=alert(1)> [link](https://example.com)"
    at = open_request_form(billing(app_as, "alan@example.com"), "10", note)
    assert note in [t.value for t in at.text]
    assert not [m for m in at.markdown if "onerror" in m.value]


def test_requester_cancels_their_pending_request(app_as, app_ledger: Ledger):
    alan = app_ledger.user_by_email("alan@example.com")
    (pending,) = app_ledger.requests(alan, workspace_id=ACME, status="pending")
    at = billing(app_as, "alan@example.com")
    at.button(key=f"billing.requests.cancel.{pending.id}").click().run()
    assert not at.exception
    assert app_ledger.credit_request(alan, pending.id).status is RequestStatus.CANCELLED
    assert app_ledger.credit_request(alan, pending.id).decided_by == alan.id
    assert at.tabs[0].label == "Pending (0)"
    assert [t.value for t in at.toast] == [
        f"Request #{pending.id} for 2,000.00 en-credits was cancelled."]
    assert [s.value for s in at.success] == [t.value for t in at.toast]  # and in the page


def test_member_cannot_cancel_someone_elses_request_but_an_admin_can(app_as, app_ledger):
    edsger = app_ledger.user_by_email("edsger@example.com")
    theirs = app_ledger.request_credits(edsger, ACME, "75")
    at = billing(app_as, "alan@example.com")
    cancel_keys = [b.key for b in at.button if b.label == "Cancel"]
    assert f"billing.requests.cancel.{theirs.id}" not in cancel_keys
    assert len(cancel_keys) == 1  # only Alan's own

    admin = billing(app_as, "ada@example.com")  # Acme is Ada's first workspace too
    admin.button(key=f"billing.requests.cancel.{theirs.id}").click().run()
    assert not admin.exception
    assert app_ledger.credit_request(edsger, theirs.id).status is RequestStatus.CANCELLED


def test_cancelling_a_request_decided_meanwhile_shows_why(app_as, app_ledger: Ledger):
    alan = app_ledger.user_by_email("alan@example.com")
    (pending,) = app_ledger.requests(alan, workspace_id=ACME, status="pending")
    at = billing(app_as, "alan@example.com")
    grace = app_ledger.user_by_email("grace@example.com")
    app_ledger.approve_request(grace, pending.id, "go ahead")  # in another session
    at.button(key=f"billing.requests.cancel.{pending.id}").click().run()
    assert not at.exception
    assert any("already approved by Grace Hopper" in e.value for e in at.error)
    assert app_ledger.credit_request(alan, pending.id).status is RequestStatus.APPROVED


def test_history_csv_download_is_offered(app_as):
    at = billing(app_as, "alan@example.com")
    downloads = {b.key: b for b in at.get("download_button")}
    assert set(downloads) == {"billing.history.csv", "billing.spend.csv", "billing.balance.csv"}
    assert downloads["billing.history.csv"].proto.label == "Download CSV"


# --- the CSV of the whole filtered history ----------------------------------------------


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_history_csv_is_the_whole_filtered_history_not_the_rows_loaded(app_ledger: Ledger):
    from pages._billing_history import HistoryFilters, history_csv

    alan = app_ledger.user_by_email("alan@example.com")
    tokyo = ZoneInfo("Asia/Tokyo")
    debits = [tx for frame in app_ledger.history_frames(alan, ACME, kind="debit")
              for tx in frame.itertuples()]
    assert len(debits) > 500  # far more than a page
    header, *body = csv_rows(history_csv(app_ledger, alan, ACME, HistoryFilters(kind="debit"), tokyo))
    assert header == ["id", "date (Asia/Tokyo)", "type", "amount", "feature", "description"]
    assert [int(r[0]) for r in body] == [tx.id for tx in debits]
    assert {r[2] for r in body} == {"debit"}
    assert [Decimal(r[3]) for r in body] == [tx.amount for tx in debits]  # a signed number
    assert all(Decimal(r[3]) < 0 for r in body)
    newest = app_ledger.history(alan, ACME, limit=1, kind="debit").items[0]
    assert body[0][1] == newest.created_at.astimezone(tokyo).strftime("%Y-%m-%d %H:%M:%S")


def test_history_csv_keeps_hostile_descriptions_inert(app_ledger: Ledger):
    from pages._billing_history import HistoryFilters, history_csv

    alan = app_ledger.user_by_email("alan@example.com")
    app_ledger.consume(alan, ACME, "1", feature="=cmd|' /C calc'!A0", description="+SUM(A1:A9)")
    header, first, *_ = csv_rows(history_csv(app_ledger, alan, ACME, HistoryFilters(), ZoneInfo("UTC")))
    assert first[3:] == ["-1.0000", "'=cmd|' /C calc'!A0", "'+SUM(A1:A9)"]


@pytest.mark.parametrize(("filters", "name"), [
    ({}, "acme-research_transactions.csv"),
    ({"kind": "debit", "days": (date(2026, 11, 1), date(2026, 11, 27))},
     "acme-research_transactions_debits_2026-11-01_2026-11-27.csv"),
    ({"kind": "credit", "days": (date(2026, 11, 1),), "search": "Top-up"},
     "acme-research_transactions_credits_from-2026-11-01_search-top-up.csv"),
])
def test_history_csv_is_named_after_the_workspace_and_the_filters(filters: dict, name: str):
    from pages._billing_history import HistoryFilters, csv_name

    zone = ZoneInfo("Asia/Tokyo")
    days = filters.get("days", ())
    chosen = HistoryFilters(
        kind=filters.get("kind"),
        since=datetime.combine(days[0], time(), zone) if days else None,
        until=datetime.combine(days[-1], time.max, zone) if len(days) == 2 else None,
        search=filters.get("search"),
    )
    assert csv_name(Workspace(ACME, "Acme Research"), chosen) == name


def test_the_csv_is_built_only_when_the_button_is_clicked(app_as):
    at = billing(app_as, "alan@example.com")
    (button,) = [b for b in at.get("download_button") if b.key == "billing.history.csv"]
    assert button.proto.label == "Download CSV"
    assert button.proto.deferred_file_id and not button.proto.url  # a callable, not bytes


# --- the workspace picker and the address (browser history) -----------------------------


def test_drawing_the_page_never_writes_the_address(app_as):
    at = billing(app_as, "alan@example.com")  # every write would add a browser history entry
    assert "workspace" not in at.query_params
    at.button(key="billing.history.more").click().run()
    assert "workspace" not in at.query_params


def test_picking_a_workspace_on_a_plain_address_leaves_the_address_alone(app_as):
    at = billing(app_as, "alan@example.com")
    at.selectbox(key="billing.workspace_pick").select_index(1).run()
    assert not at.exception
    assert at.metric[0].label == "Available balance"
    assert any("Inactive" in m.value for m in at.markdown)  # Hooli Data
    assert "workspace" not in at.query_params


def test_picking_a_workspace_keeps_a_linked_address_true(app_as):
    at = billing(app_as, "alan@example.com", workspace=str(HOOLI))
    at.selectbox(key="billing.workspace_pick").select_index(0).run()
    assert at.selectbox[0].value.name == "Acme Research"
    assert at.query_params["workspace"] == str(ACME)


def test_back_to_an_address_naming_another_workspace_shows_it(app_as):
    at = billing(app_as, "alan@example.com", workspace=str(HOOLI))
    at.selectbox(key="billing.workspace_pick").select_index(0).run()  # the address now says 1
    at.query_params["workspace"] = str(HOOLI)  # Back: the browser restores ?workspace=6
    at.run()
    assert at.selectbox[0].value.name == "Hooli Data"
    at.run()  # and it stays there on the next run
    assert at.selectbox[0].value.name == "Hooli Data"


# --- each section behind its own error boundary -----------------------------------------


def broken(*args, **kwargs):
    raise RuntimeError("a bug")


@pytest.mark.parametrize(("section", "target"), [
    ("wallet", "billing_core.models.Wallet.blocked_reason"),
    ("credit requests", "pages._credit_requests.local_time"),
    ("spend", "pages._charts.spend_by_feature"),
    ("transaction history", "pages._billing_history.shown_row"),
])
def test_a_bug_in_one_section_is_one_sentence_and_the_rest_still_draws(
    app_as, monkeypatch, section: str, target: str
):
    import pages._billing_history  # noqa: F401 - bound its imports before the patch
    from pages._shared import PAGE_ERRORS_VARIABLE

    monkeypatch.delenv(PAGE_ERRORS_VARIABLE)
    monkeypatch.setattr(target, property(broken) if target.endswith("reason") else broken)
    at = app_as("alan@example.com")
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error if "could not be shown" in e.value]
    assert len(errors) == 1 and f"({section})" in errors[0]
    drawn = {  # the other sections are all there (the broken one may be partly drawn)
        "wallet": "Available balance" in [m.label for m in at.metric],
        "transaction history": history_list(at) is not None,
        "spend": bool(at.get("vega_lite_chart")),
        "credit requests": bool(at.tabs),
    }
    assert all(shown for name, shown in drawn.items() if name != section)
