"""Signing in through the app: password form, neutral refusals, lockout, single sign-on."""

from __future__ import annotations

from pathlib import Path

from billing_core import BillingError, Ledger, User
from pages._shared import SESSION_KEY, plain

ROOT = Path(__file__).resolve().parents[2]

PASSWORD = "en-credits-demo"
NEUTRAL = "That email and password do not match an account."
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "not-a-real-secret",
    "client_id": "billing-console",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "https://id.example.com/.well-known/openid-configuration",
}


def who(at, ledger: Ledger) -> User | None:
    """Whom the tab's session belongs to, as the ledger says (None: signed out)."""
    token = at.session_state[SESSION_KEY] if SESSION_KEY in at.session_state else None
    if not token:
        return None
    try:
        return ledger.session_user(token)
    except BillingError:
        return None


def sign_in_page(app_as):
    at = app_as(None)
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in"]
    return at


def submit(at, email: str, password: str):
    at.text_input(key="billing.sign_in.email").input(email)
    at.text_input(key="billing.sign_in.password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception
    return at


def test_right_password_signs_in_and_opens_billing(app_as, app_ledger: Ledger):
    at = submit(sign_in_page(app_as), "Alan@Example.com ", PASSWORD)
    assert who(at, app_ledger) == app_ledger.user_by_email("alan@example.com")
    assert [t.value for t in at.title] == ["Billing"]
    assert at.session_state["billing.sign_in.password"] == ""  # not kept in the session


def test_wrong_password_gets_the_neutral_message(app_as, app_ledger):
    at = submit(sign_in_page(app_as), "alan@example.com", "not-the-password")
    assert [e.value for e in at.error] == [NEUTRAL]
    assert who(at, app_ledger) is None
    assert [t.value for t in at.title] == ["Sign in"]
    assert at.text_input(key="billing.sign_in.email").value == "alan@example.com"
    assert at.text_input(key="billing.sign_in.password").value == ""


def test_unknown_email_gets_the_same_message(app_as, app_ledger):
    at = submit(sign_in_page(app_as), "nobody@example.com", PASSWORD)
    assert [e.value for e in at.error] == [NEUTRAL]
    assert who(at, app_ledger) is None


def test_five_failures_lock_the_email_even_with_the_right_password(app_as, app_ledger):
    at = sign_in_page(app_as)
    for _ in range(5):
        submit(at, "barbara@example.com", "guess")
        assert [e.value for e in at.error] == [NEUTRAL]
    submit(at, "barbara@example.com", PASSWORD)
    assert len(at.error) == 1
    assert at.error[0].value.startswith("Too many failed sign-ins for this email.")
    assert who(at, app_ledger) is None


def test_no_password_hash_reaches_the_page(app_as):
    at = submit(sign_in_page(app_as), "alan@example.com", "wrong")
    kinds = ("markdown", "caption", "error", "text")
    texts = [e.value for kind in kinds for e in getattr(at, kind)]
    assert not [t for t in texts if "argon2" in t or "$" in t]


def test_single_sign_on_is_not_offered_without_an_auth_section(app_as):
    at = sign_in_page(app_as)
    assert [b.label for b in at.button] == ["Sign in"]


def test_single_sign_on_is_offered_with_an_auth_section(app_as):
    at = app_as(None)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert "Sign in with single sign-on" in [b.label for b in at.button]
    # Authlib is not installed here, so st.login refuses: the page says why, no traceback.
    at.button(key="billing.sign_in.sso").click().run()
    assert not at.exception
    assert [e.value for e in at.error][0].startswith("Single sign-on is not available")


def test_a_known_single_sign_on_email_is_mapped_to_its_ledger_user(app_as, app_ledger):
    at = app_as(None)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "ada@example.com", "name": "Ada"}
    at.run()
    assert not at.exception
    assert who(at, app_ledger) == app_ledger.user_by_email("ada@example.com")
    assert [t.value for t in at.title] == ["Billing"]


def test_an_unknown_single_sign_on_email_is_refused_clearly(app_as, app_ledger):
    at = app_as(None)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "stranger@example.org"}
    at.run()
    assert not at.exception
    assert who(at, app_ledger) is None
    assert [e.value for e in at.error] == [plain(
        "stranger@example.org has no account in this billing console. "
        "Ask an administrator to add you."
    )]
    assert "Sign in with another account" in [b.label for b in at.button]


def test_an_unverified_single_sign_on_email_is_not_trusted(app_as, app_ledger):
    at = app_as(None)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "ada@example.com", "email_verified": False}
    at.run()
    assert not at.exception
    assert who(at, app_ledger) is None
    assert at.error[0].value.startswith("Your identity provider has not verified ada@example.com")


def test_a_ledger_without_an_administrator_says_how_to_create_the_first(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    import billing_core
    from pages import _shared

    where = tmp_path / "fresh.duckdb"
    billing_core.open_ledger(str(where), create=True).close()
    monkeypatch.setenv("BILLING_DB", str(where))
    _shared.get_ledger.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
        assert not at.exception
        assert [t.value for t in at.title] == ["Set up this billing console"]
        assert any("billing admin create" in i.value for i in at.info)
        assert [c.value for c in at.code] == [
            '.venv/bin/billing admin create you@example.com --name "Your Name"'
        ]
        assert [b.label for b in at.button] == ["Sign in"]  # people the operator added can sign in
    finally:
        _shared.get_ledger().close()
        _shared.get_ledger.clear()
