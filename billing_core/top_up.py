"""Automatic top-up requests: when a debit batch leaves a wallet below its policy's
threshold, the ledger files a request for the policy's amount, in the same transaction
as the debits (so it is decided holding the wallet, like they are).

Never a second while an automatic request of the workspace is pending, and at most the
policy's number a calendar month: both are read after the wallet's lock, so debits of
many threads or processes crossing the threshold at once file exactly one. The request
then goes to the standing approval like any other (requests.file_request).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from .grant_rules import month_of
from .journal import WalletState
from .models import CreditPolicy
from .money import format_credits
from .policies import load_policy
from .requests import file_request
from .schema import SYSTEM_USER_ID
from .store import Database

_FILED = """
    SELECT count(*) FILTER (WHERE status = 'pending'),
           count(*) FILTER (WHERE requested_at >= ? AND requested_at < ?)
    FROM credit_requests WHERE workspace_id = ? AND automatic
"""


def top_up_note(balance: Decimal, policy: CreditPolicy, nth: int) -> str:
    """The note of an automatic top-up request, the `nth` of its month."""
    assert policy.top_up_below is not None
    return (
        f"Automatic top-up: the balance fell to {format_credits(balance)}, below "
        f"{format_credits(policy.top_up_below)} (request {nth} of at most "
        f"{policy.top_ups_per_month} this month)."
    )


def after_debits(db: Database, cur: Any, wallets: Iterable[WalletState]) -> list[int]:
    """File the automatic top-up requests the debits just written call for; `wallets`: the
    debited wallets as they are now (held by this transaction). Returns the requests' ids."""
    filed: list[int] = []
    for wallet in sorted(wallets, key=lambda w: w.workspace_id):
        if wallet.top_up_below is None or wallet.balance >= wallet.top_up_below:
            continue
        policy = load_policy(cur, wallet.workspace_id)
        if policy.top_up_below is None or policy.top_up_amount is None or policy.top_ups_per_month is None:
            continue
        first, after = month_of(db.clock())
        ((pending, this_month),) = cur.execute(_FILED, [first, after, wallet.workspace_id]).fetchall()
        if pending or this_month >= policy.top_ups_per_month:
            continue
        note = top_up_note(wallet.balance, policy, this_month + 1)
        filed.append(
            file_request(
                db, cur, workspace_id=wallet.workspace_id, amount=policy.top_up_amount, note=note,
                requested_by=SYSTEM_USER_ID, automatic=True, wallet=wallet,
            )
        )
    return filed
