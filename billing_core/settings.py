"""What an organisation may tune, read once from the environment when a ledger opens.

| variable | default | what |
|---|---|---|
| `BILLING_SESSION_HOURS` | 12 | a signed-in session ends this long after sign-in |
| `BILLING_SESSION_IDLE_MINUTES` | 30 | ... or after this long without use |
| `BILLING_LINK_DAYS` | 7 | how long an invitation or reset link stays valid |
| `BILLING_GRANT_LIMIT` | 10000 | a grant above this needs a second administrator |
| `BILLING_APP_URL` | (none) | the console's address, for links the CLI prints and emails |
| `BILLING_SMTP_HOST` | (none) | with it, invitation and reset links are also emailed |
| `BILLING_SMTP_PORT` | 25 | the mail server's port |
| `BILLING_SMTP_FROM` | billing@localhost | the sender |
| `BILLING_SMTP_USER`, `BILLING_SMTP_PASSWORD` | (none) | a login, when the server wants one |
| `BILLING_SMTP_STARTTLS` | off | `1` to encrypt with STARTTLS |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from .errors import InvalidInput
from .money import parse_amount

# A session's last use is written at most this often (a page run reads the session; a
# write on every click would cost more than idleness measured to the minute is worth).
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Mail:
    host: str
    port: int = 25
    sender: str = "billing@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    session_lifetime: timedelta = timedelta(hours=12)
    session_idle: timedelta = timedelta(minutes=30)
    link_lifetime: timedelta = timedelta(days=7)
    grant_limit: Decimal = Decimal(10_000)
    app_url: str | None = None
    mail: Mail | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        values = os.environ if env is None else env

        def number(name: str, default: float) -> float:
            text = values.get(name)
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                raise InvalidInput(f"${name} must be a number, not {text!r}.") from None
            if not 0 < value < 1_000_000:
                raise InvalidInput(f"${name} must be a positive number.")
            return value

        limit = values.get("BILLING_GRANT_LIMIT")
        host = values.get("BILLING_SMTP_HOST")
        mail = None
        if host:
            mail = Mail(
                host=host,
                port=int(number("BILLING_SMTP_PORT", 25)),
                sender=values.get("BILLING_SMTP_FROM") or "billing@localhost",
                user=values.get("BILLING_SMTP_USER") or None,
                password=values.get("BILLING_SMTP_PASSWORD") or None,
                starttls=values.get("BILLING_SMTP_STARTTLS", "").lower() in {"1", "true", "yes"},
            )
        return cls(
            session_lifetime=timedelta(hours=number("BILLING_SESSION_HOURS", 12)),
            session_idle=timedelta(minutes=number("BILLING_SESSION_IDLE_MINUTES", 30)),
            link_lifetime=timedelta(days=number("BILLING_LINK_DAYS", 7)),
            grant_limit=parse_amount(limit) if limit else Decimal(10_000),
            app_url=values.get("BILLING_APP_URL") or None,
            mail=mail,
        )
