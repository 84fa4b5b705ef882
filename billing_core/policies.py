"""A workspace's credit policy: standing approval and automatic top-up, instead of a
payment gate. Set by administrators (the Approvals page, `billing policy`), audited with
before and after. The rules that use it live where they act: requests.py (standing
approval) and top_up.py (automatic top-up requests).
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from . import audit
from .access import Access
from .audit import AuditAction
from .errors import InvalidInput
from .models import CreditPolicy, GrantKind, User
from .money import parse_amount, to_decimal
from .store import Database, as_utc

MAX_GRANT_DAYS = 3_660
MAX_TOP_UPS = 100

_SETTINGS = frozenset({
    "approve_up_to", "approve_per_month", "top_up_below", "top_up_amount", "top_ups_per_month",
    "grant_kind", "grant_days",
})
_COLUMNS = (
    "workspace_id, approve_up_to, approve_per_month, top_up_below, top_up_amount, "
    "top_ups_per_month, grant_kind, grant_days, updated_by, updated_at"
)


def _policy(row: tuple[Any, ...]) -> CreditPolicy:
    def money(value: object) -> Decimal | None:
        return None if value is None else to_decimal(value)

    return CreditPolicy(
        workspace_id=int(row[0]),
        approve_up_to=money(row[1]),
        approve_per_month=money(row[2]),
        top_up_below=money(row[3]),
        top_up_amount=money(row[4]),
        top_ups_per_month=None if row[5] is None else int(row[5]),
        grant_kind=GrantKind(row[6]),
        grant_days=None if row[7] is None else int(row[7]),
        updated_by=None if row[8] is None else int(row[8]),
        updated_at=as_utc(row[9]),
    )


def load_policy(cur: Any, workspace_id: int) -> CreditPolicy:
    """The workspace's policy (inside a transaction that holds its wallet, where it is
    decided on); a workspace without one has the default: no standing approval, no
    automatic top-up, approvals grant purchased credits that never expire."""
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM credit_policies WHERE workspace_id = ?", [workspace_id]
    ).fetchall()
    return _policy(rows[0]) if rows else CreditPolicy(workspace_id)


def parse_kind(kind: object) -> GrantKind:
    try:
        return GrantKind(str(kind))
    except ValueError:
        raise InvalidInput("A grant's kind is 'purchased' or 'promotional'.") from None


def _count(value: object, *, what: str, most: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"The {what} must be a whole number.")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= most:
        raise InvalidInput(f"The {what} must be a whole number from 1 to {most:,}.")
    return int(text)


def _amount(value: object) -> Decimal | None:
    return None if value is None or value == "" else parse_amount(value)


def checked(
    workspace_id: int,
    *,
    approve_up_to: object = None,
    approve_per_month: object = None,
    top_up_below: object = None,
    top_up_amount: object = None,
    top_ups_per_month: object = None,
    grant_kind: object = GrantKind.PURCHASED,
    grant_days: object = None,
) -> CreditPolicy:
    """A policy from values as given (amounts as text or Decimal, counts as text or int;
    None or "" for none), or InvalidInput saying what is wrong. Each rule is whole or
    absent: a standing approval needs both limits, a top-up all three values."""
    clean = CreditPolicy(
        workspace_id=workspace_id,
        approve_up_to=_amount(approve_up_to),
        approve_per_month=_amount(approve_per_month),
        top_up_below=_amount(top_up_below),
        top_up_amount=_amount(top_up_amount),
        top_ups_per_month=_count(top_ups_per_month, what="number of top-ups a month", most=MAX_TOP_UPS),
        grant_kind=parse_kind(grant_kind),
        grant_days=_count(grant_days, what="number of days until approved credits expire",
                          most=MAX_GRANT_DAYS),
    )
    standing = (clean.approve_up_to, clean.approve_per_month)
    if any(v is None for v in standing) and any(v is not None for v in standing):
        raise InvalidInput("A standing approval needs both limits: per request and per month.")
    if clean.approve_up_to is not None and clean.approve_per_month is not None and (
        clean.approve_up_to > clean.approve_per_month
    ):
        raise InvalidInput("A standing approval's limit per request cannot exceed its limit per month.")
    top_up = (clean.top_up_below, clean.top_up_amount, clean.top_ups_per_month)
    if any(v is None for v in top_up) and any(v is not None for v in top_up):
        raise InvalidInput(
            "An automatic top-up needs all three: the balance it starts below, the amount to "
            "ask for, and how many times a month at most."
        )
    return clean


def describe(policy: CreditPolicy) -> dict[str, object]:
    """The policy as an audit row's before/after."""
    values = asdict(policy)
    for name in ("workspace_id", "updated_by", "updated_at"):
        values.pop(name)
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


class Policies:
    """Reading and setting workspaces' credit policies."""

    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def credit_policy(self, actor: User, workspace_id: int) -> CreditPolicy:
        """A workspace's policy (every member may see the rules their requests go by)."""
        with self.db.reading() as cur:
            self.access.workspace(actor, workspace_id)
            return load_policy(cur, workspace_id)

    def set_credit_policy(self, actor: User, workspace_id: int, **values: object) -> CreditPolicy:
        """Replace a workspace's policy with `values` (see `checked`; administrators only),
        audited with before and after."""
        unknown = set(values) - _SETTINGS
        if unknown:
            raise InvalidInput(f"A credit policy has no setting {sorted(unknown)[0]!r}.")
        clean = checked(workspace_id, **values)
        with self.db.writing() as cur:
            user = self.access.admin(actor, "change a workspace's credit policy")
            self.access.workspace(user, clean.workspace_id)
            # the wallet's lock: the rules change between two decisions, never during one
            self.db.select_for_update(
                cur, "SELECT workspace_id FROM wallets WHERE workspace_id = ?", [clean.workspace_id]
            )
            before = load_policy(cur, clean.workspace_id)
            at = self.db.clock()
            cur.execute("DELETE FROM credit_policies WHERE workspace_id = ?", [clean.workspace_id])
            cur.execute(
                f"INSERT INTO credit_policies ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    clean.workspace_id, clean.approve_up_to, clean.approve_per_month,
                    clean.top_up_below, clean.top_up_amount, clean.top_ups_per_month,
                    clean.grant_kind.value, clean.grant_days, user.id, at,
                ],
            )
            audit.record(
                self.db,
                cur,
                at=at,
                actor_id=user.id,
                action=AuditAction.POLICY_CHANGE,
                subject=f"policy:{clean.workspace_id}",
                workspace_id=clean.workspace_id,
                before=describe(before),
                after=describe(clean),
            )
            return load_policy(cur, clean.workspace_id)
