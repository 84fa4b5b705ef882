"""Issue 4, item 9 (pages): through app.py in AppTest, a member cannot see or act on another
workspace, even by forcing `?workspace=`, the remembered workspace in session state, or the
picker's own state; a member who runs the Approvals page gets nothing; signed-out and
forged sessions see only Sign in.

Everything a page drew (every element's protobuf, tables and charts included) is searched
for the names of the workspaces the member is not in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from billing_core import Ledger, Workspace
from tests.conftest import signed_in_as
from tests.hardening.books import counts, one


@pytest.fixture
def store() -> str:
    """Page tests run on one store (see tests/pages/conftest.py)."""
    return "duckdb"


ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
MEMBER = "alan@example.com"  # Acme Research and Hooli Data
NOT_HIS = ("Northwind Studio", "Globex Marketing", "Initech Support", "Umbrella Labs")
MEMBER_PAGES = ("pages/billing.py", "pages/my_wallets.py", "pages/use_credits.py", "pages/analytics.py")


def drawn(at: Any) -> str:
    """Every element the run drew, as protobuf text."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at._tree)
    return "\n".join(parts)


def signed_in(app_ledger: Ledger, email: str | None, user_key: object = None) -> Any:
    from streamlit.testing.v1 import AppTest

    from pages import _shared

    at = AppTest.from_file(APP, default_timeout=60)
    if email is not None:
        user = app_ledger.user_by_email(email)
        assert user is not None
        signed_in_as(at, app_ledger, user)
    elif user_key is not None:
        at.session_state[_shared.SESSION_KEY] = user_key
    return at


def force(at: Any, how: str, target: Workspace) -> None:
    from pages import _shared

    if how in ("query", "both"):
        at.query_params["workspace"] = str(target.id)
    if how in ("state", "both"):
        at.session_state[_shared.WORKSPACE_KEY] = target.id
    if how == "picker":
        at.session_state["billing.workspace_pick"] = target


def other_workspace(app_ledger: Ledger) -> Workspace:
    admin = app_ledger.user_by_email("ada@example.com")
    assert admin is not None
    return next(w for w in app_ledger.workspaces(admin) if w.name == "Northwind Studio")


@pytest.mark.parametrize("how", ["query", "state", "both", "picker"])
def test_a_member_never_sees_another_workspace_on_any_page(app_ledger: Ledger, how: str, tally) -> None:
    target = other_workspace(app_ledger)
    at = signed_in(app_ledger, MEMBER)
    force(at, how, target)
    at.run()
    # AppTest can set a widget's state only before the widget exists, so the picker is
    # forced on the first (default) page only
    for page in MEMBER_PAGES if how != "picker" else MEMBER_PAGES[:1]:
        if how != "picker":
            at.switch_page(page)
            force(at, how, target)
            at.run()
        assert not at.exception, (page, at.exception)
        seen = [name for name in NOT_HIS if name in drawn(at)]
        assert not seen, f"{page} with forced {how} shows {seen}"
        tally.add(operations=1)
    tally.add(runs=1)


def test_a_member_cannot_charge_or_request_for_another_workspace_by_forcing_it(app_ledger: Ledger) -> None:
    target = other_workspace(app_ledger)
    admin = app_ledger.user_by_email("ada@example.com")
    before = (
        app_ledger.wallet(admin, target.id).balance,  # type: ignore[arg-type]
        len(app_ledger.requests(admin, workspace_id=target.id)),
    )  # type: ignore[arg-type]
    entries = one(app_ledger, "SELECT count(*) FROM entries")
    at = signed_in(app_ledger, MEMBER)
    force(at, "both", target)
    at.run()
    at.switch_page("pages/use_credits.py")
    force(at, "both", target)
    at.run()
    at.text_area(key="billing.assistant.question").input("What did we spend?")
    at.button(key="billing.assistant.ask").click()
    at.run()
    assert not at.exception
    at.switch_page("pages/billing.py")
    force(at, "both", target)
    at.run()
    at.button(key="billing.requests.new").click()
    at.run()
    at.text_input(key="billing.request.amount").input("5")
    at.text_area(key="billing.request.note").input("forced")
    at.button[[b.label for b in at.button].index("Submit request")].click()
    at.run()
    assert not at.exception
    after = (
        app_ledger.wallet(admin, target.id).balance,  # type: ignore[arg-type]
        len(app_ledger.requests(admin, workspace_id=target.id)),
    )  # type: ignore[arg-type]
    assert after == before, "the forced workspace was charged or asked for credits"
    alan = app_ledger.user_by_email(MEMBER)
    mine = {w.id for w in app_ledger.workspaces(alan)}  # type: ignore[arg-type]
    # the actions did happen, on Alan's own workspace
    assert one(app_ledger, "SELECT count(*) FROM entries") == entries + 1
    assert any(r.note == "forced" and r.workspace_id in mine for r in app_ledger.requests(alan))  # type: ignore[arg-type]


def test_a_member_running_the_approvals_page_gets_nothing(app_ledger: Ledger) -> None:
    from streamlit.testing.v1 import AppTest


    at = signed_in(app_ledger, MEMBER)
    at.run()
    written = counts(app_ledger)
    # out of a member's menu, its address answers with the refusal and nothing else
    at.switch_page("pages/approvals.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.key and ".approve" in b.key]
    assert not [name for name in NOT_HIS if name in drawn(at)]
    assert counts(app_ledger) == written
    direct = AppTest.from_file(str(ROOT / "pages" / "approvals.py"), default_timeout=60)
    signed_in_as(direct, app_ledger, app_ledger.user_by_email(MEMBER))  # type: ignore[arg-type]
    written = counts(app_ledger)
    direct.run()
    assert not direct.exception
    assert not [b for b in direct.button if b.key and ".approve" in b.key]
    page = drawn(direct)
    assert not [name for name in NOT_HIS if name in page]
    assert counts(app_ledger) == written


@pytest.mark.parametrize("user_key", [None, "3", 3.0, True, -1, 0, 10**30, [3], {"id": 3}])
def test_signed_out_and_forged_sessions_see_only_sign_in(app_ledger: Ledger, user_key: object) -> None:
    """0 is the system operator's id: it must not sign anyone in either."""
    at = signed_in(app_ledger, None, user_key)
    at.query_params["workspace"] = "1"
    at.run()
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/billing.py")
    page = drawn(at)
    assert not [name for name in (*NOT_HIS, "Acme Research", "Hooli Data") if name in page]
