"""People & workspaces in AppTest (issue 11), over a fresh copy of the demo ledger: every
action checked in the ledger as well as on screen; hostile names drawn as text."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from billing_core import Ledger, RequestStatus, WalletStatus
from pages._shared import plain

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "people.py")
K = "billing.people"
ADMIN, OTHER_ADMIN, MEMBER = "ada@example.com", "grace@example.com", "alan@example.com"
HOSTILE = "=HYPERLINK(\"https://evil.example\") **bold** <script>alert(1)</script> :red[x] $x^2$"


def user(ledger: Ledger, email: str):
    found = ledger.user_by_email(email)
    assert found is not None, email
    return found


def unescaped(values) -> list[str]:
    """As read: plain()'s backslash escapes and word joiners taken out."""
    return [re.sub(r"\\(.)", r"\1", str(v)).replace("\u2060", "") for v in values]


@pytest.fixture
def page(app_as):
    at = app_as(ADMIN, script=PAGE).run()
    assert not at.exception, at.exception
    return at


def pick(at, key: str, label_part: str, *, run: bool = True):
    """Choose the option of a selectbox whose label contains `label_part` (in a form, the
    choice is sent with the form: `run=False`)."""
    box = at.selectbox(key=key)
    index = next(i for i, o in enumerate(box.options) if label_part in o)
    box.select_index(index)
    return at.run() if run else at


def submit(at, label: str):
    return next(b for b in at.button if b.label == label).click().run()


def toasts(at) -> list[str]:
    return unescaped(t.value for t in at.toast)


def test_members_are_told_the_page_is_for_administrators(app_as, app_ledger: Ledger) -> None:
    at = app_as(MEMBER, script=PAGE).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["People & workspaces is for administrators only."]
    assert not at.tabs and not at.text_input
    nav = app_as(MEMBER).run()
    nav.switch_page("pages/people.py").run()  # the address answers, out of the menu
    assert [e.value for e in nav.error] == ["People & workspaces is for administrators only."]


def test_an_admin_adds_renames_and_archives_a_workspace(page, app_ledger: Ledger) -> None:
    page.text_input(key=f"{K}.workspaces.add.name").input("Gamma Labs")
    submit(page, "Add workspace")
    assert not page.exception
    assert "Workspace Gamma Labs added, with an empty wallet." in toasts(page)
    admin = user(app_ledger, ADMIN)
    gamma = app_ledger.find_workspace(admin, "Gamma Labs")
    assert "Gamma Labs" in list(page.dataframe[0].value["Workspace"])
    pick(page, f"{K}.workspaces.manage", "Gamma Labs")
    page.text_input(key=f"{K}.workspaces.rename.name.{gamma.id}").input("Gamma Research")
    submit(page, "Rename")
    assert app_ledger.workspace(admin, gamma.id).name == "Gamma Research"
    page.button(key=f"{K}.workspaces.archive.{gamma.id}")
    assert page.button(key=f"{K}.workspaces.archive.{gamma.id}").disabled  # needs the box ticked
    page.checkbox(key=f"{K}.workspaces.sure.{gamma.id}").check().run()
    page.button(key=f"{K}.workspaces.archive.{gamma.id}").click().run()
    assert not page.exception
    assert app_ledger.workspace(admin, gamma.id).archived
    assert app_ledger.wallet(admin, gamma.id).status is WalletStatus.INACTIVE
    assert "Gamma Research" not in list(page.dataframe[0].value["Workspace"])
    page.toggle(key=f"{K}.workspaces.archived").set_value(True).run()
    table = page.dataframe[0].value
    assert table.loc[table["Workspace"] == "Gamma Research", "Status"].tolist() == ["Archived"]


def test_a_refusal_is_shown_and_changes_nothing(page, app_ledger: Ledger) -> None:
    page.text_input(key=f"{K}.workspaces.add.name").input("acme research")
    submit(page, "Add workspace")
    assert unescaped(e.value for e in page.error) == ["A workspace named acme research already exists."]
    assert len(app_ledger.workspaces(user(app_ledger, ADMIN))) == 6


def test_an_admin_invites_a_person_and_the_link_sets_their_password(page, app_as, app_ledger) -> None:
    page.text_input(key=f"{K}.people.email").input("dora@example.com")
    page.text_input(key=f"{K}.people.name").input("Dora Dev")
    submit(page, "Invite")
    assert not page.exception
    links = [c.value for c in page.code if "set-password?link=" in c.value]
    assert len(links) == 1
    token = links[0].split("link=", 1)[1]
    dora = user(app_ledger, "dora@example.com")
    assert not dora.is_admin and app_ledger.password_link_info(token).email == "dora@example.com"
    people = page.dataframe[1].value  # the People tab's table
    assert people.loc[people["Email"] == "dora@example.com", "Signs in with"].iloc[0].startswith("Invited")
    page.button(key=f"{K}.people.link_done").click().run()
    assert not [c for c in page.code if "set-password" in c.value]  # shown once, then gone
    # the invitee opens the link, signed out
    invitee = app_as(None)
    invitee.query_params["link"] = token
    invitee.run()
    invitee.switch_page("pages/set_password.py").run()
    assert not invitee.exception
    assert [t.value for t in invitee.title] == ["Set your password"]
    assert "Dora Dev" in unescaped(m.value for m in invitee.markdown)[0]
    invitee.text_input(key="billing.set_password.first").input("correct horse battery")
    invitee.text_input(key="billing.set_password.again").input("correct horse battery")
    submit(invitee, "Set password")
    assert not invitee.exception
    assert unescaped(s.value for s in invitee.success) == [
        "Your password is set. Sign in as dora@example.com with it."
    ]
    assert app_ledger.authenticate("dora@example.com", "correct horse battery") == dora


def test_the_set_password_page_refuses_a_spent_or_forged_link(app_as, app_ledger: Ledger) -> None:
    for token in ("1." + "A" * 43, "nonsense"):
        at = app_as(None)
        at.query_params["link"] = token
        at.run()
        at.switch_page("pages/set_password.py").run()
        assert not at.exception
        assert unescaped(e.value for e in at.error) == [
            "This link cannot be used: it was used already, replaced by a newer one, or it expired. "
            "Ask an administrator for a new one."
        ]
        assert not at.text_input


def test_two_different_passwords_are_refused(app_as, app_ledger: Ledger) -> None:
    link = app_ledger.invite_user(user(app_ledger, ADMIN), "dora@example.com", "Dora").link
    at = app_as(None)
    at.query_params["link"] = link.token
    at.run()
    at.switch_page("pages/set_password.py").run()
    at.text_input(key="billing.set_password.first").input("correct horse battery")
    at.text_input(key="billing.set_password.again").input("correct horse batterie")
    submit(at, "Set password")
    assert [e.value for e in at.error] == ["The two passwords differ. Type the same password twice."]
    assert app_ledger.password_link_info(link.token)  # still unused


def test_membership_role_and_status_from_the_page(page, app_ledger: Ledger) -> None:
    admin, alan = user(app_ledger, ADMIN), user(app_ledger, MEMBER)
    northwind = app_ledger.find_workspace(admin, "Northwind Studio")
    pick(page, f"{K}.people.manage", MEMBER)
    pick(page, f"{K}.people.join.{alan.id}", "Northwind Studio")
    page.button(key=f"{K}.people.join_add.{alan.id}").click().run()
    assert alan in app_ledger.members(admin, northwind.id)
    page.button(key=f"{K}.people.leave.{alan.id}.{northwind.id}").click().run()
    assert alan not in app_ledger.members(admin, northwind.id)
    page.button(key=f"{K}.people.promote.{alan.id}").click().run()
    assert user(app_ledger, MEMBER).is_admin
    assert "Alan Turing is now an administrator." in toasts(page)
    page.button(key=f"{K}.people.demote.{alan.id}").click().run()
    assert not user(app_ledger, MEMBER).is_admin
    page.button(key=f"{K}.people.deactivate.{alan.id}").click().run()
    assert not user(app_ledger, MEMBER).active
    page.button(key=f"{K}.people.reactivate.{alan.id}").click().run()
    assert user(app_ledger, MEMBER).active
    page.button(key=f"{K}.people.reset.{alan.id}").click().run()
    assert any("set-password?link=" in c.value for c in page.code)
    assert not page.exception


def test_the_last_admin_refusal_reaches_the_page(page, app_ledger: Ledger) -> None:
    admin, grace = user(app_ledger, ADMIN), user(app_ledger, OTHER_ADMIN)
    app_ledger.demote_admin(admin, grace.id)
    page.run()
    pick(page, f"{K}.people.manage", ADMIN)
    page.button(key=f"{K}.people.demote.{admin.id}").click().run()
    assert any("last active administrator" in e for e in unescaped(e.value for e in page.error))
    assert user(app_ledger, ADMIN).is_admin


def test_grants_within_and_above_the_limit(page, app_ledger: Ledger) -> None:
    admin = user(app_ledger, ADMIN)
    space = app_ledger.find_workspace(admin, "Umbrella Labs")
    before = app_ledger.wallet(admin, space.id).balance
    pick(page, f"{K}.credits.space", "Umbrella Labs", run=False)
    page.text_input(key=f"{K}.credits.amount").input("250")
    page.text_input(key=f"{K}.credits.reason").input("Contract top-up")
    submit(page, "Grant")
    assert not page.exception
    assert "Granted 250.00 en-credits to Umbrella Labs." in toasts(page)
    assert app_ledger.wallet(admin, space.id).balance == before + Decimal(250)
    pick(page, f"{K}.credits.space", "Umbrella Labs", run=False)
    page.text_input(key=f"{K}.credits.amount").input("25000")
    page.text_input(key=f"{K}.credits.reason").input("Annual contract")
    submit(page, "Grant")
    waiting = [r for r in app_ledger.requests(admin, workspace_id=space.id, status="pending")
               if r.requested_by == admin.id]
    assert [(r.amount, r.note, r.status) for r in waiting] == [
        (Decimal(25000), "Annual contract", RequestStatus.PENDING)
    ]
    assert any("waits for another administrator in Approvals" in t for t in toasts(page))
    assert app_ledger.wallet(admin, space.id).balance == before + Decimal(250)


def test_a_correction_from_the_page(page, app_ledger: Ledger) -> None:
    admin = user(app_ledger, ADMIN)
    space = app_ledger.find_workspace(admin, "Acme Research")
    entry = app_ledger.grant_credits(admin, space.id, "12", description="Oops: typed 12")
    page.number_input(key=f"{K}.credits.entry").set_value(entry.id).run()
    assert any(f"#{entry.id}" in m for m in unescaped(m.value for m in page.markdown))
    assert "Oops: typed 12" in [t.value for t in page.text]
    page.text_input(key=f"{K}.credits.why").input("Typed by mistake")
    submit(page, f"Reverse #{entry.id}")
    assert not page.exception
    fixed = app_ledger.history(admin, space.id, limit=1).items[0]
    assert fixed.corrects == entry.id and fixed.amount == Decimal(12)
    page.number_input(key=f"{K}.credits.entry").set_value(entry.id).run()
    page.text_input(key=f"{K}.credits.why").input("again")
    submit(page, f"Reverse #{entry.id}")
    assert any("already corrected" in e for e in unescaped(e.value for e in page.error))


def test_hostile_names_are_drawn_as_text(app_as, app_ledger: Ledger) -> None:
    admin = user(app_ledger, ADMIN)
    space = app_ledger.add_workspace(admin, HOSTILE)
    invited = app_ledger.invite_user(
        admin, "mallory@example.com", "Mallory [click](https://evil.example) _x_"
    )
    app_ledger.add_workspace_member(admin, space.id, invited.user.id)
    at = app_as(ADMIN, script=PAGE).run()
    assert not at.exception
    assert HOSTILE in list(at.dataframe[0].value["Workspace"])  # a table draws text as text
    pick(at, f"{K}.workspaces.manage", "HYPERLINK")
    heads = [m.value for m in at.markdown if "Members of" in m.value]
    assert heads == [f"**Members of {plain(HOSTILE)}**"]
    assert "Mallory [click](https://evil.example) _x_ · mallory@example.com" in [t.value for t in at.text]
    # an error quoting the name is inert too
    at.text_input(key=f"{K}.workspaces.add.name").input(HOSTILE)
    submit(at, "Add workspace")
    assert [e.value for e in at.error] == [plain(f"A workspace named {HOSTILE} already exists.")]
