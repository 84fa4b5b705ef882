"""My wallets: the consolidated wallet of the signed-in person."""

from __future__ import annotations

from billing_core import Ledger, format_credits

NO_CREDITS = "No credits available: features that use en-credits are blocked."


def my_wallets(app_as, email: str):
    at = app_as(email).run()
    at.switch_page("pages/my_wallets.py").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["My wallets"]
    return at


def test_member_sees_one_line_per_workspace_and_the_totals(app_as, app_ledger: Ledger):
    at = my_wallets(app_as, "alan@example.com")
    alan = app_ledger.user_by_email("alan@example.com")
    summary = app_ledger.consolidated_wallet(alan)
    assert [w.wallet.workspace_name for w in summary.wallets] == ["Acme Research", "Hooli Data"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Available to spend (en-credits)": format_credits(summary.available_total, unit=False),
        "Blocked (en-credits)": format_credits(summary.blocked_total, unit=False),
        "Pending requests (en-credits)": format_credits(summary.pending_total, unit=False),
        "Workspaces": "2",
    }
    assert metrics["Available to spend (en-credits)"] != "0.00"
    lines = [m.value for m in at.markdown]
    assert "**Acme Research**" in lines and "**Hooli Data**" in lines
    assert all(format_credits(w.wallet.balance) in lines for w in summary.wallets)
    assert "2,000.00 en-credits pending" in lines
    assert "No pending requests" in [c.value for c in at.caption]


def test_the_available_total_leaves_out_what_an_inactive_wallet_holds(app_as, app_ledger: Ledger):
    """Issue 10, item 4: Hooli Data is inactive, so its balance cannot be spent: it is
    shown as blocked, apart from the total that features can use."""
    alan = app_ledger.user_by_email("alan@example.com")
    balances = {s.wallet.workspace_name: s.wallet.balance
                for s in app_ledger.consolidated_wallet(alan).wallets}
    at = my_wallets(app_as, "alan@example.com")
    metrics = {m.label: m.value for m in at.metric}
    available = [v for k, v in metrics.items() if k.startswith(("Available", "Total available"))]
    assert available == [format_credits(balances["Acme Research"], unit=False)]
    assert metrics.get("Blocked (en-credits)") == format_credits(balances["Hooli Data"], unit=False)
    said = " ".join(c.value for c in at.caption)
    assert f"{format_credits(balances['Hooli Data'])} in 1 inactive wallet cannot be spent" in said


def test_each_line_links_to_that_workspaces_billing_page(app_as):
    at = my_wallets(app_as, "alan@example.com")
    links = [link for link in at.get("page_link") if link.proto.label == "Open billing"]
    assert [(link.proto.label, link.proto.query_string) for link in links] == [
        ("Open billing", "workspace=1"),
        ("Open billing", "workspace=6"),
    ]
    assert links[0].proto.page_script_hash == links[1].proto.page_script_hash != ""


def test_following_the_link_opens_billing_on_that_workspace(app_as, app_ledger: Ledger):
    at = app_as("alan@example.com")
    at.query_params["workspace"] = "6"  # what the Hooli Data link sets
    at.run()
    assert at.selectbox[0].value.name == "Hooli Data"
    hooli = app_ledger.wallet(app_ledger.user_by_email("alan@example.com"), 6)
    assert at.metric[0].value == f"{hooli.balance:,.2f} en-credits"


def test_a_blocked_wallet_is_marked(app_as):
    at = my_wallets(app_as, "alan@example.com")
    # in words and an icon beside the colour (a red caption was 3.0:1, colour alone)
    marks = [m.value for m in at.markdown if NO_CREDITS in m.value]
    assert marks == [f":red-badge[:material/block: {NO_CREDITS}]"], marks
    assert any("Inactive" in m.value for m in at.markdown)


def test_an_admin_sees_only_their_own_memberships(app_as, app_ledger: Ledger):
    at = my_wallets(app_as, "ada@example.com")
    names = [m.value for m in at.markdown if m.value.startswith("**")]
    assert names == ["**Acme Research**", "**Northwind Studio**"]


def test_someone_without_workspaces_gets_an_empty_state(app_as):
    at = my_wallets(app_as, "grace@example.com")  # an admin who belongs to none
    assert not at.metric
    assert len(at.info) == 1
    assert at.info[0].value.startswith("You are not a member of any workspace yet")
