import pytest

from billing_core import InvalidInput, Ledger, NotFound


def test_emails_are_unique_case_insensitively(ledger: Ledger) -> None:
    ledger.add_user("Ada@Example.com", "Ada")
    with pytest.raises(InvalidInput, match="already exists"):
        ledger.add_user("ada@example.COM", "Other Ada")
    assert ledger.user_by_email("ADA@example.com").email == "ada@example.com"


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "<script>@x.com x", None])
def test_bad_emails_are_refused(ledger: Ledger, email: object) -> None:
    with pytest.raises(InvalidInput):
        ledger.add_user(email, "Someone")  # type: ignore[arg-type]


def test_workspace_names_are_unique(ledger: Ledger) -> None:
    ledger.create_workspace("Acme")
    with pytest.raises(InvalidInput):
        ledger.create_workspace("ACME ")


def test_add_member_checks_both_ends_and_is_idempotent(ledger: Ledger) -> None:
    user = ledger.add_user("a@example.com", "A")
    space = ledger.create_workspace("Acme")
    with pytest.raises(NotFound):
        ledger.add_member(999, user.id)
    with pytest.raises(NotFound):
        ledger.add_member(space.id, 999)
    ledger.add_member(space.id, user.id)
    ledger.add_member(space.id, user.id)
    assert [u.id for u in ledger.members(user, space.id)] == [user.id]


def test_system_operator_is_not_a_person(ledger: Ledger) -> None:
    admin = ledger.add_user("ada@example.com", "Ada", admin=True)
    assert [u.email for u in ledger.users(admin)] == ["ada@example.com"]
    assert ledger.user_by_email("system@billing.local") is None
    assert ledger.system_user().is_admin
