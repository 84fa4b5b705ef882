"""Navigation by role: who can reach which page, and signing out."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing_core import Ledger
from tests.conftest import signed_in_as

ROOT = Path(__file__).resolve().parents[2]
USER_KEY = "billing.session"  # the tab's session token (pages/_shared.py)
MEMBER_PAGES = {
    "pages/billing.py": "Billing",
    "pages/my_wallets.py": "My wallets",
    "pages/use_credits.py": "Use credits",
}


def reachable(at, path: str) -> bool:
    """Whether `path` is a page of this session's navigation (AppTest refuses the rest)."""
    try:
        at.switch_page(path)
    except ValueError:
        return False
    return True


def test_signed_out_only_the_sign_in_page_is_reachable(app_as):
    at = app_as(None).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in"]
    for path in [*MEMBER_PAGES, "pages/analytics.py", "pages/approvals.py"]:
        assert not reachable(at, path), path
    assert not at.sidebar.button  # no sign-out, no user card


def test_signed_out_with_a_workspace_in_the_address_still_only_signs_in(app_as):
    at = app_as(None)
    at.query_params["workspace"] = "1"
    at.run()
    assert [t.value for t in at.title] == ["Sign in"]
    assert not at.metric and not at.dataframe


def test_member_reaches_the_member_pages_but_not_approvals(app_as):
    # Billing is the default page, reached by a plain run. (Switching to the default page
    # by its file makes AppTest 1.67 list every file in pages/ as registered afterwards,
    # which would make `reachable` meaningless, so the other pages are visited after.)
    # Approvals has an address for members too (out of their menu), where the page says
    # it is for administrators: tests/pages/test_approvals.py and tests/e2e check that.
    at = app_as("alan@example.com").run()
    assert [t.value for t in at.title] == ["Billing"]
    assert not reachable(at, "pages/sign_in.py")
    for path in ("pages/my_wallets.py", "pages/use_credits.py"):
        assert reachable(at, path), path
        at.run()
        assert not at.exception, (path, at.exception)
        assert [t.value for t in at.title] == [MEMBER_PAGES[path]]


@pytest.mark.skipif(not (ROOT / "pages/analytics.py").exists(), reason="page not written yet")
def test_member_reaches_spend_analytics(app_as):
    at = app_as("alan@example.com").run()
    assert reachable(at, "pages/analytics.py")


@pytest.mark.skipif(not (ROOT / "pages/approvals.py").exists(), reason="page not written yet")
def test_admin_also_reaches_approvals(app_as):
    at = app_as("ada@example.com").run()
    assert [t.value for t in at.title] == ["Billing"]
    for path in ("pages/my_wallets.py", "pages/use_credits.py", "pages/approvals.py"):
        assert reachable(at, path), path
    assert not reachable(at, "pages/sign_in.py")


def test_sidebar_shows_who_is_signed_in(app_as):
    at = app_as("grace@example.com").run()
    texts = [t.value for t in at.sidebar.text]
    assert texts == ["Grace Hopper", "grace@example.com"]
    assert any("Administrator" in m.value for m in at.sidebar.markdown)
    member = app_as("alan@example.com").run()
    assert any("Member" in m.value for m in member.sidebar.markdown)


def test_sidebar_offers_sign_out(app_as):
    # Clicking it is covered in the browser: AppTest 1.67 loses entry-file sidebar widgets
    # after the first run under st.navigation, so the click never arrives here.
    at = app_as("alan@example.com").run()
    assert [b.label for b in at.sidebar.button] == ["Sign out"]


def test_a_stale_or_forged_session_is_signed_out(app_as, app_ledger: Ledger):
    alan = app_ledger.user_by_email("alan@example.com")
    real = app_ledger.start_session(alan).token
    ended = app_ledger.start_session(alan).token
    app_ledger.end_session(ended)
    session_id, secret = real.split(".")
    forged_tokens = (f"{session_id}.{'A' * 43}", f"{int(session_id) + 9}.{secret}", secret, ended)
    for forged in (999_999, "3", True, 0, alan.id, *forged_tokens):
        at = app_as(None)
        at.session_state[USER_KEY] = forged
        at.run()
        assert not at.exception
        assert [t.value for t in at.title] == ["Sign in"], forged


def test_an_app_without_a_ledger_says_how_to_create_one(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from pages import _shared

    missing = tmp_path / "nowhere" / "billing.duckdb"
    monkeypatch.setenv("BILLING_DB", str(missing))
    _shared.get_ledger.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    assert "There is no ledger at" in at.error[0].value and "billing init" in at.error[0].value
    assert not missing.parent.exists()  # opening never creates


def test_a_missing_page_file_fails_loudly_instead_of_leaving_the_page_out(
    app_ledger: Ledger, tmp_path: Path
):
    """A page file left out of a package is a packaging bug: the app says so (an
    exception naming the file), rather than quietly dropping the page from the menu."""
    import shutil

    from streamlit.testing.v1 import AppTest

    shutil.copy(ROOT / "app.py", tmp_path / "app.py")
    shutil.copytree(ROOT / "pages", tmp_path / "pages",
                    ignore=shutil.ignore_patterns("use_credits.py", "__pycache__"))
    at = AppTest.from_file(str(tmp_path / "app.py"), default_timeout=30)
    signed_in_as(at, app_ledger, app_ledger.user_by_email("alan@example.com"))
    at.run()
    assert at.exception
    assert "pages/use_credits.py is missing" in at.exception[0].value
