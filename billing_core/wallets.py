"""Wallets: balances and status, direct grants, and consuming credits."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from . import audit
from .access import Access
from .audit import AuditAction
from .errors import InvalidInput, NoPrice
from .grant_rules import check_expiry, check_priority
from .group_commit import Debit, DebitWriter, Usage
from .journal import Movement, NewGrant, append, lock_wallet
from .models import (
    ConsolidatedWallet,
    EntryKind,
    GrantKind,
    Transaction,
    User,
    Wallet,
    WalletStatus,
    WalletSummary,
)
from .money import ZERO, parse_amount, to_decimal
from .notify.events import Event, emit
from .policies import parse_kind
from .prices import moment, price_in_effect
from .pricing import check_priced, exact_price, in_unit, parse_quantity, parse_unit, priced_by
from .store import Database, as_utc
from .text import MAX_DESCRIPTION, MAX_FEATURE, clean_name, clean_text

FUTURE_LEEWAY = timedelta(minutes=5)  # as bulk ingest: a sender's clock may run a little ahead

_WALLET_SELECT = """
    SELECT w.workspace_id, s.name, w.balance, w.status, w.updated_at,
           coalesce((SELECT sum(r.amount) FROM credit_requests r
                     WHERE r.workspace_id = w.workspace_id AND r.status = 'pending'), 0)
    FROM wallets w JOIN workspaces s ON s.id = w.workspace_id
"""


def _wallet(row: tuple[Any, ...]) -> Wallet:
    return Wallet(
        workspace_id=int(row[0]),
        workspace_name=row[1],
        balance=to_decimal(row[2]),
        status=WalletStatus(row[3]),
        updated_at=as_utc(row[4]),
    )


def _summary(row: tuple[Any, ...]) -> WalletSummary:
    return WalletSummary(wallet=_wallet(row), pending_amount=to_decimal(row[5]))


def _parse_status(status: object) -> WalletStatus:
    try:
        return WalletStatus(str(status))
    except ValueError:
        raise InvalidInput("A wallet's status is either 'active' or 'inactive'.") from None


class Wallets:
    """Balances and status, direct grants, and consuming credits (through group commit)."""

    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access
        self._debits = DebitWriter(db)

    def close(self) -> None:
        self._debits.close()

    def wallet(self, actor: User, workspace_id: int) -> Wallet:
        with self.db.reading() as cur:
            _, name = self.access.workspace(actor, workspace_id)
            row = cur.execute(
                "SELECT workspace_id, ?, balance, status, updated_at FROM wallets WHERE workspace_id = ?",
                [name, workspace_id],
            ).fetchone()
        assert row is not None  # the access check found the workspace; it has a wallet
        return _wallet(row)

    def wallets(self, actor: User) -> list[WalletSummary]:
        """Every wallet the actor may see (all of them for an admin), by workspace name."""
        with self.db.reading() as cur:
            user = self.access.actor(actor)
            rows = cur.execute(
                _WALLET_SELECT
                + """
                WHERE (? OR w.workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = ?))
                  AND s.archived_at IS NULL
                ORDER BY s.name_key
                """,
                [user.is_admin, user.id],
            ).fetchall()
        return [_summary(r) for r in rows]

    def consolidated_wallet(self, actor: User) -> ConsolidatedWallet:
        """The actor's own wallets: every workspace they belong to, and the totals."""
        with self.db.reading() as cur:
            user = self.access.actor(actor)
            rows = cur.execute(
                _WALLET_SELECT
                + """
                WHERE w.workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = ?)
                  AND s.archived_at IS NULL
                ORDER BY s.name_key
                """,
                [user.id],
            ).fetchall()
        lines = [_summary(r) for r in rows]
        total = sum((s.wallet.balance for s in lines), ZERO)
        available = sum((s.wallet.usable_balance for s in lines), ZERO)
        return ConsolidatedWallet(
            user_id=user.id,
            wallets=lines,
            total=total,
            pending_total=sum((s.pending_amount for s in lines), ZERO),
            available_total=available,
            blocked_total=total - available,
        )

    def set_wallet_status(self, actor: User, workspace_id: int, status: str) -> Wallet:
        new_status = _parse_status(status)
        with self.db.writing() as cur:
            user = self.access.admin(actor, "change a wallet's status")
            if new_status is WalletStatus.ACTIVE:
                self.access.open_workspace(user, workspace_id)  # an archived workspace stays inactive
            self.access.workspace(user, workspace_id)
            wallet = lock_wallet(self.db, cur, workspace_id)
            if wallet.status is not new_status:
                at = self.db.clock()
                cur.execute(
                    "UPDATE wallets SET status = ?, updated_at = ? WHERE workspace_id = ?",
                    [new_status.value, at, workspace_id],
                )
                name = self.access.workspace_name(workspace_id)
                active = new_status is WalletStatus.ACTIVE
                emit(
                    self.db, cur, Event.WALLET_ACTIVATED if active else Event.WALLET_DEACTIVATED, at=at,
                    workspace_id=workspace_id, actor_id=user.id,
                    text=f"{user.name} {'activated' if active else 'deactivated'} the wallet of {name}"
                         + ("." if active else ": features that use en-credits are blocked there."),
                    details={"workspace": name, "status": new_status.value},
                )
                audit.record(
                    self.db,
                    cur,
                    at=at,
                    actor_id=user.id,
                    action=AuditAction.WALLET_STATUS,
                    subject=f"wallet:{workspace_id}",
                    workspace_id=workspace_id,
                    before={"status": wallet.status.value},
                    after={"status": new_status.value},
                )
        return self.wallet(actor, workspace_id)

    def grant_credits(
        self,
        actor: User,
        workspace_id: int,
        amount: object,
        *,
        description: str,
        kind: GrantKind | str = GrantKind.PURCHASED,
        priority: int | None = None,
        expires_at: datetime | None = None,
    ) -> Transaction:
        """A direct credit by an admin, whatever the amount: the set-up path (demo, scripts,
        tests). The console and the CLI call `Ledger.grant`, which sends a grant above the
        limit to a second administrator. The credits are a grant of `kind` (priority: the
        kind's default unless given) expiring at `expires_at` (None: never)."""
        value = parse_amount(amount)
        text = clean_text(description, what="description", limit=MAX_DESCRIPTION, required=True)
        assert text is not None
        grant_kind = parse_kind(kind)
        check_priority(priority)
        with self.db.writing() as cur:
            user = self.access.admin(actor, "grant credits")
            self.access.open_workspace(user, workspace_id)
            expiry = check_expiry(expires_at, self.db.clock())
            wallet = lock_wallet(self.db, cur, workspace_id)
            movement = Movement(
                workspace_id=workspace_id,
                kind=EntryKind.CREDIT,
                amount=value,
                description=text,
                feature=None,
                actor_id=user.id,
                action=AuditAction.GRANT,
                grant=NewGrant(grant_kind, priority, expiry, "grant"),
            )
            (entry,) = append(self.db, cur, {workspace_id: wallet}, [movement], at=self.db.clock())
        return entry

    def consume(
        self,
        actor: User,
        workspace_id: int,
        amount: object,
        *,
        feature: str,
        description: str,
        idempotency_key: str | None = None,
    ) -> Transaction:
        """Debit credits for a feature's use; refuses rather than overdraw.

        The same idempotency key again returns the first transaction and debits
        nothing; the same key for a different workspace, amount or feature is an
        IdempotencyConflict.
        """
        value = parse_amount(amount)
        feature_name = clean_name(feature, what="feature", limit=MAX_FEATURE)
        text = clean_text(description, what="description", limit=MAX_DESCRIPTION, required=True)
        key = clean_text(idempotency_key, what="idempotency key", limit=200, required=False)
        assert text is not None
        user, _ = self.access.workspace(actor, workspace_id)
        return self._debits.submit(Debit(workspace_id, value, feature_name, text, user.id, key))

    def consume_usage(
        self,
        actor: User,
        workspace_id: int,
        feature: str,
        quantity: object,
        *,
        unit: object,
        description: str,
        idempotency_key: str | None = None,
        occurred_at: date | datetime | None = None,
    ) -> Transaction:
        """Debit usage priced by the rate card at `occurred_at` (default now), with every rule
        of `consume` (and group-committed with it). The pair's carried remainder is added
        and the debit rounded down to 0.0001 (pricing.carry); it may be 0, never below.
        The same key again is the same charge if feature, quantity and unit match."""
        amount = parse_quantity(quantity)
        kind = parse_unit(unit)
        feature_name = clean_name(feature, what="feature", limit=MAX_FEATURE)
        text = clean_text(description, what="description", limit=MAX_DESCRIPTION, required=True)
        key = clean_text(idempotency_key, what="idempotency key", limit=200, required=False)
        assert text is not None
        user, _ = self.access.workspace(actor, workspace_id)
        now = self.db.clock()
        at = moment(occurred_at, now)
        if at > now + FUTURE_LEEWAY:
            raise InvalidInput(
                "occurred_at is in the future (more than 5 minutes ahead of the ledger's clock)."
            )
        with self.db.reading() as cur:
            price = price_in_effect(cur, feature_name, kind, at)
        if price is None:
            units = " or ".join(u.value for u in priced_by(kind))
            raise NoPrice(
                f"There is no price for {feature_name} in {units} at {at:%Y-%m-%d %H:%M} UTC "
                "(nor a default one, feature *): an administrator can add one under Prices."
            )
        counted = in_unit(amount, kind, price.unit)  # recorded in the unit it was priced in
        exact = exact_price(counted, price.credits_per_unit)
        check_priced(exact)
        usage = Usage(counted, price.unit.value, price.credits_per_unit, exact)
        return self._debits.submit(Debit(workspace_id, ZERO, feature_name, text, user.id, key, usage))
