"""How a delivery leaves: email over SMTP, or a signed webhook POST.

Email: host, port, security (STARTTLS, SSL or none), user, password and sender come
from the environment (`BILLING_SMTP_*`), or the app passes them in from
`.streamlit/secrets.toml`'s `[smtp]` table; without a host, email is off and its
deliveries wait.

Webhooks follow Standard Webhooks: the body is JSON; `webhook-id` is the event's id
(the same on every retry), `webhook-timestamp` the send time in seconds, and
`webhook-signature` is `v1,` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")),
the secret being the base64 after `whsec_`. An endpoint must be `https://`, and may not
resolve to a loopback, private or link-local address unless
`BILLING_WEBHOOKS_ALLOW_PRIVATE=1` (which also allows `http://` there): a webhook
cannot be aimed at the server's own network by default.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from html import escape
from typing import Literal
from urllib.parse import urlsplit

from ..errors import InvalidInput

SEND_TIMEOUT = 10.0  # seconds: a slow endpoint never holds the dispatcher for long
ALLOW_PRIVATE = "BILLING_WEBHOOKS_ALLOW_PRIVATE"
DEFAULT_SENDER = "en-credits billing <billing@localhost>"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    password: str | None = None
    sender: str = "en-credits billing <billing@localhost>"  # DEFAULT_SENDER

    @classmethod
    def from_mapping(cls, values: dict[str, object]) -> SmtpSettings | None:
        """From `BILLING_SMTP_*`-like keys (host, port, security, user, password, sender);
        None when there is no host (email off)."""
        host = str(values.get("host") or "").strip()
        if not host:
            return None
        security = str(values.get("security") or "starttls").lower()
        if security not in ("starttls", "ssl", "none"):
            raise InvalidInput("The SMTP security is starttls, ssl or none.")
        return cls(
            host=host,
            port=int(str(values.get("port") or (465 if security == "ssl" else 587))),
            security=security,  # type: ignore[arg-type]
            user=str(values["user"]) if values.get("user") else None,
            password=str(values["password"]) if values.get("password") else None,
            sender=str(values.get("sender") or DEFAULT_SENDER),
        )

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        keys = ("host", "port", "security", "user", "password", "sender")
        return cls.from_mapping({k: os.environ.get(f"BILLING_SMTP_{k.upper()}") for k in keys})


def send_email(settings: SmtpSettings, to: str, subject: str, text: str) -> None:
    """One message, plain text plus a simple HTML part. Raises OSError/SMTPException."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text + "\n\n-- \nen-credits billing console\n")
    message.add_alternative(
        f'<html><body><p>{escape(text)}</p><p style="color:#555">en-credits billing console</p>'
        "</body></html>",
        subtype="html",
    )
    if settings.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=SEND_TIMEOUT, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=SEND_TIMEOUT)
    with client:
        if settings.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.user:
            client.login(settings.user, settings.password or "")
        client.send_message(message)


# ----------------------------------------------------------------------- webhooks
def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def clean_secret(secret: object) -> str:
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise InvalidInput(
            "A webhook secret is 'whsec_' followed by base64, as Standard Webhooks secrets are."
        )
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise InvalidInput("The webhook secret after 'whsec_' is not valid base64.") from None
    if not 24 <= len(key) <= 64:
        raise InvalidInput("A webhook secret holds 24 to 64 random bytes.")
    return secret


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def _private_allowed() -> bool:
    return os.environ.get(ALLOW_PRIVATE) == "1"


def clean_url(url: object) -> str:
    """An endpoint the ledger may post to (see the module docstring), or InvalidInput."""
    if not isinstance(url, str) or len(url) > 2_000 or any(c.isspace() for c in url):
        raise InvalidInput("Give the endpoint as a URL, such as https://hooks.example.com/billing.")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("A webhook endpoint is an https:// URL.")
    if parts.username or parts.password:
        raise InvalidInput("Put no user or password in the webhook URL; the signature authenticates us.")
    if parts.scheme == "http" and not _private_allowed():
        raise InvalidInput("A webhook endpoint must use https://.")
    check_address(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return url


def check_address(host: str, port: int) -> None:
    """Refuse a host that resolves to the server's own or a private network (unless allowed)."""
    if _private_allowed():
        return
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        raise InvalidInput(f"The webhook host {host} cannot be found.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_reserved
            or address.is_multicast
            or address.is_unspecified
        ):
            raise InvalidInput(
                f"The webhook host {host} is on a private or local network ({address}); endpoints must "
                "be public."
            )


@dataclass(frozen=True, slots=True)
class PostResult:
    status: int | None  # the HTTP status, None when no answer came
    error: str | None  # why it is not delivered, None when it is
    milliseconds: int


def post_webhook(
    url: str, secret: str, message_id: str, body: bytes, *, now: float | None = None
) -> PostResult:
    """POST `body` signed; a 2xx answer is delivered, anything else is an error to retry."""
    started = time.monotonic()
    stamp = int(now if now is not None else time.time())
    parts = urlsplit(url)
    try:
        check_address(parts.hostname or "", parts.port or 443)
    except InvalidInput as refused:
        return PostResult(None, str(refused), 0)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "content-type": "application/json",
            "user-agent": "en-credits-billing/1",
            "webhook-id": message_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature(secret, message_id, stamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as answer:  # noqa: S310 - checked URL
            status = int(answer.status)
    except urllib.error.HTTPError as error:
        return PostResult(error.code, f"HTTP {error.code}", _ms(started))
    except (OSError, ValueError) as error:
        return PostResult(None, f"{type(error).__name__}: {error}"[:300], _ms(started))
    if 200 <= status < 300:
        return PostResult(status, None, _ms(started))
    return PostResult(status, f"HTTP {status}", _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
