"""The Audit log's reads (issue 11): filters by who, action, workspace, dates and text;
administrators only; exported through billing_core.export. Both stores."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from billing_core import InvalidInput, Ledger, PermissionDenied
from billing_core.export import csv_bytes


def move(ledger: Ledger, **delta: float) -> None:
    ledger.db.clock.now += timedelta(**delta)  # type: ignore[attr-defined]


@pytest.fixture
def story(ledger: Ledger, people: dict) -> dict:
    admin, admin2, acme, beta = people["admin"], people["admin2"], people["acme"].id, people["beta"].id
    move(ledger, days=1)
    ledger.grant(admin, acme, "100", reason="=cmd|' /C calc'!A0 contract \u2066quiet\u2069")
    ledger.rename_workspace(admin2, beta, "Beta Prime")
    move(ledger, days=1)
    ledger.invite_user(admin2, "dora@example.com", "Dora <b>Bold</b> [x](https://evil.example)")
    return people


def test_every_filter_narrows_the_log(ledger: Ledger, story: dict) -> None:
    admin, admin2, acme = story["admin"], story["admin2"], story["acme"].id
    everything = ledger.audit_events(admin)
    assert list(everything.columns) == [
        "id", "at", "actor_id", "actor", "action", "subject", "person", "workspace_id", "workspace",
        "before", "after", "detail",
    ]
    assert list(everything["id"]) == sorted(everything["id"], reverse=True)  # newest first
    by_grace = ledger.audit_events(admin, who=admin2.id)
    assert set(by_grace["action"]) == {"workspace.rename", "user.add", "user.password_link"}
    assert set(by_grace["actor"]) == {"Grace"}
    grants = ledger.audit_events(admin, action="wallet.grant")
    assert len(grants) == 1 and grants["workspace"].iloc[0] == "Acme"
    several = ledger.audit_events(admin, action=["wallet.grant", "workspace.rename"])
    assert sorted(several["action"]) == ["wallet.grant", "workspace.rename"]
    in_acme = ledger.audit_events(admin, workspace_id=acme)
    assert set(in_acme["workspace_id"]) == {acme} and "wallet.grant" in set(in_acme["action"])
    today = ledger.today()
    assert set(ledger.audit_events(admin, since=today)["action"]) == {"user.add", "user.password_link"}
    yesterday = ledger.audit_events(admin, since=today - timedelta(days=1), until=today - timedelta(days=1))
    assert sorted(yesterday["action"]) == ["wallet.grant", "workspace.rename"]
    prime = ledger.audit_events(admin, search="PRIME")  # any case; the workspace's name counts too
    assert "workspace.rename" in set(prime["action"]) and set(prime["workspace"]) == {"Beta Prime"}
    contract = ledger.audit_events(admin, search="CONTRACT")  # a grant's reason, in its entry
    assert list(contract["action"]) == ["wallet.grant"]
    assert contract["detail"].iloc[0].startswith("=cmd|' /C calc'!A0 contract")
    assert list(ledger.audit_events(admin, search="dora@")["action"]) == ["user.password_link", "user.add"]
    assert len(ledger.audit_events(admin, limit=2)) == 2


def test_hostile_text_is_found_and_exported_inert(ledger: Ledger, story: dict) -> None:
    admin = story["admin"]
    found = ledger.audit_events(admin, search="<b>bold</b>")
    assert list(found["action"]) == ["user.password_link", "user.add"]
    frame = ledger.audit_events(admin)
    reason = frame.loc[frame["action"] == "request.create", "after"]
    assert reason.empty  # a grant within the limit is a movement, not a request
    data = csv_bytes(frame).decode()
    assert "\n=cmd" not in data and ",=cmd" not in data
    assert "Dora <b>Bold</b> [x](https://evil.example)" in data  # text, as typed
    assert "'=cmd|" in data and "<U+2066>quiet<U+2069>" in data and "\u2066" not in data


def test_only_admins_read_the_log_and_bad_filters_are_refused(ledger: Ledger, story: dict) -> None:
    admin, alice = story["admin"], story["alice"]
    with pytest.raises(PermissionDenied):
        ledger.audit_events(alice)
    with pytest.raises(PermissionDenied):
        ledger.audit_events(alice, workspace_id=story["acme"].id)
    for kwargs in (
        {"action": "wallet.steal"},
        {"since": date(2026, 12, 2), "until": date(2026, 12, 1)},
        {"limit": 0},
        {"limit": 100_001},
        {"who": -1},
        {"search": "x\x00"},
    ):
        with pytest.raises(InvalidInput):
            ledger.audit_events(admin, **kwargs)


def test_the_frame_reads_the_same_values_as_the_rows(ledger: Ledger, story: dict) -> None:
    frame = ledger.audit_events(story["admin"], action="workspace.rename")
    row = frame.iloc[0]
    assert (row["before"], row["after"]) == ('{"name": "Beta"}', '{"name": "Beta Prime"}')
    assert isinstance(frame, pd.DataFrame) and str(row["at"]).startswith("2026-11-28")
