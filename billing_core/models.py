"""Domain records: frozen dataclasses and the enumerations of their states."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


class EntryKind(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"
    EXPIRY = "expiry"  # the unused rest of a grant, leaving the wallet at its expiry


class GrantKind(StrEnum):
    """What a grant's credits are: bought (or approved as such), or given as a promotion."""

    PURCHASED = "purchased"
    PROMOTIONAL = "promotional"

    @property
    def default_priority(self) -> int:
        """Lower is drawn first: promotional credits before purchased ones."""
        return DEFAULT_PRIORITY[self]


DEFAULT_PRIORITY = {GrantKind.PROMOTIONAL: 10, GrantKind.PURCHASED: 20}


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class WalletStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class DeliveryStatus(StrEnum):
    """Where one email or webhook delivery stands."""

    PENDING = "pending"  # waiting for its next try
    DELIVERED = "delivered"
    FAILED = "failed"  # retries ran out; an administrator may send it again


class WalletHealth(StrEnum):
    """How a wallet is doing, for highlighting: the first that applies, in this order."""

    ZERO_BALANCE = "Zero balance"  # features are blocked
    INACTIVE = "Inactive"  # features are blocked, credits are held
    LOW_BALANCE = "Low balance"  # runs out within LOW_BALANCE_DAYS at the recent rate
    OK = "OK"


class LinkPurpose(StrEnum):
    """What a one-time password link is for."""

    INVITE = "invite"  # a new person sets their first password
    RESET = "reset"  # an administrator reset the password


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    is_admin: bool = False
    created_at: datetime | None = None
    active: bool = True  # False once deactivated: they cannot sign in or act


@dataclass(frozen=True, slots=True)
class Workspace:
    id: int
    name: str
    created_at: datetime | None = None
    archived_at: datetime | None = None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


@dataclass(frozen=True, slots=True)
class Person:
    """A person as the People & workspaces page lists them."""

    user: User
    sso_only: bool  # signs in through the identity provider only, no password
    has_password: bool
    invited_until: datetime | None  # an unused invitation link's expiry, if one is open
    workspace_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PasswordLink:
    """A one-time link to set a password. `token` is shown once, to be passed on; the
    ledger keeps only its hash. `url` is the whole link when the base address is known."""

    user: User
    purpose: LinkPurpose
    token: str
    expires_at: datetime
    url: str | None = None
    emailed: bool = False


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """What a password link is for, as the set-password page shows it."""

    user_name: str
    email: str
    purpose: LinkPurpose
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Invitation:
    user: User
    link: PasswordLink | None  # None for a person who signs in through single sign-on only


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just started. `token` goes into the browser's cookie and nowhere else."""

    id: int
    user: User
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One signed-in browser, for "where you are signed in"."""

    id: int
    user_id: int
    user_name: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the absolute end; idleness may end it sooner
    client: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class Wallet:
    workspace_id: int
    workspace_name: str
    balance: Decimal
    status: WalletStatus
    updated_at: datetime

    @property
    def is_blocked(self) -> bool:
        """Features that consume credits are blocked at zero balance or when inactive."""
        return self.blocked_reason is not None

    def can_spend(self, amount: Decimal) -> bool:
        """True when features may debit `amount` now: not blocked, and the balance covers it."""
        return not self.is_blocked and self.balance >= amount

    @property
    def usable_balance(self) -> Decimal:
        """What features can spend now: the balance of an active wallet, else nothing."""
        return self.balance if not self.is_blocked else Decimal(0)

    @property
    def blocked_reason(self) -> str | None:
        """Why features that use credits are blocked in this wallet, or None if they are not."""
        if self.status is WalletStatus.INACTIVE:
            return "This workspace's wallet is inactive. An administrator can reactivate it."
        if self.balance <= 0:
            return "The balance is 0 en-credits. Ask for more with a credit request on the Billing page."
        return None


@dataclass(frozen=True, slots=True)
class Transaction:
    id: int
    workspace_id: int
    kind: EntryKind
    amount: Decimal
    description: str
    feature: str | None
    created_at: datetime
    actor_id: int | None = None
    request_id: int | None = None
    corrects: int | None = None  # the entry this one reverses, for a correction
    quantity: Decimal | None = None  # a usage debit: what was used,
    unit: str | None = None  # in which unit (pricing.Unit's value),
    rate: Decimal | None = None  # at which credits per unit


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Transaction]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class CreditRequest:
    id: int
    workspace_id: int
    workspace_name: str
    amount: Decimal
    status: RequestStatus
    note: str | None
    requested_by: int
    requested_by_name: str
    requested_at: datetime
    decided_by: int | None = None
    decided_by_name: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    entry_id: int | None = None
    automatic: bool = False  # filed by the workspace's automatic top-up
    by_policy: bool = False  # approved at once by the workspace's standing approval

    @property
    def cancelled_by_requester(self) -> bool | None:
        """For a cancelled request: whether the requester cancelled it (else the
        responsible party, an administrator); None for any other status."""
        if self.status is not RequestStatus.CANCELLED:
            return None
        return self.decided_by == self.requested_by


@dataclass(frozen=True, slots=True)
class Grant:
    """Credits a wallet holds from one credit: drawn down by debits in the documented
    order (priority, then soonest expiry, no expiry last, then oldest), and what is left
    of it at `expires_at` leaves the wallet as an expiry entry."""

    id: int
    workspace_id: int
    kind: GrantKind
    priority: int
    amount: Decimal
    remaining: Decimal
    expires_at: datetime | None
    source: str  # "request:12", "grant", "opening"
    created_at: datetime
    created_by: int
    entry_id: int | None = None  # the credit that made it (None: an opening grant)
    expired_entry_id: int | None = None

    @property
    def live(self) -> bool:
        return self.remaining > 0

    @property
    def expired(self) -> bool:
        return self.expired_entry_id is not None


@dataclass(frozen=True, slots=True)
class Draw:
    """One grant's part in a transaction: what a debit drew from it (positive), what a
    credit put into it, or what an expiry took out of it."""

    transaction_id: int
    grant_id: int
    amount: Decimal
    grant_kind: GrantKind
    grant_source: str
    grant_expires_at: datetime | None
    kind: EntryKind  # the transaction's kind
    created_at: datetime  # the transaction's time


@dataclass(frozen=True, slots=True)
class CreditPolicy:
    """A workspace's rules for credit requests. Standing approval: each request of at most
    `approve_up_to`, while this calendar month's approvals by the policy stay within
    `approve_per_month`, is approved at once. Automatic top-up: when a debit leaves the
    balance below `top_up_below`, a request for `top_up_amount` is filed (never while an
    automatic one is pending; at most `top_ups_per_month` a month). Approvals grant
    `grant_kind`, expiring `grant_days` days later (None: never)."""

    workspace_id: int
    approve_up_to: Decimal | None = None
    approve_per_month: Decimal | None = None
    top_up_below: Decimal | None = None
    top_up_amount: Decimal | None = None
    top_ups_per_month: int | None = None
    grant_kind: GrantKind = GrantKind.PURCHASED
    grant_days: int | None = None
    updated_by: int | None = None
    updated_at: datetime | None = None

    @property
    def standing_approval(self) -> bool:
        return self.approve_up_to is not None

    @property
    def automatic_top_up(self) -> bool:
        return self.top_up_below is not None


@dataclass(frozen=True, slots=True)
class ExpiringCredits:
    """What the forecast expects of one grant: `unused` of it left at `expires_at`."""

    grant_id: int
    kind: GrantKind
    expires_at: datetime
    remaining: Decimal
    unused: Decimal


@dataclass(frozen=True, slots=True)
class ExpiryForecast:
    """Credits that will expire unused if spend goes on at `per_day` (the recent burn rate)."""

    workspace_id: int
    per_day: Decimal
    unused: Decimal  # the total
    first_on: datetime | None  # the first expiry that loses credits
    grants: list[ExpiringCredits] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class GrantOutcome:
    """What `Ledger.grant` did: credited the wallet at once (`entry`), or, above the
    limit that needs a second administrator, filed a pending request (`request`)."""

    entry: Transaction | None
    request: CreditRequest | None

    @property
    def pending(self) -> bool:
        return self.request is not None


@dataclass(frozen=True, slots=True)
class WalletSummary:
    """One line of a consolidated wallet."""

    wallet: Wallet
    pending_amount: Decimal


@dataclass(frozen=True, slots=True)
class ConsolidatedWallet:
    """A person's wallets across their workspaces. `total` is every balance;
    `available_total` only what features can spend now (active wallets above zero);
    `blocked_total` the rest, held in inactive wallets."""

    user_id: int
    wallets: list[WalletSummary]
    total: Decimal
    pending_total: Decimal
    available_total: Decimal
    blocked_total: Decimal

    @property
    def blocked_count(self) -> int:
        """How many of the wallets hold credits that features cannot spend."""
        return sum(1 for s in self.wallets if s.wallet.is_blocked and s.wallet.balance > 0)


@dataclass(frozen=True, slots=True)
class BurnRate:
    workspace_id: int
    balance: Decimal
    days: int
    spent: Decimal
    per_day: Decimal
    runs_out_on: date | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor_id: int | None
    action: str
    subject: str
    workspace_id: int | None
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class VerificationReport:
    wallets: int
    entries: int
    postings: int
    rollup_rows: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True, eq=False)
class IngestResult:
    """What `Ledger.consume_many` did with a batch of usage events.

    `rejected` has one row per refused event (row: its 0-based position in the
    input; workspace and amount as given, as text; reason); `skipped` one per
    duplicate by idempotency key (row, idempotency_key). Every event is counted
    exactly once: received = posted + skipped_duplicates + rejected_count.
    """

    received: int
    posted: int
    skipped_duplicates: int
    rejected_count: int
    total_posted: Decimal
    rejected: pd.DataFrame
    skipped: pd.DataFrame


@dataclass(frozen=True, slots=True)
class Notification:
    """One line of a person's inbox."""

    id: int
    event: str  # "request.created", "balance.low", ...
    created_at: datetime
    read: bool
    text: str
    workspace_id: int | None
    workspace_name: str | None
    request_id: int | None


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    user_id: int
    email_enabled: bool
    email_events: tuple[str, ...]  # the kinds of events emailed (every kind when never chosen)


@dataclass(frozen=True, slots=True)
class Webhook:
    """An endpoint that receives signed events (its secret is not handed out again)."""

    id: int
    url: str
    events: tuple[str, ...]
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One email or webhook delivery of an event, and how it went."""

    id: int
    event_id: int
    event: str
    channel: str  # "email" | "webhook"
    target: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    last_status: int | None
    response_ms: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BalanceAlerts:
    """A workspace's low-balance settings, the amounts they mean now, and what is firing."""

    workspace_id: int
    top_up_share: Decimal | None
    runway_days: tuple[int, ...]
    amounts: tuple[Decimal, ...]
    spike_factor: Decimal
    levels: tuple[tuple[str, Decimal], ...]
    active: tuple[str, ...]
