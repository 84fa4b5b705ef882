"""The one exception hierarchy of billing_core.

Every error a caller can cause is a `BillingError` whose message is a sentence a
user can read; the app shows `str(error)` as it is. Anything else that escapes
billing_core is a bug.
"""

from __future__ import annotations


class BillingError(Exception):
    """Base class: something the user asked for could not be done."""


class PermissionDenied(BillingError):
    """The acting user may not see or do this."""


class NotFound(BillingError):
    """A workspace, user, request or transaction that does not exist."""


class NoPrice(NotFound):
    """The rate card has no price for this feature and unit at that time."""


class InvalidInput(BillingError):
    """A value that is malformed: a bad email, an overlong text, a bad cursor."""


class InvalidAmount(InvalidInput):
    """An amount that is not a positive number of credits within the limits."""


class InsufficientCredits(BillingError):
    """The wallet does not hold enough credits for this debit."""


class WalletInactive(BillingError):
    """The wallet is inactive, so features that use credits are blocked."""


class InvalidTransition(BillingError):
    """A credit request is not in a state that allows this change."""


class IdempotencyConflict(BillingError):
    """An idempotency key was reused for a different operation."""


class AuthenticationFailed(BillingError):
    """Wrong email or password (one neutral message for both)."""


class AccountLocked(AuthenticationFailed):
    """Too many failed sign-ins for this email from here: wait a moment and try again."""


class ClientThrottled(AuthenticationFailed):
    """Too many failed sign-ins from this client, whatever the email; try again later."""


class AccountDeactivated(AuthenticationFailed):
    """The person was deactivated: they cannot sign in until an administrator reactivates them."""


class SessionEnded(AuthenticationFailed):
    """A signed-in session that ended (signed out, expired, idle, or never existed)."""


class WorkspaceArchived(BillingError):
    """The workspace is archived: its history stays, but nothing new happens in it."""


class LedgerUnavailable(BillingError):
    """The ledger file cannot be opened (held by another process, or unreadable)."""


class LedgerInUse(LedgerUnavailable):
    """Another process (the billing app, most likely) holds the embedded ledger's file."""


class LedgerCorrupt(BillingError):
    """The ledger's books do not balance, or its file is damaged."""


class LedgerBusy(LedgerUnavailable):
    """Another writer held what this change needed (a deadlock or serialisation
    failure on a database server); nothing was changed and trying again is safe."""
