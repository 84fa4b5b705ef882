"""Grants on the pages (AppTest over a fresh copy of the demo): Billing's expiry figures,
forecast, grants table, trace and expiry rows; Approvals' grant terms and policy editor;
the wallet tables' forecast column. Every number is read from the ledger, not hard-coded."""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from billing_core import EntryKind, Ledger, RequestStatus
from billing_core.models import GrantKind

ROOT = Path(__file__).resolve().parents[2]
BILLING = str(ROOT / "pages" / "billing.py")
APPROVALS = str(ROOT / "pages" / "approvals.py")
ANALYTICS = str(ROOT / "pages" / "analytics.py")
ADMIN, MEMBER = "ada@example.com", "alan@example.com"
ACME = 1


def user(ledger: Ledger, email: str):
    found = ledger.user_by_email(email)
    assert found is not None
    return found


def texts(at, kind: str) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", str(e.value)) for e in getattr(at, kind)]


def table_with(at, column: str):
    return next(f.value for f in at.dataframe if column in f.value.columns)


def run(app_as, email: str, script: str, **query: str):
    at = app_as(email, script=script)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_wallet_card_shows_what_expires_within_30_days_and_the_soonest_expiry(app_as, app_ledger):
    alan = user(app_ledger, MEMBER)
    grants = app_ledger.grants(alan, ACME)
    now = app_ledger.now()
    soon = sum((g.remaining for g in grants if g.expires_at and g.expires_at <= now + timedelta(days=30)),
               Decimal(0))
    assert soon > 0  # the demo's conference promotion
    at = run(app_as, MEMBER, BILLING)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Expiring in the next 30 days"] == f"{soon:,.2f} en-credits"
    first = min(g.expires_at for g in grants if g.expires_at)
    assert metrics["Soonest expiry"] == first.strftime("%Y-%m-%d %H:%M")  # the viewer's zone: UTC here


def test_billing_warns_of_credits_that_will_expire_unused_and_lists_grants_in_draw_order(app_as, app_ledger):
    alan = user(app_ledger, MEMBER)
    forecast = app_ledger.expiry_forecast(alan, ACME)
    assert forecast.unused > 0
    at = run(app_as, MEMBER, BILLING)
    (warning,) = [w for w in texts(at, "warning") if "expire unused" in w]
    assert f"About {forecast.unused.quantize(Decimal('0.01')):,.2f} en-credits will expire unused" in warning
    assert f"grant #{forecast.grants[0].grant_id} (promotional)" in warning
    table = table_with(at, "Priority")
    assert list(table["Grant"]) == [f"#{g.id}" for g in app_ledger.grants(alan, ACME)]
    at.toggle(key="billing.grants.all").set_value(True).run()
    every = table_with(at, "Priority")
    assert list(every["Grant"]) == [f"#{g.id}" for g in app_ledger.grants(alan, ACME, include_spent=True)]


def test_a_forecast_with_nothing_to_lose_says_nothing(app_as, app_ledger):
    ada = user(app_ledger, ADMIN)
    forecast = app_ledger.expiry_forecast(ada, 2)  # Northwind: its contract credits will be used in time
    at = run(app_as, ADMIN, BILLING, workspace="2")
    assert (forecast.unused == 0) == (not [w for w in texts(at, "warning") if "expire unused" in w])


def test_the_trace_shows_which_grants_paid_for_a_transaction(app_as, app_ledger):
    alan = user(app_ledger, MEMBER)
    latest = app_ledger.history(alan, ACME, limit=100).items
    debit = next(t for t in latest if t.kind is EntryKind.DEBIT)
    at = run(app_as, MEMBER, BILLING)
    at.selectbox(key="billing.grants.trace").set_value(debit).run()
    assert not at.exception
    draws = table_with(at, "Grant expires")
    assert list(draws["Grant"]) == [f"#{d.grant_id}" for d in app_ledger.draws(alan, debit.id)]
    assert sum(Decimal(str(a)) for a in draws["Amount"]) == debit.amount


def test_expired_credits_are_history_rows_of_their_own_type(app_as, app_ledger):
    ada = user(app_ledger, ADMIN)
    globex = 3  # its launch-week promotion expired part used
    expiries = app_ledger.history(ada, globex, kind="expiry").items
    assert expiries
    at = run(app_as, ADMIN, BILLING, workspace=str(globex))
    at.segmented_control(key="billing.history.kind").set_value("Expiries").run()
    assert not at.exception
    lists = [e for e in at.get("bidi_component")
             if e.proto.component_name.endswith("billing_transaction_list")]
    rows = json.loads(lists[0].proto.json)["rows"]
    assert [(r[1], r[2]) for r in rows] == [("expiry", "Expiry")] * len(expiries)
    assert [r[0] for r in rows] == [f"−{t.amount:,.2f}" for t in expiries]


def test_approving_grants_the_kind_and_expiry_prefilled_from_the_policy(app_as, app_ledger):
    ada = user(app_ledger, ADMIN)
    app_ledger.set_credit_policy(ada, ACME, grant_kind="promotional", grant_days="10")
    pending = next(r for r in app_ledger.requests(ada, status="pending") if r.workspace_id == ACME)
    at = run(app_as, ADMIN, APPROVALS)
    kind = at.selectbox(key=f"billing.approvals.kind.{pending.id}")
    ends = at.date_input(key=f"billing.approvals.expires.{pending.id}")
    last_day = app_ledger.today() + timedelta(days=10)
    assert (kind.value, ends.value) == ("promotional", last_day)
    ends.set_value(last_day + timedelta(days=2))
    at.button(key=f"billing.approvals.approve.{pending.id}").click().run()
    assert not at.exception
    done = app_ledger.credit_request(ada, pending.id)
    assert done.status is RequestStatus.APPROVED and done.entry_id is not None
    (made,) = app_ledger.draws(ada, done.entry_id)
    assert made.grant_kind is GrantKind.PROMOTIONAL
    assert made.grant_expires_at is not None  # the end of the last day picked, in the viewer's zone (UTC)
    ends_at = datetime.combine(last_day + timedelta(days=3), time())
    assert made.grant_expires_at.replace(tzinfo=None) == ends_at


def test_an_administrator_sets_a_policy_on_the_approvals_page(app_as, app_ledger):
    ada = user(app_ledger, ADMIN)
    at = run(app_as, ADMIN, APPROVALS)
    at.selectbox(key="billing.approvals.policy.pick").set_value(ACME).run()
    prefix = f"billing.approvals.policy.{ACME}"
    for name, value in (("approve_up_to", "250"), ("approve_per_month", "1000"), ("top_up_below", "100"),
                        ("top_up_amount", "500"), ("top_ups_per_month", "2")):
        at.text_input(key=f"{prefix}.{name}").input(value)
    at.button(key=next(b.key for b in at.button if b.label == "Save policy")).click().run()
    assert not at.exception
    policy = app_ledger.credit_policy(ada, ACME)
    assert (policy.approve_up_to, policy.approve_per_month, policy.top_up_below, policy.top_up_amount,
            policy.top_ups_per_month) == (Decimal(250), Decimal(1000), Decimal(100), Decimal(500), 2)
    assert any("Standing approval: requests up to 250.00" in m for m in texts(at, "markdown"))
    change = next(a for a in app_ledger.audit_trail(ada) if a.action == "policy.change")
    assert change.actor_id == ada.id and json.loads(change.after or "{}")["approve_up_to"] == "250.0000"
    at.text_input(key=f"{prefix}.approve_per_month").input("")  # half a rule is refused, with a reason
    at.button(key=next(b.key for b in at.button if b.label == "Save policy")).click().run()
    assert any("needs both limits" in e for e in texts(at, "error"))
    assert app_ledger.credit_policy(ada, ACME).approve_per_month == Decimal(1000)


def test_a_request_within_the_standing_approval_is_approved_at_once_on_billing(app_as, app_ledger):
    ada, alan = user(app_ledger, ADMIN), user(app_ledger, MEMBER)
    app_ledger.set_credit_policy(ada, ACME, approve_up_to="100", approve_per_month="100")
    before = app_ledger.wallet(alan, ACME).balance
    at = run(app_as, MEMBER, BILLING)
    at.button(key="billing.requests.new").click().run()
    at.text_input(key="billing.request.amount").input("75")
    at.button(key=next(b.key for b in at.button if b.label == "Submit request")).click().run()
    assert not at.exception
    assert any("approved at once by the workspace's standing approval" in t.value for t in at.toast)
    assert app_ledger.wallet(alan, ACME).balance == before + 75


def test_the_wallet_tables_show_what_will_expire_unused(app_as, app_ledger):
    ada = user(app_ledger, ADMIN)
    overview = app_ledger.wallet_overview(ada).set_index("workspace")
    for script in (APPROVALS, ANALYTICS):
        table = table_with(run(app_as, ADMIN, script), "Expires unused").set_index("Workspace")
        expected = float(overview.loc["Acme Research", "expires_unused"])
        assert table.loc["Acme Research", "Expires unused"] == expected
        assert table.loc["Acme Research", "Expires unused"] > 0
        assert not table.isna().any().any()
