"""`billing workspace|user|member|admin|grant|correct|sessions` (issue 11), on both stores:
one readable line (or a table) each, exit 1 with one line on a refusal."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import billing_core
from billing_core.cli import main


@pytest.fixture
def where(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty ledger on the store under test, as the CLI names it."""
    if store == "duckdb":
        path = str(tmp_path / "org.duckdb")
        assert main(["init", "--db", path]) == 0
        yield path
        return
    server = request.getfixturevalue("postgres")
    name, url = server.fresh()
    yield url
    server.drop(name)


def run(capsys: pytest.CaptureFixture[str], where: str, *args: str, stdin: str | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = main([*args, "--db", where])
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys, where, *args, **kwargs) -> str:
    code, out, err = run(capsys, where, *args, **kwargs)
    assert (code, err) == (0, ""), (args, err)
    return out


def refused(capsys, where, *args) -> str:
    code, out, err = run(capsys, where, *args)
    assert code == 1 and out == "", (args, out)
    assert err.startswith("billing: ") and len(err.strip().splitlines()) == 1, err
    return err


def test_an_organisation_is_set_up_from_the_command_line(where, capsys, monkeypatch) -> None:
    out = ok(capsys, where, "admin", "create", "ada@org.example", "--name", "Ada Admin", "--password-stdin",
             stdin="first admin password\n", monkeypatch=monkeypatch)
    assert out.startswith("Administrator ada@org.example (Ada Admin) created")
    for name in ("Research", "Design", "Operations"):
        assert ok(capsys, where, "workspace", "add", name).startswith(f"Workspace {name} added (id ")
    out = ok(capsys, where, "user", "invite", "grace@org.example", "--name", "Grace", "--admin",
             "--app-url", "https://billing.org.example")
    assert "as an administrator" in out
    link = re.search(r"https://billing\.org\.example/set-password\?link=(\S+)", out)
    assert link is not None
    out = ok(capsys, where, "user", "invite", "sam@org.example", "--name", "Sam", "--sso-only")
    assert "single sign-on" in out and "set-password" not in out
    ok(capsys, where, "user", "invite", "alan@org.example", "--name", "Alan")
    assert ok(capsys, where, "member", "add", "Research", "alan@org.example") == (
        "alan@org.example is now a member of Research.\n"
    )
    assert "was already" in ok(capsys, where, "member", "add", "research", "alan@org.example")
    out = ok(capsys, where, "grant", "Research", "5000", "--reason", "Contract top-up")
    assert out.startswith("Granted 5,000.00 en-credits to Research (transaction 1)")
    out = ok(capsys, where, "grant", "Design", "20000", "--reason", "Annual contract")
    assert "above the grant limit of 10,000.00 en-credits: request #1 waits for a second administrator" in out
    listed = ok(capsys, where, "workspace", "list")
    assert listed.splitlines()[0].split() == ["id", "workspace", "status", "balance", "members"]
    assert re.search(r"Research\s+active\s+5,000\.00\s+1", listed)
    people = ok(capsys, where, "user", "list")
    assert re.search(r"grace@org\.example\s+Grace\s+admin\s+active\s+invited, link valid until 2026-12-04",
                     people)
    assert re.search(r"sam@org\.example\s+Sam\s+member\s+active\s+single sign-on", people)
    assert re.search(r"alan@org\.example\s+Alan\s+member\s+active\s+invited.*Research", people)
    assert "alan@org.example" in ok(capsys, where, "member", "list", "Research")
    assert "Research" in ok(capsys, where, "member", "list", "--user", "alan@org.example")
    # Grace sets her password with the link and can then approve Ada's grant
    with billing_core.open_ledger(where) as ledger:
        grace = ledger.set_password_with_link(link.group(1), "grace's password")
        ledger.approve_request(grace, 1)
        session = ledger.start_session(grace, client="192.0.2.4", user_agent="Firefox")
    assert "Approved" not in ok(capsys, where, "workspace", "list")  # (just the table)
    assert re.search(r"Design\s+active\s+20,000\.00", ok(capsys, where, "workspace", "list"))
    out = ok(capsys, where, "sessions", "list")
    assert re.search(rf"{session.id}\s+grace@org\.example\s+2026-11-27 00:00 UTC", out) and "Firefox" in out
    assert ok(capsys, where, "sessions", "end", str(session.id)).startswith(f"Session {session.id} has ended")
    out = ok(capsys, where, "sessions", "list", "--user", "grace@org.example")
    assert out.startswith("grace@org.example is not signed in anywhere")
    assert "is now an administrator" in ok(capsys, where, "admin", "promote", "alan@org.example")
    assert "no longer an administrator" in ok(capsys, where, "admin", "demote", "alan@org.example")
    ok(capsys, where, "workspace", "rename", "Operations", "Ops & Support")
    assert "archived" in ok(capsys, where, "workspace", "archive", "Ops & Support")
    assert "Ops & Support" not in ok(capsys, where, "workspace", "list")
    assert re.search(r"Ops & Support\s+archived", ok(capsys, where, "workspace", "list", "--archived"))
    out = ok(capsys, where, "correct", "1", "--reason", "typed the wrong amount")
    assert out.startswith("Transaction 1 reversed by transaction 3 (debit of 5,000.00 en-credits)")
    out = ok(capsys, where, "user", "reset-link", "alan@org.example")
    assert "http://localhost:8501/set-password?link=" in out
    assert "deactivated" in ok(capsys, where, "user", "deactivate", "alan@org.example")
    assert "active again" in ok(capsys, where, "user", "reactivate", "alan@org.example")
    ok(capsys, where, "member", "remove", "Research", "alan@org.example")
    assert "no members" in ok(capsys, where, "member", "list", "Research")
    assert "books balance" in ok(capsys, where, "verify")


def test_refusals_are_one_line_and_exit_1(where, capsys, monkeypatch) -> None:
    ok(capsys, where, "admin", "create", "ada@org.example", "--name", "Ada", "--password-stdin",
       stdin="first admin password\n", monkeypatch=monkeypatch)
    ok(capsys, where, "workspace", "add", "Research")
    ok(capsys, where, "workspace", "add", "Design")
    ok(capsys, where, "user", "invite", "alan@org.example", "--name", "Alan")
    ok(capsys, where, "member", "add", "Research", "alan@org.example")
    as_alan = ("--as", "alan@org.example")
    for args, message in [
        (("workspace", "add", "Mine", *as_alan), "Only an administrator"),
        (("user", "invite", "x@org.example", "--name", "X", *as_alan), "Only an administrator"),
        (("grant", "Research", "10", "--reason", "me", *as_alan), "Only an administrator"),
        (("member", "add", "Research", "ada@org.example", *as_alan), "Only an administrator"),
        (("admin", "promote", "alan@org.example", *as_alan), "Only an administrator"),
        (("sessions", "list", "--user", "ada@org.example", *as_alan), "Only an administrator"),
        (("admin", "demote", "ada@org.example"), "last active administrator"),
        (("user", "deactivate", "nobody@org.example"), "no user nobody@org.example"),
        (("workspace", "rename", "Design", "research"), "already exists"),
        (("workspace", "add", "Evil\u202eexe"), "text-direction"),
        (("grant", "Research", "1e3", "--reason", "x"), "plain number"),
        (("grant", "Research", "10", "--reason", " "), "reason"),
        (("grant", "Nowhere", "10", "--reason", "x"), "no workspace"),
        (("member", "remove", "Design", "alan@org.example"), "not a member"),
        (("member", "list"), "Name a workspace"),
        (("sessions", "end", "999"), "no session 999"),
        (("correct", "42", "--reason", "x"), "no transaction #42"),
        (("user", "invite", "alan@org.example", "--name", "Alan again"), "already exists"),
    ]:
        assert message in refused(capsys, where, *args), args
    ok(capsys, where, "workspace", "archive", "Design")
    assert "archived" in refused(capsys, where, "workspace", "archive", "Design")
    assert "archived" in refused(capsys, where, "grant", "Design", "5", "--reason", "x")


def test_tables_show_hidden_characters_as_code_points(where, capsys) -> None:
    with billing_core.open_ledger(where) as ledger:
        admin = ledger.add_user("ada@org.example", "Ada", admin=True)
        space = ledger.add_workspace(admin, "=SUM(A1) <b>bold</b>")
        ledger.grant(admin, space.id, "5", reason="x")
    out = ok(capsys, where, "workspace", "list")
    assert "=SUM(A1) <b>bold</b>" in out  # a terminal shows text as text


def test_billing_grant_takes_the_grants_kind_priority_and_expiry(where, capsys, monkeypatch) -> None:
    """One `billing grant` verb (cli_admin's) with grants' options; `billing grants` lists them."""
    ok(capsys, where, "admin", "create", "ada@org.example", "--name", "Ada", "--password-stdin",
       stdin="first admin password\n", monkeypatch=monkeypatch)
    ok(capsys, where, "workspace", "add", "Research")
    as_ada = ("--as", "ada@org.example")
    out = ok(capsys, where, "grant", "Research", "300", "--reason", "Launch offer", "--kind", "promotional",
             "--priority", "5", "--expires", "2027-01-01T00:00:00Z", *as_ada)
    assert out.startswith("Granted 300.00 en-credits to Research (transaction 1)")
    assert "Grant #1: promotional, expiring 2027-01-01 00:00 UTC." in out
    out = ok(capsys, where, "grant", "Research", "50", "--reason", "Top-up", *as_ada)
    assert "Grant #2: purchased, never expiring." in out
    listed = ok(capsys, where, "grants", "Research", *as_ada).splitlines()
    assert re.match(r"#1\s+promotional\s+priority\s+5\s+300\.00 of\s+300\.00\s+expires 2027-01-01", listed[0])
    assert re.match(r"#2\s+purchased\s+priority\s+20\s+50\.00", listed[1])
    assert "expir" in refused(capsys, where, "grant", "Research", "5", "--reason", "x",
                              "--expires", "2020-01-01T00:00:00Z", *as_ada).lower()
    with pytest.raises(SystemExit) as usage:  # argparse refuses an unknown kind
        run(capsys, where, "grant", "Research", "5", "--reason", "x", "--kind", "free")
    assert usage.value.code == 2 and "invalid choice" in capsys.readouterr().err
