"""Emailing a password link, when a mail server is configured (settings.Mail).

Sending happens after the link was committed; a failure to send is logged and reported
(`PasswordLink.emailed` is False), never an error: the administrator still has the link
to pass on by hand.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage

from .models import LinkPurpose
from .settings import Mail

_log = logging.getLogger("billing.mail")

_SUBJECTS = {
    LinkPurpose.INVITE: "You are invited to the en-credits billing console",
    LinkPurpose.RESET: "Set a new password for the en-credits billing console",
}


def message(
    mail: Mail, *, to: str, name: str, url: str, purpose: LinkPurpose, expires_at: datetime
) -> EmailMessage:
    note = EmailMessage()
    note["From"] = mail.sender
    note["To"] = to
    note["Subject"] = _SUBJECTS[purpose]
    why = (
        "An administrator invited you to the en-credits billing console."
        if purpose is LinkPurpose.INVITE
        else "An administrator reset your password for the en-credits billing console."
    )
    note.set_content(
        f"Hello {name},\n\n{why} Set your password with this link (it works once, until "
        f"{expires_at:%Y-%m-%d %H:%M} UTC):\n\n{url}\n\nThen sign in with {to}.\n"
    )
    return note


def send_link(
    mail: Mail, *, to: str, name: str, url: str, purpose: LinkPurpose, expires_at: datetime
) -> bool:
    """Email the link; whether the mail server accepted it."""
    note = message(mail, to=to, name=name, url=url, purpose=purpose, expires_at=expires_at)
    try:
        with smtplib.SMTP(mail.host, mail.port, timeout=15) as server:
            if mail.starttls:
                server.starttls()
            if mail.user and mail.password:
                server.login(mail.user, mail.password)
            server.send_message(note)
    except (OSError, smtplib.SMTPException) as error:
        _log.warning("could not email a %s link to %s: %s", purpose.value, to, error)
        return False
    return True
