"""Credits an administrator adds directly, and corrections of mistakes.

- `grant`: credits with a reason. Up to `Settings.grant_limit` (10,000 by default) the
  wallet is credited at once (an audited `wallet.grant` movement); above it, a second
  administrator must agree, so the grant becomes a pending credit request made by the
  first, which only another administrator can approve (the requests' four-eyes rule).
- `correct_entry`: a reversing movement that points at the entry it corrects (the
  opposite kind, the same amount and workspace). Nothing is ever edited or deleted; an
  entry is corrected at most once, and a correction is not itself corrected (`verify()`
  checks both).

Corrections and grants. The reversal moves grants like any movement:
- Correcting a credit (the reversal is a debit) takes the amount first from the grant
  that credit made (what is left of it), and any rest from the wallet's other grants in
  the draw-down order. It is refused when the wallet holds less than the amount.
- Correcting a debit (the reversal is a credit) gives each of its draws back to the grant
  it came from while that grant is live (not expired: its expiry, if any, is still to
  come); the share of a grant that has expired since is returned as a new grant of the
  same kind and priority that never expires, its source the correction
  (`correction:<the correction's transaction>`). An expiry is corrected the same way:
  what expired comes back as such a grant. A debit from before grants existed drew from
  none: its credits come back as a purchased grant without expiry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .access import Access
from .audit import AuditAction
from .errors import InvalidInput, InvalidTransition, NotFound
from .grant_rules import check_expiry, check_priority
from .journal import ENTRY_COLUMNS, Movement, Return, append, lock_wallet, row_to_transaction
from .models import EntryKind, GrantKind, GrantOutcome, Transaction, User
from .money import format_credits, parse_amount, to_decimal
from .policies import parse_kind
from .requests import Requests
from .settings import Settings
from .store import Database
from .text import MAX_DESCRIPTION, MAX_NOTE, clean_id, clean_text
from .wallets import Wallets

_PREFIX = "Correction of #{id}: "
MAX_REASON = MAX_DESCRIPTION - len(_PREFIX.format(id=10**18))


class AdminCredits:
    """Administrators' direct grants (with the four-eyes limit) and corrections."""

    def __init__(
        self, db: Database, access: Access, settings: Settings, wallets: Wallets, requests: Requests
    ) -> None:
        self.db = db
        self.access = access
        self.settings = settings
        self._wallets = wallets
        self._requests = requests

    def grant(
        self,
        actor: User,
        workspace_id: int,
        amount: object,
        *,
        reason: str,
        kind: GrantKind | str = GrantKind.PURCHASED,
        priority: int | None = None,
        expires_at: datetime | None = None,
    ) -> GrantOutcome:
        """Credit a workspace with a reason (a contract top-up, say) as a grant of `kind`
        (priority: the kind's default unless given) expiring at `expires_at` (None: never);
        see the module docstring. Above the limit the pending request carries the amount and
        the reason; the approving administrator sets the grant's kind and expiry, as for any
        request (and the workspace's standing approval never decides it)."""
        value = parse_amount(amount)
        text = clean_text(reason, what="reason", limit=min(MAX_NOTE, MAX_DESCRIPTION), required=True)
        assert text is not None
        grant_kind = parse_kind(kind)
        check_priority(priority)
        check_expiry(expires_at, self.db.clock())
        user = self.access.admin(actor, "grant credits")
        self.access.open_workspace(user, workspace_id)
        if value > self.settings.grant_limit:
            request = self._requests.request_credits(user, workspace_id, value, text, standing=False)
            return GrantOutcome(entry=None, request=request)
        entry = self._wallets.grant_credits(
            user, workspace_id, value, description=text, kind=grant_kind, priority=priority,
            expires_at=expires_at,
        )
        return GrantOutcome(entry=entry, request=None)

    def transaction(self, actor: User, entry_id: int) -> Transaction:
        """One entry, for whoever may see its workspace."""
        clean_id(entry_id, what="transaction")
        with self.db.reading() as cur:
            row = cur.execute(f"SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ?", [entry_id]).fetchone()
        if row is None:
            self.access.actor(actor)
            raise NotFound(f"There is no transaction #{entry_id}.")
        entry = row_to_transaction(row)
        self.access.workspace(actor, entry.workspace_id)
        return entry

    def correct_entry(self, actor: User, entry_id: int, *, reason: str) -> Transaction:
        """Reverse entry `entry_id` with a movement that points at it; the correction."""
        clean_id(entry_id, what="transaction")
        text = clean_text(reason, what="reason", limit=MAX_REASON, required=True)
        with self.db.writing() as cur:
            user = self.access.admin(actor, "correct transactions")
            row = cur.execute(f"SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ?", [entry_id]).fetchone()
            if row is None:
                raise NotFound(f"There is no transaction #{entry_id}.")
            original = row_to_transaction(row)
            self.access.workspace(user, original.workspace_id)
            # the wallet's lock serialises corrections of its entries: the check below is final
            wallet = lock_wallet(self.db, cur, original.workspace_id)
            if original.amount == 0:  # a usage debit that rounded to nothing (issue 15)
                raise InvalidInput(f"#{entry_id} moved no credits; there is nothing to correct.")
            if original.corrects is not None:
                raise InvalidInput(
                    f"#{entry_id} is itself a correction (of #{original.corrects}); it cannot be corrected."
                )
            earlier = cur.execute("SELECT id FROM entries WHERE corrects = ?", [entry_id]).fetchone()
            if earlier is not None:
                raise InvalidTransition(f"#{entry_id} was already corrected by #{earlier[0]}.")
            debit = original.kind is EntryKind.CREDIT  # taking a credit back is a debit
            if debit and original.amount > wallet.balance:
                raise InvalidInput(
                    f"Reversing #{entry_id} would take {format_credits(original.amount)} from a wallet "
                    f"holding {format_credits(wallet.balance)}; a balance cannot go below zero."
                )
            movement = Movement(
                workspace_id=original.workspace_id,
                kind=EntryKind.DEBIT if debit else EntryKind.CREDIT,
                amount=original.amount,
                description=_PREFIX.format(id=entry_id) + (text or ""),
                feature=original.feature,
                actor_id=user.id,
                action=AuditAction.CORRECT,
                corrects=entry_id,
                draw_first=_grant_made_by(cur, entry_id) if debit else None,
                returns=() if debit else _returns(cur, original, wallet.account_id, self.db.clock()),
            )
            (entry,) = append(self.db, cur, {original.workspace_id: wallet}, [movement], at=self.db.clock())
        return entry


def _grant_made_by(cur: Any, entry_id: int) -> int | None:
    """The grant a credit made (None: a credit from before grants)."""
    row = cur.execute("SELECT id FROM grants WHERE entry_id = ?", [entry_id]).fetchall()
    return int(row[0][0]) if row else None


def _returns(cur: Any, original: Transaction, account_id: int, now: datetime) -> tuple[Return, ...]:
    """Where the credits of a correction of `original` (a debit or an expiry) go: each of
    its draws back to its grant while that grant is live, else into a new grant of the
    same kind and priority without expiry (see the module docstring)."""
    rows = cur.execute(
        """
        SELECT -p.amount, p.grant_id, g.kind, g.priority, g.expires_at
        FROM postings p LEFT JOIN grants g ON g.id = p.grant_id
        WHERE p.entry_id = ? AND p.account_id = ?
        ORDER BY g.priority, g.expires_at NULLS LAST, g.id
        """,
        [original.id, account_id],
    ).fetchall()
    returns = []
    for amount, grant_id, kind, priority, expires_at in rows:
        share = to_decimal(amount)
        if grant_id is None:  # drawn before grants existed
            returns.append(Return(share, GrantKind.PURCHASED, GrantKind.PURCHASED.default_priority))
        elif expires_at is None or expires_at > now:  # still live: back where it came from
            returns.append(Return(share, GrantKind(kind), int(priority), int(grant_id), expires_at))
        else:  # expired since: a new grant that never expires
            returns.append(Return(share, GrantKind(kind), int(priority)))
    return tuple(returns)
