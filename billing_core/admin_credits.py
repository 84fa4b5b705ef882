"""Credits an administrator adds directly, and corrections of mistakes.

- `grant`: credits with a reason. Up to `Settings.grant_limit` (10,000 by default) the
  wallet is credited at once (an audited `wallet.grant` movement); above it, a second
  administrator must agree, so the grant becomes a pending credit request made by the
  first, which only another administrator can approve (the requests' four-eyes rule).
- `correct_entry`: a reversing movement that points at the entry it corrects (the
  opposite kind, the same amount and workspace). Nothing is ever edited or deleted; an
  entry is corrected at most once, and a correction is not itself corrected (`verify()`
  checks both).
"""

from __future__ import annotations

from .access import Access
from .audit import AuditAction
from .errors import InvalidInput, InvalidTransition, NotFound
from .journal import ENTRY_COLUMNS, Movement, append, lock_wallet, row_to_transaction
from .models import EntryKind, GrantOutcome, Transaction, User
from .money import format_credits, parse_amount
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

    def grant(self, actor: User, workspace_id: int, amount: object, *, reason: str) -> GrantOutcome:
        """Credit a workspace with a reason (a contract top-up, say); see the module docstring."""
        value = parse_amount(amount)
        text = clean_text(reason, what="reason", limit=min(MAX_NOTE, MAX_DESCRIPTION), required=True)
        assert text is not None
        user = self.access.admin(actor, "grant credits")
        self.access.open_workspace(user, workspace_id)
        if value > self.settings.grant_limit:
            request = self._requests.request_credits(user, workspace_id, value, text)
            return GrantOutcome(entry=None, request=request)
        return GrantOutcome(
            entry=self._wallets.grant_credits(user, workspace_id, value, description=text), request=None
        )

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
            )
            (entry,) = append(self.db, cur, {original.workspace_id: wallet}, [movement], at=self.db.clock())
        return entry
