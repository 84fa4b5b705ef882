"""Credit requests: pending -> approved | rejected | cancelled, each change audited.

Approval is exactly-once: the status check and the credit entry happen in one
serialised transaction, so a second approval (another tab, another admin) sees
the request already decided and gets InvalidTransition; nothing is credited twice.
An approval's credit is a grant: purchased or promotional, expiring or not.

Standing approval: a workspace whose policy allows it has each request of at most its
limit approved at once, by the policy (decided by the system account, with a note that
says so), while the month's approvals by the policy stay within its monthly limit; the
decision is taken holding the wallet, so two requests at once cannot both use the last
of the month's allowance. Anything else waits for an administrator, four eyes as ever.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from . import audit
from .access import Access
from .audit import AuditAction
from .errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from .grant_rules import check_expiry, check_priority, month_of
from .journal import Movement, NewGrant, WalletState, append, lock_wallet
from .models import CreditPolicy, CreditRequest, EntryKind, GrantKind, RequestStatus, User
from .money import MAX_BALANCE, format_credits, parse_amount, to_decimal
from .notify.events import Event, emit
from .policies import load_policy, parse_kind
from .schema import SYSTEM_USER_ID
from .store import Database, as_utc
from .text import MAX_NOTE, clean_id, clean_limit, clean_text

_SELECT = """
    SELECT r.id, r.workspace_id, w.name, r.amount, r.status, r.note,
           r.requested_by, ru.name, r.requested_at,
           r.decided_by, du.name, r.decided_at, r.decision_note, r.entry_id,
           r.automatic, r.by_policy
    FROM credit_requests r
    JOIN workspaces w ON w.id = r.workspace_id
    JOIN users ru ON ru.id = r.requested_by
    LEFT JOIN users du ON du.id = r.decided_by
"""


def _request(row: tuple[Any, ...]) -> CreditRequest:
    return CreditRequest(
        id=int(row[0]),
        workspace_id=int(row[1]),
        workspace_name=row[2],
        amount=to_decimal(row[3]),
        status=RequestStatus(row[4]),
        note=row[5],
        requested_by=int(row[6]),
        requested_by_name=row[7],
        requested_at=as_utc(row[8]),
        decided_by=row[9],
        decided_by_name=row[10],
        decided_at=as_utc(row[11]),
        decision_note=row[12],
        entry_id=row[13],
        automatic=bool(row[14]),
        by_policy=bool(row[15]),
    )


def _load(cur: Any, request_id: object) -> CreditRequest:
    clean_id(request_id, what="request")
    row = cur.execute(_SELECT + " WHERE r.id = ?", [request_id]).fetchone()
    if row is None:
        raise NotFound(f"There is no credit request {request_id}.")
    return _request(row)


def _load_locked(db: Database, cur: Any, request_id: object) -> CreditRequest:
    """The request, held until the transaction ends: a second decision on it waits, then
    sees the first one's outcome."""
    clean_id(request_id, what="request")
    db.select_for_update(cur, "SELECT id FROM credit_requests WHERE id = ?", [request_id])
    return _load(cur, request_id)


def _require_pending(request: CreditRequest, doing: str) -> None:
    if request.status is RequestStatus.PENDING:
        return
    by = f" by {request.decided_by_name}" if request.decided_by_name else ""
    raise InvalidTransition(
        f"Request #{request.id} was already {request.status.value}{by}; "
        f"only a pending request can be {doing}."
    )


_TOLD = {
    RequestStatus.APPROVED: (Event.REQUEST_APPROVED, "approved"),
    RequestStatus.REJECTED: (Event.REQUEST_REJECTED, "rejected"),
    RequestStatus.CANCELLED: (Event.REQUEST_CANCELLED, "cancelled"),
}


def _tell(db: Database, cur: Any, decided: CreditRequest, balance: Decimal, at: datetime) -> None:
    """The decision, to the requester and the workspace's members, with the note and the
    balance it left (`decided`: the request as the decision left it)."""
    event, verb = _TOLD[decided.status]
    added = f" {format_credits(decided.amount)} were added to {decided.workspace_name}." if (
        decided.status is RequestStatus.APPROVED) else ""
    note = decided.decision_note
    said = f" Note: {note}" if note else ""
    emit(
        db, cur, event, at=at, workspace_id=decided.workspace_id, request_id=decided.id,
        actor_id=decided.decided_by, also=decided.requested_by,
        text=f"{decided.decided_by_name} {verb} request #{decided.id} for {format_credits(decided.amount)} "
             f"({decided.workspace_name}).{added} Balance: {format_credits(balance)}.{said}",
        details={"workspace": decided.workspace_name, "amount": str(decided.amount), "note": note,
                 "decided_by": decided.decided_by_name, "balance": str(balance)},
    )


def _parse_status(status: object) -> RequestStatus:
    try:
        return RequestStatus(str(status))
    except ValueError:
        names = ", ".join(s.value for s in RequestStatus)
        raise InvalidInput(f"A request's status is one of: {names}.") from None


DECISION_ACTIONS = {
    RequestStatus.APPROVED: AuditAction.REQUEST_APPROVED,
    RequestStatus.REJECTED: AuditAction.REQUEST_REJECTED,
    RequestStatus.CANCELLED: AuditAction.REQUEST_CANCELLED,
}


class Requests:
    """Credit requests and their decisions."""

    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def request_credits(
        self, actor: User, workspace_id: int, amount: object, note: str | None = None, *,
        standing: bool = True,
    ) -> CreditRequest:
        """Ask for credits: pending, or approved at once by the workspace's standing approval
        (unless `standing` is False: an administrator's grant above the limit, which only a
        second administrator may approve)."""
        value = parse_amount(amount)
        text = clean_text(note, what="note", limit=MAX_NOTE, required=False)
        with self.db.writing() as cur:
            user, _ = self.access.open_workspace(actor, workspace_id)
            request_id = file_request(self.db, cur, workspace_id=workspace_id, amount=value, note=text,
                                      requested_by=user.id, standing=standing)
            return _load(cur, request_id)

    def cancel_request(self, actor: User, request_id: int, reason: str | None = None) -> CreditRequest:
        text = clean_text(reason, what="reason", limit=MAX_NOTE, required=False)
        with self.db.writing() as cur:
            user = self.access.actor(actor)
            request = _load_locked(self.db, cur, request_id)
            self.access.workspace(user, request.workspace_id)
            if not user.is_admin and request.requested_by != user.id:
                raise PermissionDenied(
                    "Only the member who asked for these credits, or an administrator, "
                    "can cancel this request."
                )
            _require_pending(request, "cancelled")
            decide(self.db, cur, decider=user.id, request=request, status=RequestStatus.CANCELLED, note=text)
            return _load(cur, request.id)

    def approve_request(
        self,
        actor: User,
        request_id: int,
        note: str | None = None,
        *,
        expires_at: datetime | None = None,
        kind: GrantKind | str = GrantKind.PURCHASED,
        priority: int | None = None,
    ) -> CreditRequest:
        """Approve a pending request (another administrator's, never one's own): its credits
        become a grant of `kind` (priority: the kind's default unless given) that expires at
        `expires_at` (None: never; else a time after now)."""
        text = clean_text(note, what="note", limit=MAX_NOTE, required=False)
        grant_kind = parse_kind(kind)
        check_priority(priority)
        with self.db.writing() as cur:
            user = self.access.admin(actor, "approve credit requests")
            expiry = check_expiry(expires_at, self.db.clock())
            request = _load_locked(self.db, cur, request_id)
            if request.requested_by == user.id:
                raise PermissionDenied("You cannot approve your own request; another administrator must.")
            _require_pending(request, "approved")
            grant = NewGrant(grant_kind, priority, expiry, f"request:{request.id}")
            decide(self.db, cur, decider=user.id, request=request, status=RequestStatus.APPROVED,
                   note=text, grant=grant)
            return _load(cur, request.id)

    def reject_request(self, actor: User, request_id: int, note: str) -> CreditRequest:
        text = clean_text(note, what="reason for the rejection", limit=MAX_NOTE, required=True)
        with self.db.writing() as cur:
            user = self.access.admin(actor, "reject credit requests")
            request = _load_locked(self.db, cur, request_id)
            _require_pending(request, "rejected")
            decide(self.db, cur, decider=user.id, request=request, status=RequestStatus.REJECTED, note=text)
            return _load(cur, request.id)

    def credit_request(self, actor: User, request_id: int) -> CreditRequest:
        with self.db.reading() as cur:
            request = _load(cur, request_id)
            self.access.workspace(actor, request.workspace_id)
        return request

    def requests(
        self,
        actor: User,
        *,
        workspace_id: int | None = None,
        status: RequestStatus | str | None = None,
        limit: int = 500,
    ) -> list[CreditRequest]:
        """Requests the actor may see, newest first (pending ones oldest first)."""
        clean_limit(limit, most=10_000)
        wanted = _parse_status(status) if status is not None else None
        with self.db.reading() as cur:
            user = self.access.actor(actor)
            if workspace_id is not None:
                self.access.workspace(user, workspace_id)
            rows = cur.execute(
                _SELECT
                + """
                WHERE (? OR r.workspace_id IN (SELECT workspace_id FROM memberships WHERE user_id = ?))
                  AND (? IS NULL OR r.workspace_id = ?)
                  AND (? IS NULL OR r.status = ?)
                ORDER BY CASE WHEN r.status = 'pending' THEN r.requested_at END ASC,
                         CASE WHEN r.status = 'pending' THEN r.id END ASC,
                         r.requested_at DESC, r.id DESC
                LIMIT ?
                """,
                [
                    user.is_admin,
                    user.id,
                    workspace_id,
                    workspace_id,
                    wanted and wanted.value,
                    wanted and wanted.value,
                    limit,
                ],
            ).fetchall()
        return [_request(r) for r in rows]


def pending_locked(db: Database, cur: Any, workspace_id: int) -> list[CreditRequest]:
    """A workspace's pending requests, held until the transaction ends (oldest first)."""
    rows = db.select_for_update(
        cur,
        "SELECT id FROM credit_requests WHERE workspace_id = ? AND status = 'pending' ORDER BY id",
        [workspace_id],
    )
    return [_load(cur, int(r[0])) for r in rows]


def file_request(
    db: Database,
    cur: Any,
    *,
    workspace_id: int,
    amount: Decimal,
    note: str | None,
    requested_by: int,
    automatic: bool = False,
    wallet: WalletState | None = None,
    standing: bool = True,
) -> int:
    """Insert a pending request (audited) inside the caller's transaction, then let the
    workspace's standing approval decide it; `wallet`: the wallet if the caller already
    holds it; `standing`: False keeps the standing approval out of it. Returns the request's id."""
    request_id = db.next_id("credit_requests")
    at = db.clock()
    cur.execute(
        """
        INSERT INTO credit_requests
            (id, workspace_id, amount, note, status, requested_by, requested_at, automatic)
        VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)
        """,
        [request_id, workspace_id, amount, note, requested_by, at, automatic],
    )
    _tell_created(db, cur, _load(cur, request_id), at)
    audit.record(
        db,
        cur,
        at=at,
        actor_id=requested_by,
        action=AuditAction.REQUEST_CREATE,
        subject=f"request:{request_id}",
        workspace_id=workspace_id,
        before=None,
        after={"status": "pending", "amount": str(amount)},
    )
    policy = load_policy(cur, workspace_id)
    if standing and policy.approve_up_to is not None and amount <= policy.approve_up_to:
        _standing_approval(db, cur, _load(cur, request_id), policy, wallet)
    return request_id


def _tell_created(db: Database, cur: Any, request: CreditRequest, at: datetime) -> None:
    """A new request, to the administrators (an automatic top-up's too: one may have to decide it)."""
    who = "An automatic top-up" if request.automatic else request.requested_by_name
    said = f" Note: {request.note}" if request.note else ""
    emit(
        db, cur, Event.REQUEST_CREATED, at=at, workspace_id=request.workspace_id,
        request_id=request.id, actor_id=request.requested_by,
        text=f"{who} asked for {format_credits(request.amount)} for {request.workspace_name} "
             f"(request #{request.id}).{said}",
        details={"workspace": request.workspace_name, "amount": str(request.amount), "note": request.note,
                 "requested_by": request.requested_by_name},
    )


def _standing_approval(
    db: Database, cur: Any, request: CreditRequest, policy: CreditPolicy, wallet: WalletState | None
) -> None:
    """Approve `request` by the policy if this month's approvals by it leave room for it.
    Decided holding the wallet: two requests at once take turns."""
    assert policy.approve_up_to is not None and policy.approve_per_month is not None
    held = wallet or lock_wallet(db, cur, request.workspace_id)
    at = db.clock()
    first, after = month_of(at)
    # fetchall: a result left open would stop the journal's batch from being registered
    ((month_total,),) = cur.execute(
        """
        SELECT coalesce(sum(amount), 0) FROM credit_requests
        WHERE workspace_id = ? AND by_policy AND decided_at >= ? AND decided_at < ?
        """,
        [request.workspace_id, first, after],
    ).fetchall()
    used = to_decimal(month_total)
    if used + request.amount > policy.approve_per_month or held.balance + request.amount > MAX_BALANCE:
        return  # waits for an administrator
    note = standing_approval_note(policy, used + request.amount)
    expires_at = at + timedelta(days=policy.grant_days) if policy.grant_days else None
    grant = NewGrant(policy.grant_kind, None, expires_at, f"request:{request.id}")
    decide(db, cur, decider=SYSTEM_USER_ID, request=request, status=RequestStatus.APPROVED, note=note,
           grant=grant, wallet=held, by_policy=True)


def standing_approval_note(policy: CreditPolicy, month_total: Decimal) -> str:
    """The decision note of an approval by the policy (`month_total`: approved this way
    this month, this one included)."""
    assert policy.approve_up_to is not None and policy.approve_per_month is not None
    return (
        f"Approved at once by the workspace's standing approval (up to "
        f"{format_credits(policy.approve_up_to)} a request and {format_credits(policy.approve_per_month)} "
        f"a month; {format_credits(month_total)} approved this way this month)."
    )


def decide(
    db: Database,
    cur: Any,
    *,
    decider: int,
    request: CreditRequest,
    status: RequestStatus,
    note: str | None,
    grant: NewGrant | None = None,
    wallet: WalletState | None = None,
    by_policy: bool = False,
) -> None:
    """Record a decision on a pending request held by this transaction; an approval credits
    the wallet (`wallet`, if the caller holds it already) with `grant`."""
    at: datetime = db.clock()
    entry_id = None
    if status is RequestStatus.APPROVED:
        held = wallet or lock_wallet(db, cur, request.workspace_id)
        movement = Movement(
            workspace_id=request.workspace_id,
            kind=EntryKind.CREDIT,
            amount=request.amount,
            description=f"Credit request #{request.id} approved",
            feature=None,
            actor_id=decider,
            action=AuditAction.TOP_UP,
            request_id=request.id,
            grant=grant or NewGrant(source=f"request:{request.id}"),
        )
        (entry,) = append(db, cur, {request.workspace_id: held}, [movement], at=at)
        entry_id = entry.id
    cur.execute(
        """
        UPDATE credit_requests
        SET status = ?, decided_by = ?, decided_at = ?, decision_note = ?, entry_id = ?, by_policy = ?
        WHERE id = ? AND status = 'pending'
        """,
        [status.value, decider, at, note, entry_id, by_policy, request.id],
    )
    balance = lock_wallet(db, cur, request.workspace_id).balance
    _tell(db, cur, _load(cur, request.id), balance, at)
    audit.record(
        db,
        cur,
        at=at,
        actor_id=decider,
        action=DECISION_ACTIONS[status],
        subject=f"request:{request.id}",
        workspace_id=request.workspace_id,
        before={"status": "pending"},
        after={
            "status": status.value,
            "note": note,
            "entry_id": entry_id,
            "amount": str(request.amount),
            **({"by_policy": True} if by_policy else {}),
        },
    )
