"""The Ledger: one object per process, safe to share between threads.

The operations live in small services by concern, each built here over the one
Database and the one Access (the cached directory and the access rules):
directory.Directory, wallets.Wallets (with consume's group commit),
requests.Requests, grants.Grants (grants, draws, expiry), policies.Policies,
history.History, analytics.Analytics, signin.SignIn, notify.service.Notifications, bulk
ingest (ingest.py), and for running an organisation sessions.Sessions, people.People,
workspace_admin.WorkspaceAdmin, admin_credits.AdminCredits and audit_query.AuditQuery.
The Ledger is their one facade: each method below hands the call to its service, where
it is documented. What an organisation may tune (session lifetimes, the grant limit,
mail) is `settings.Settings`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

import pandas as pd

from . import audit
from .access import Access
from .admin_credits import AdminCredits
from .analytics import Analytics
from .audit_query import AuditQuery
from .clock import Clock, clock_from_env
from .directory import Directory
from .expiry_job import ExpiryJob, interval
from .grants import Grants
from .history import History
from .ingest import consume_many
from .models import (
    AuditRecord,
    BalanceAlerts,
    BurnRate,
    ConsolidatedWallet,
    CreditPolicy,
    CreditRequest,
    Delivery,
    Draw,
    EntryKind,
    ExpiryForecast,
    Grant,
    GrantKind,
    GrantOutcome,
    IngestResult,
    Invitation,
    LinkInfo,
    NewSession,
    Notification,
    NotificationSettings,
    Page,
    PasswordLink,
    Person,
    RequestStatus,
    SessionInfo,
    Transaction,
    User,
    VerificationReport,
    Wallet,
    WalletSummary,
    Webhook,
    Workspace,
)
from .notify.channels import SmtpSettings
from .notify.runner import Dispatcher
from .notify.service import EVENT_NAMES, Notifications
from .people import People
from .policies import Policies
from .prices import Prices
from .pricing import Price, Unit
from .requests import Requests
from .schema import SYSTEM_USER_ID
from .sessions import Sessions
from .settings import Settings
from .signin import SignIn
from .store import Database, as_utc, open_database
from .text import clean_limit
from .usage_analytics import usage_by_feature
from .verify import verify
from .wallets import Wallets
from .workspace_admin import WorkspaceAdmin
from .workspace_links import external_id, link_workspace

if TYPE_CHECKING:
    from .backup import Manifest
    from .backup_schedule import BackupScheduler


class Ledger:
    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self.db = db  # the store itself: for operator tools (migrate, bench) and tests
        self.settings = settings or Settings()
        self.access = Access(db)
        self._directory = Directory(db, self.access)
        self._wallets = Wallets(db, self.access)
        self._requests = Requests(db, self.access)
        self._history = History(db, self.access)
        self._analytics = Analytics(db, self.access)
        self._signin = SignIn(db)
        self._grants = Grants(db, self.access)
        self._policies = Policies(db, self.access)
        self._expiry: ExpiryJob | None = None
        self._expiry_lock = threading.Lock()
        self._sessions = Sessions(db, self.access, self.settings)
        self._people = People(db, self.access, self.settings)
        self._spaces = WorkspaceAdmin(db, self.access)
        self._admin_credits = AdminCredits(db, self.access, self.settings, self._wallets, self._requests)
        self._audit = AuditQuery(db, self.access)
        self._notify = Notifications(db, self.access)
        self._prices = Prices(db, self.access)
        self._background: list[Dispatcher] = []  # threads to stop on close
        self.backup_thread: BackupScheduler | None = None  # started by start_backups (the app)

    @property
    def path(self) -> str:
        return self.db.path

    def now(self) -> datetime:
        """The ledger's clock as an aware UTC datetime: what relative times are measured from."""
        return as_utc(self.db.clock())

    # directory.py
    def add_user(
        self,
        email: str,
        name: str,
        *,
        admin: bool = False,
        password: str | None = None,
        password_hash: str | None = None,
    ) -> User:
        return self._directory.add_user(
            email, name, admin=admin, password=password, password_hash=password_hash
        )

    def create_workspace(self, name: str) -> Workspace:
        return self._directory.create_workspace(name)

    def add_member(self, workspace_id: int, user_id: int) -> None:
        return self._directory.add_member(workspace_id, user_id)

    def user_by_email(self, email: str) -> User | None:
        return self._directory.user_by_email(email)

    def user_by_id(self, user_id: int) -> User | None:
        return self._directory.user_by_id(user_id)

    def system_user(self) -> User:
        return self._directory.system_user()

    def users(self, actor: User) -> list[User]:
        return self._directory.users(actor)

    def workspaces(self, actor: User, *, include_archived: bool = False) -> list[Workspace]:
        return self._directory.workspaces(actor, include_archived=include_archived)

    def workspace(self, actor: User, workspace_id: int) -> Workspace:
        return self._directory.workspace(actor, workspace_id)

    def find_workspace(self, actor: User, ref: str) -> Workspace:
        return self._directory.find_workspace(actor, ref)

    def members(self, actor: User, workspace_id: int) -> list[User]:
        return self._directory.members(actor, workspace_id)

    # wallets.py
    def wallet(self, actor: User, workspace_id: int) -> Wallet:
        return self._wallets.wallet(actor, workspace_id)

    def wallets(self, actor: User) -> list[WalletSummary]:
        return self._wallets.wallets(actor)

    def consolidated_wallet(self, actor: User) -> ConsolidatedWallet:
        return self._wallets.consolidated_wallet(actor)

    def set_wallet_status(self, actor: User, workspace_id: int, status: str) -> Wallet:
        return self._wallets.set_wallet_status(actor, workspace_id, status)

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
        return self._wallets.grant_credits(
            actor, workspace_id, amount, description=description, kind=kind, priority=priority,
            expires_at=expires_at,
        )

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
        return self._wallets.consume(
            actor,
            workspace_id,
            amount,
            feature=feature,
            description=description,
            idempotency_key=idempotency_key,
        )

    def consume_usage(
        self,
        actor: User,
        workspace_id: int,
        feature: str,
        quantity: object,
        *,
        unit: Unit | str,
        description: str,
        idempotency_key: str | None = None,
        occurred_at: date | datetime | None = None,
    ) -> Transaction:
        return self._wallets.consume_usage(
            actor,
            workspace_id,
            feature,
            quantity,
            unit=unit,
            description=description,
            idempotency_key=idempotency_key,
            occurred_at=occurred_at,
        )

    # prices.py, workspace_links.py
    def set_price(
        self,
        actor: User,
        feature: str,
        unit: Unit | str,
        credits_per_unit: object,
        *,
        effective_from: date | datetime | None = None,
    ) -> Price:
        return self._prices.set_price(actor, feature, unit, credits_per_unit, effective_from=effective_from)

    def prices(self, actor: User, *, at: date | datetime | None = None) -> list[Price]:
        return self._prices.prices(actor, at=at)

    def link_workspace(self, actor: User, workspace_id: int, external_id: str) -> str:
        return link_workspace(self.db, self.access, actor, workspace_id, external_id)

    def external_id(self, actor: User, workspace_id: int) -> str | None:
        return external_id(self.db, self.access, actor, workspace_id)

    # requests.py
    def request_credits(
        self, actor: User, workspace_id: int, amount: object, note: str | None = None
    ) -> CreditRequest:
        return self._requests.request_credits(actor, workspace_id, amount, note)

    def cancel_request(self, actor: User, request_id: int, reason: str | None = None) -> CreditRequest:
        return self._requests.cancel_request(actor, request_id, reason)

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
        return self._requests.approve_request(
            actor, request_id, note, expires_at=expires_at, kind=kind, priority=priority
        )

    def reject_request(self, actor: User, request_id: int, note: str) -> CreditRequest:
        return self._requests.reject_request(actor, request_id, note)

    def credit_request(self, actor: User, request_id: int) -> CreditRequest:
        return self._requests.credit_request(actor, request_id)

    def requests(
        self,
        actor: User,
        *,
        workspace_id: int | None = None,
        status: RequestStatus | str | None = None,
        limit: int = 500,
    ) -> list[CreditRequest]:
        return self._requests.requests(actor, workspace_id=workspace_id, status=status, limit=limit)

    # grants.py
    def grants(self, actor: User, workspace_id: int, *, include_spent: bool = False) -> list[Grant]:
        return self._grants.grants(actor, workspace_id, include_spent=include_spent)

    def draws(self, actor: User, transaction_id: int) -> list[Draw]:
        return self._grants.draws(actor, transaction_id)

    def grant_draws(self, actor: User, grant_id: int) -> list[Draw]:
        return self._grants.grant_draws(actor, grant_id)

    def expire_due(self, now: datetime | None = None) -> list[Transaction]:
        return self._grants.expire_due(now)

    def expiry_forecast(self, actor: User, workspace_id: int) -> ExpiryForecast:
        return self._grants.expiry_forecast(actor, workspace_id)

    def start_expiry_job(self, every: float | None = None) -> None:
        """Run `expire_due` every `every` seconds ($BILLING_EXPIRE_EVERY, else 60) on a
        background thread of this process until `close()`; a second call does nothing."""
        with self._expiry_lock:
            if self._expiry is None:
                self._expiry = ExpiryJob(self.expire_due, every if every is not None else interval())

    # policies.py
    def credit_policy(self, actor: User, workspace_id: int) -> CreditPolicy:
        return self._policies.credit_policy(actor, workspace_id)

    def set_credit_policy(self, actor: User, workspace_id: int, **values: object) -> CreditPolicy:
        return self._policies.set_credit_policy(actor, workspace_id, **values)

    # history.py
    def history(
        self,
        actor: User,
        workspace_id: int,
        *,
        limit: int = 50,
        cursor: str | None = None,
        kind: EntryKind | str | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        search: str | None = None,
    ) -> Page:
        return self._history.history(
            actor,
            workspace_id,
            limit=limit,
            cursor=cursor,
            kind=kind,
            since=since,
            until=until,
            search=search,
        )

    def history_frames(
        self,
        actor: User,
        workspace_id: int,
        *,
        page_size: int = 500,
        kind: EntryKind | str | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        search: str | None = None,
    ) -> Iterator[pd.DataFrame]:
        return self._history.history_frames(
            actor, workspace_id, page_size=page_size, kind=kind, since=since, until=until, search=search
        )

    # analytics.py
    def today(self) -> date:
        return self._analytics.today()

    def spend_by_feature(
        self, actor: User, start: date, end: date, granularity: str = "day", workspace_id: int | None = None
    ) -> pd.DataFrame:
        return self._analytics.spend_by_feature(actor, start, end, granularity, workspace_id)

    def spend_by_workspace(
        self, actor: User, start: date, end: date, granularity: str = "day"
    ) -> pd.DataFrame:
        return self._analytics.spend_by_workspace(actor, start, end, granularity)

    def credits_vs_debits(
        self, actor: User, start: date, end: date, granularity: str = "day", workspace_id: int | None = None
    ) -> pd.DataFrame:
        return self._analytics.credits_vs_debits(actor, start, end, granularity, workspace_id)

    def balance_over_time(self, actor: User, workspace_id: int, start: date, end: date) -> pd.DataFrame:
        return self._analytics.balance_over_time(actor, workspace_id, start, end)

    def burn_rate(self, actor: User, workspace_id: int, days: int = 30) -> BurnRate:
        return self._analytics.burn_rate(actor, workspace_id, days)

    def wallet_overview(self, actor: User, days: int = 30) -> pd.DataFrame:
        return self._analytics.wallet_overview(actor, days)

    def top_consumers(
        self, actor: User, start: date, end: date, workspace_id: int | None = None, limit: int = 10
    ) -> pd.DataFrame:
        return self._analytics.top_consumers(actor, start, end, workspace_id, limit)

    def usage_by_feature(
        self, actor: User, start: date, end: date, workspace_id: int | None = None
    ) -> pd.DataFrame:
        return usage_by_feature(self.db, self.access, actor, start, end, workspace_id)

    # signin.py
    def authenticate(self, email: str, password: str, *, client: str | None = None) -> User:
        return self._signin.authenticate(email, password, client=client)

    def user_for_sso(self, email: str) -> User:
        return self._signin.user_for_sso(email)

    # sessions.py
    def start_session(
        self, user: User, *, client: str | None = None, user_agent: str | None = None
    ) -> NewSession:
        return self._sessions.start_session(user, client=client, user_agent=user_agent)

    def session_user(self, token: object, *, client: str | None = None) -> User:
        return self._sessions.session_user(token, client=client)

    def end_session(self, token: object) -> None:
        return self._sessions.end_session(token)

    def sessions(self, actor: User, *, user_id: int | None = None) -> list[SessionInfo]:
        return self._sessions.sessions(actor, user_id=user_id)

    def end_session_by_id(self, actor: User, session_id: int) -> None:
        return self._sessions.end_session_by_id(actor, session_id)

    def end_all_sessions(self, actor: User, *, user_id: int | None = None) -> int:
        return self._sessions.end_all_sessions(actor, user_id=user_id)

    # people.py
    def people(self, actor: User) -> list[Person]:
        return self._people.people(actor)

    def person_workspaces(self, actor: User, user_id: int) -> list[Workspace]:
        return self._people.person_workspaces(actor, user_id)

    def invite_user(
        self,
        actor: User,
        email: str,
        name: str,
        *,
        admin: bool = False,
        sso_only: bool = False,
        base_url: str | None = None,
    ) -> Invitation:
        return self._people.invite_user(
            actor, email, name, admin=admin, sso_only=sso_only, base_url=base_url
        )

    def deactivate_user(self, actor: User, user_id: int) -> User:
        return self._people.deactivate_user(actor, user_id)

    def reactivate_user(self, actor: User, user_id: int) -> User:
        return self._people.reactivate_user(actor, user_id)

    def promote_admin(self, actor: User, user_id: int) -> User:
        return self._people.promote_admin(actor, user_id)

    def demote_admin(self, actor: User, user_id: int) -> User:
        return self._people.demote_admin(actor, user_id)

    def reset_link(self, actor: User, user_id: int, *, base_url: str | None = None) -> PasswordLink:
        return self._people.reset_link(actor, user_id, base_url=base_url)

    def password_link_info(self, token: object) -> LinkInfo:
        return self._people.password_link_info(token)

    def set_password_with_link(self, token: object, password: str) -> User:
        return self._people.set_password_with_link(token, password)

    def change_password(
        self, actor: User, current: str, new: str, *, keep_session: int | None = None
    ) -> int:
        return self._people.change_password(actor, current, new, keep_session=keep_session)

    # workspace_admin.py
    def add_workspace(self, actor: User, name: str) -> Workspace:
        return self._spaces.add_workspace(actor, name)

    def rename_workspace(self, actor: User, workspace_id: int, name: str) -> Workspace:
        return self._spaces.rename_workspace(actor, workspace_id, name)

    def archive_workspace(self, actor: User, workspace_id: int) -> Workspace:
        return self._spaces.archive_workspace(actor, workspace_id)

    def add_workspace_member(self, actor: User, workspace_id: int, user_id: int) -> bool:
        return self._spaces.add_workspace_member(actor, workspace_id, user_id)

    def remove_workspace_member(self, actor: User, workspace_id: int, user_id: int) -> None:
        return self._spaces.remove_workspace_member(actor, workspace_id, user_id)

    # admin_credits.py
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
        return self._admin_credits.grant(
            actor, workspace_id, amount, reason=reason, kind=kind, priority=priority, expires_at=expires_at
        )

    def correct_entry(self, actor: User, entry_id: int, *, reason: str) -> Transaction:
        return self._admin_credits.correct_entry(actor, entry_id, reason=reason)

    def transaction(self, actor: User, entry_id: int) -> Transaction:
        return self._admin_credits.transaction(actor, entry_id)

    # audit_query.py
    def audit_events(
        self,
        actor: User,
        *,
        who: int | None = None,
        action: str | Sequence[str] | None = None,
        workspace_id: int | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        search: str | None = None,
        limit: int = 500,
    ) -> pd.DataFrame:
        return self._audit.audit_events(
            actor, who=who, action=action, workspace_id=workspace_id, since=since, until=until,
            search=search, limit=limit,
        )

    # ingest.py
    def consume_many(self, actor: User, events: object, *, unit: Unit | str | None = None) -> IngestResult:
        return consume_many(self.db, self.access, actor, events, unit=unit)

    # notify/service.py
    def notifications(
        self, actor: User, *, unread_only: bool = False, limit: int = 100
    ) -> list[Notification]:
        return self._notify.notifications(actor, unread_only=unread_only, limit=limit)

    def unread_count(self, actor: User) -> int:
        return self._notify.unread_count(actor)

    def mark_read(self, actor: User, ids: Sequence[int] | None = None) -> int:
        return self._notify.mark_read(actor, ids)

    def notification_settings(self, actor: User) -> NotificationSettings:
        return self._notify.notification_settings(actor)

    def set_notification_settings(
        self, actor: User, *, email_enabled: bool, email_events: Iterable[str] = EVENT_NAMES
    ) -> NotificationSettings:
        return self._notify.set_notification_settings(
            actor, email_enabled=email_enabled, email_events=email_events
        )

    def add_webhook(self, actor: User, url: str, *, secret: str, events: Iterable[str]) -> Webhook:
        return self._notify.add_webhook(actor, url, secret=secret, events=events)

    def webhooks(self, actor: User) -> list[Webhook]:
        return self._notify.webhooks(actor)

    def remove_webhook(self, actor: User, webhook_id: int) -> None:
        self._notify.remove_webhook(actor, webhook_id)

    def deliveries(self, actor: User, *, webhook_id: int | None = None, limit: int = 200) -> list[Delivery]:
        return self._notify.deliveries(actor, webhook_id=webhook_id, limit=limit)

    def send_again(self, actor: User, delivery_id: int) -> Delivery:
        return self._notify.send_again(actor, delivery_id)

    def set_thresholds(
        self,
        actor: User,
        workspace_id: int,
        *,
        top_up_share: object = ...,
        runway_days: object = ...,
        amounts: object = ...,
        spike_factor: object = ...,
    ) -> BalanceAlerts:
        return self._notify.set_thresholds(
            actor,
            workspace_id,
            top_up_share=top_up_share,
            runway_days=runway_days,
            amounts=amounts,
            spike_factor=spike_factor,
        )

    def thresholds(self, actor: User, workspace_id: int) -> BalanceAlerts:
        return self._notify.thresholds(actor, workspace_id)

    def configure_email(self, settings: SmtpSettings | None) -> None:
        """Where email goes (None: off); by default from $BILLING_SMTP_*."""
        self._notify.email = settings

    def deliver_due(self, now: datetime | None = None) -> int:
        return self._notify.deliver_due(now)

    def refresh_thresholds(self, now: datetime | None = None) -> int:
        return self._notify.refresh_thresholds(now)

    def detect_spikes(self, now: datetime | None = None) -> int:
        return self._notify.detect_spikes(now)

    def dispatcher(self) -> Dispatcher:
        """The notification dispatcher over this ledger (not started): `.start()` runs it in a
        background thread, `.run_once()` does one round of its passes."""
        return Dispatcher(self.deliver_due, self.detect_spikes, self.refresh_thresholds)

    def start_dispatcher(self) -> Dispatcher:
        """Run the dispatcher in a background thread of this process until the ledger closes."""
        running = self.dispatcher().start()
        self._background.append(running)
        return running

    # the whole ledger
    def has_data(self) -> bool:
        """Whether anyone or anything beyond the built-in system account was set up."""
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT (SELECT count(*) FROM workspaces) + (SELECT count(*) FROM users WHERE id <> ?)",
                [SYSTEM_USER_ID],
            ).fetchone()
        return bool(row and row[0])

    def has_admin(self) -> bool:
        """Whether anyone can administer this ledger yet (the first-run question)."""
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT count(*) FROM users WHERE is_admin AND deactivated_at IS NULL AND id <> ?",
                [SYSTEM_USER_ID],
            ).fetchone()
        return bool(row and row[0])

    def verify(self) -> VerificationReport:
        """Recompute every balance, entry and rollup; raise LedgerCorrupt on any difference."""
        return verify(self.db)

    def audit_trail(
        self, actor: User, *, workspace_id: int | None = None, limit: int = 200
    ) -> list[AuditRecord]:
        """The newest audit rows (admins only)."""
        clean_limit(limit, most=10_000)
        with self.db.reading() as cur:
            self.access.admin(actor, "read the audit trail")
            rows = cur.execute(
                """
                SELECT id, recorded_at, actor_id, action, subject, workspace_id, before, after
                FROM audit_log WHERE (? IS NULL OR workspace_id = ?)
                ORDER BY id DESC LIMIT ?
                """,
                [workspace_id, workspace_id, limit],
            ).fetchall()
        return audit.rows_to_records(rows)

    def compact_rollups(self, since: date) -> int:
        """Merge the daily rollup rows from `since` on (the writer does this as it goes)."""
        return self.db.compact_rollups(since)

    def checkpoint(self) -> None:
        self.db.checkpoint()

    # backup.py, backup_schedule.py, analyst_export.py
    def start_backups(self) -> BackupScheduler:
        """Start this process's backup thread (the app does, once): the schedule of
        $BILLING_BACKUP_*, and the backups other processes ask for. Stopped by close()."""
        from .backup_schedule import BackupScheduler, BackupSettings

        if self.backup_thread is None:
            self.backup_thread = BackupScheduler(self, BackupSettings.from_env(self))
            self.backup_thread.start()
        return self.backup_thread

    def backup_now(self, actor: User, *, to: str | None = None) -> Manifest:
        """A backup now (administrators only), into `to` or else the backup folder."""
        self.access.admin(actor, "take a backup")
        return self.start_backups().backup(actor, to=to)

    def backup_overview(self, actor: User) -> tuple[str, list[Manifest], str | None]:
        """(the schedule in words, the backups kept newest first, the last scheduled
        backup's failure if it failed) for administrators."""
        self.access.admin(actor, "see the backups")
        thread = self.start_backups()
        return thread.settings.describe(), thread.backups(), thread.last_error

    def export_archive(
        self, actor: User, *, since: date | None = None, formats: Sequence[str] = ("csv",)
    ) -> bytes:
        """The journal, wallets, requests and audit log as one zip (analyst_export.py)."""
        from .analyst_export import export_archive

        return export_archive(self, actor, since=since, formats=formats)

    def close(self) -> None:
        with self._expiry_lock:
            if self._expiry is not None:
                self._expiry.stop()
                self._expiry = None
        for job in self._background:
            job.stop()
        self._background.clear()
        if self.backup_thread is not None:
            self.backup_thread.stop()
        self._wallets.close()
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_ledger(
    path: str | None = None,
    *,
    clock: Clock | None = None,
    create: bool = False,
    settings: Settings | None = None,
) -> Ledger:
    """Open (and migrate) the ledger at `path`: a DuckDB file, ":memory:", or a
    postgresql:// URL; by default $BILLING_DB, else data/billing.duckdb. A new ledger is
    made only with `create=True` (`billing init`); a missing file, an empty database
    without `create`, and another program's database are refused, untouched.
    `clock` (naive UTC) defaults to $BILLING_CLOCK when set, else the system clock;
    `settings` to `Settings.from_env()`."""
    return Ledger(
        open_database(path, clock or clock_from_env(), create=create), settings or Settings.from_env()
    )
