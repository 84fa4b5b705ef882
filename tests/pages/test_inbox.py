"""The Inbox page, the sidebar's bell, and Alerts & webhooks, in AppTest over the demo."""

from __future__ import annotations

from pathlib import Path

from billing_core import Ledger

ROOT = Path(__file__).resolve().parents[2]
ALERTS = str(ROOT / "pages" / "alerts_admin.py")
ACME = 1


def inbox(app_as, email: str):
    """The Inbox page opened from the app's navigation (its links name other pages)."""
    at = app_as(email).run()
    at.switch_page("pages/inbox.py").run()
    assert not at.exception and [t.value for t in at.title] == ["Inbox"]
    return at


def user(ledger: Ledger, email: str):
    found = ledger.user_by_email(email)
    assert found is not None
    return found


def test_the_bell_counts_unread_and_the_inbox_lists_them(app_as, app_ledger: Ledger):
    alan, ada = user(app_ledger, "alan@example.com"), user(app_ledger, "ada@example.com")
    asked = app_ledger.request_credits(alan, ACME, "75", note="**bold** [x](https://evil.example)")
    before = app_ledger.unread_count(ada)
    at = app_as("ada@example.com").run()
    assert not at.exception
    links = [link.label for link in at.sidebar.get("page_link")]
    assert f"Inbox · {before} unread" in links
    page = inbox(app_as, "ada@example.com")
    texts = [t.value for t in page.text]
    assert any(f"(request #{asked.id})" in t and "**bold** [x](https://evil.example)" in t for t in texts)
    assert not [m for m in page.markdown if "evil.example" in m.value]  # the note is text, not a link
    page.button(key="billing.inbox.read_all").click().run()
    assert not page.exception
    assert app_ledger.unread_count(ada) == 0
    assert [t.value for t in page.toast] == [f"All {before} marked as read."]


def test_a_member_reads_their_decision_and_marks_it_read(app_as, app_ledger: Ledger):
    alan, ada = user(app_ledger, "alan@example.com"), user(app_ledger, "ada@example.com")
    app_ledger.mark_read(alan)
    asked = app_ledger.request_credits(alan, ACME, "10")
    app_ledger.reject_request(ada, asked.id, "Not this month")
    (note,) = app_ledger.notifications(alan, unread_only=True)
    page = inbox(app_as, "alan@example.com")
    page.button(key=f"billing.inbox.read.{note.id}").click().run()
    assert not page.exception
    assert app_ledger.unread_count(alan) == 0


def test_email_choices_are_saved(app_as, app_ledger: Ledger):
    page = inbox(app_as, "alan@example.com")
    page.toggle(key="billing.inbox.email.on").set_value(False)
    page.multiselect(key="billing.inbox.email.events").set_value(["balance.low"])
    next(b for b in page.button if b.label == "Save email choices").click().run()
    assert not page.exception
    saved = app_ledger.notification_settings(user(app_ledger, "alan@example.com"))
    assert (saved.email_enabled, saved.email_events) == (False, ("balance.low",))


def test_alerts_and_webhooks_are_for_administrators(app_as, app_ledger: Ledger):
    page = app_as("alan@example.com", script=ALERTS).run()
    assert not page.exception
    assert "administrators" in page.error[0].value
    assert not page.get("form")


def test_an_admin_sets_levels_and_adds_a_webhook(app_as, app_ledger: Ledger):
    ada = user(app_ledger, "ada@example.com")
    page = app_as("ada@example.com", script=ALERTS).run()
    assert not page.exception
    page.text_input[0].input("")  # the share of the last top-up: off
    page.text_input[1].input("3, 14")
    page.text_input[2].input("250")
    next(b for b in page.button if b.label == "Save levels").click().run()
    assert not page.exception
    workspace = page.selectbox(key="billing.alerts.workspace").value
    saved = app_ledger.thresholds(ada, workspace.id)
    amounts = [str(a) for a in saved.amounts]
    assert (saved.top_up_share, saved.runway_days, amounts) == (None, (3, 14), ["250.0000"])
    url_box = next(t for t in page.text_input if t.label == "Endpoint URL")
    url_box.input("http://127.0.0.1:9/billing")
    next(b for b in page.button if b.label == "Add webhook").click().run()
    assert not page.exception
    (hook,) = app_ledger.webhooks(ada)
    assert hook.url == "http://127.0.0.1:9/billing" and hook.events == ("balance.low",)


def test_a_bad_level_is_explained_and_nothing_changes(app_as, app_ledger: Ledger):
    ada = user(app_ledger, "ada@example.com")
    page = app_as("ada@example.com", script=ALERTS).run()
    workspace = page.selectbox(key="billing.alerts.workspace").value
    before = app_ledger.thresholds(ada, workspace.id)
    page.text_input[3].input("=1+1")
    next(b for b in page.button if b.label == "Save levels").click().run()
    assert not page.exception
    assert page.error and "spike factor" in page.error[0].value
    assert app_ledger.thresholds(ada, workspace.id) == before
