"""billing_core.text: names refuse hidden characters; `visible` shows them in other text.

Issue 10, item 17: a right-to-left override shows "\u202eexe.live" as "evil.exe", and
zero-width characters make two names look the same.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from billing_core import InvalidInput, Ledger
from billing_core.text import clean_name, visible

HIDDEN = {
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "pop directional formatting": "\u202c",
    "right-to-left isolate": "\u2067",
    "pop directional isolate": "\u2069",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "arabic letter mark": "\u061c",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "word joiner": "\u2060",
    "line separator": "\u2028",
    "escape": "\x1b",
    "bell": "\x07",
    "tab": "\t",
    "newline": "\n",
}


@pytest.mark.parametrize("name", list(HIDDEN))
def test_a_name_with_a_hidden_character_is_refused_with_its_code_point(name: str):
    char = HIDDEN[name]
    with pytest.raises(InvalidInput) as refused:
        clean_name(f"Acme{char}Labs", what="workspace name", limit=200)
    message = str(refused.value)
    assert message.startswith("The workspace name cannot contain invisible or text-direction")
    assert f"U+{ord(char):04X}" in message


def test_an_ordinary_name_in_any_script_is_kept():
    for name in ("Acme Research", "Zoë Café", "مختبر", "研究所", "Ole-Johan Dahl", "💳 Billing"):
        assert clean_name(f"  {name} ", what="name", limit=200) == name


def test_visible_shows_hidden_characters_as_code_points_and_keeps_layout():
    assert visible("\u202eexe.live") == "<U+202E>exe.live"
    assert visible("a\u200bb\ufeffc") == "a<U+200B>b<U+FEFF>c"
    assert visible("line one\nline two\r\n\ttabbed") == "line one\nline two\r\n\ttabbed"
    assert visible("plain text") == "plain text"


def test_the_ledger_refuses_hidden_characters_in_workspace_person_and_feature_names(
    ledger: Ledger, people: dict
):
    with pytest.raises(InvalidInput, match="U\\+202E"):
        ledger.create_workspace("\u202eexe.live")
    with pytest.raises(InvalidInput, match="U\\+200B"):
        ledger.add_user("zw@example.com", "Ada\u200b Lovelace")
    ledger.grant_credits(people["admin"], people["acme"].id, "10", description="funding")
    with pytest.raises(InvalidInput, match="U\\+2066"):
        ledger.consume(people["alice"], people["acme"].id, "1", feature="AI\u2066 chat",
                       description="x")
    # descriptions and notes keep them (shown escaped by the pages and exports)
    ledger.consume(people["alice"], people["acme"].id, "1", feature="AI",
                   description="\u202eexe.live")
    assert ledger.history(people["alice"], people["acme"].id).items[0].description == "\u202eexe.live"


def test_ingest_refuses_a_feature_with_hidden_characters_row_by_row(ledger: Ledger, people: dict):
    ledger.grant_credits(people["admin"], people["acme"].id, "10", description="funding")
    events = pd.DataFrame({
        "workspace": [people["acme"].id] * 3,
        "amount": ["1", "1", "1"],
        "feature": ["AI", "A\u202eI", " AI\n"],  # the last is only padded: stripped, like consume
        "description": ["x", "y", "z"],
        "occurred_at": ["2026-11-27 12:00:00"] * 3,  # the test clock's now
    })
    result = ledger.consume_many(people["admin"], events)
    assert result.posted == 2
    assert list(result.rejected["row"]) == [1]
    assert list(result.rejected["reason"]) == [
        "feature contains invisible or text-direction characters"]
    assert result.total_posted == Decimal(2)
