"""`billing workspace|user|member|admin|grant|correct|sessions`: the People & workspaces
page on the command line (cli.py parses the common options and turns a BillingError into
one line on stderr and exit 1).

People are named by email and workspaces by id or name, as everywhere in the CLI; each
command acts as `--as EMAIL` (else the system operator) and prints one readable line, or
a table for `list`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .clock import parse_instant
from .errors import InvalidInput, NotFound
from .ledger import Ledger
from .models import GrantKind, PasswordLink, User
from .money import format_credits
from .text import visible

DEFAULT_APP_URL = "http://localhost:8501"  # where `make run` serves the console
Runner = Callable[[Ledger, User, argparse.Namespace], int]


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """The verbs, on `billing`'s subparsers; each sets `run` (a Runner)."""
    link = argparse.ArgumentParser(add_help=False)
    link.add_argument(
        "--app-url", default=None, metavar="URL",
        help=f"the console's address, for the link (default: $BILLING_APP_URL, else {DEFAULT_APP_URL})",
    )

    workspace = sub.add_parser("workspace", help="add, list, rename, archive and link workspaces")
    verbs = workspace.add_subparsers(dest="verb", required=True)
    verb = verbs.add_parser("add", parents=[common], help="a new workspace with an empty wallet")
    verb.add_argument("name")
    verb.set_defaults(run=_workspace_add)
    verb = verbs.add_parser("list", parents=[common], help="every workspace you may see")
    verb.add_argument("--archived", action="store_true", help="archived workspaces too")
    verb.set_defaults(run=_workspace_list)
    verb = verbs.add_parser("rename", parents=[common], help="give a workspace a new name")
    verb.add_argument("workspace", help="workspace id or name")
    verb.add_argument("new_name")
    verb.set_defaults(run=_workspace_rename)
    verb = verbs.add_parser(
        "archive", parents=[common],
        help="archive a workspace: its wallet becomes inactive and pending requests are cancelled",
    )
    verb.add_argument("workspace", help="workspace id or name")
    verb.set_defaults(run=_workspace_archive)

    user = sub.add_parser("user", help="invite, list, deactivate and reactivate people; reset links")
    verbs = user.add_subparsers(dest="verb", required=True)
    verb = verbs.add_parser(
        "invite", parents=[common, link],
        help="add a person; prints the one-time link (valid 7 days) with which they set a password",
    )
    verb.add_argument("email")
    verb.add_argument("--name", required=True)
    verb.add_argument("--admin", action="store_true", help="make them an administrator too")
    verb.add_argument("--sso-only", action="store_true", help="they sign in through single sign-on only")
    verb.set_defaults(run=_user_invite)
    verb = verbs.add_parser("list", parents=[common], help="everyone, with their role and workspaces")
    verb.set_defaults(run=_user_list)
    for name, runner, what in (
        ("deactivate", _user_deactivate, "they can no longer sign in; their sessions end"),
        ("reactivate", _user_reactivate, "let a deactivated person sign in again"),
    ):
        verb = verbs.add_parser(name, parents=[common], help=what)
        verb.add_argument("email")
        verb.set_defaults(run=runner)
    verb = verbs.add_parser(
        "reset-link", parents=[common, link],
        help="reset a password: the old one stops working, sessions end, a one-time link sets a new one",
    )
    verb.add_argument("email")
    verb.set_defaults(run=_user_reset_link)

    member = sub.add_parser("member", help="add and remove members of a workspace; list them")
    verbs = member.add_subparsers(dest="verb", required=True)
    for name, runner in (("add", _member_add), ("remove", _member_remove)):
        verb = verbs.add_parser(name, parents=[common], help=f"{name} a member")
        verb.add_argument("workspace", help="workspace id or name")
        verb.add_argument("email")
        verb.set_defaults(run=runner)
    verb = verbs.add_parser("list", parents=[common], help="a workspace's members, or a person's workspaces")
    verb.add_argument("workspace", nargs="?", help="workspace id or name")
    verb.add_argument("--user", default=None, metavar="EMAIL", help="list this person's workspaces instead")
    verb.set_defaults(run=_member_list)

    grant_arguments(sub.add_parser(
        "grant", parents=[common],
        help="add credits to a workspace with a reason (above the limit, a second admin approves)",
    ))

    correct = sub.add_parser("correct", parents=[common], help="reverse a transaction with a reason")
    correct.add_argument("transaction", type=int, help="the transaction's number (billing history)")
    correct.add_argument("--reason", required=True)
    correct.set_defaults(run=_correct)

    sessions = sub.add_parser("sessions", help="where people are signed in; end a session")
    verbs = sessions.add_subparsers(dest="verb", required=True)
    verb = verbs.add_parser("list", parents=[common], help="open sessions (everyone's, or one person's)")
    verb.add_argument("--user", default=None, metavar="EMAIL")
    verb.set_defaults(run=_sessions_list)
    verb = verbs.add_parser("end", parents=[common], help="end a session by its id (sessions list)")
    verb.add_argument("session", type=int)
    verb.set_defaults(run=_sessions_end)


def admin_parsers(verbs: Any, common: argparse.ArgumentParser) -> None:
    """`billing admin promote|demote EMAIL` (beside `admin create`, in cli.py)."""
    for name, runner, what in (
        ("promote", _admin_promote, "make a person an administrator"),
        ("demote", _admin_demote, "revoke a person's administrator rights (never the last one's)"),
    ):
        verb = verbs.add_parser(name, parents=[common], help=what)
        verb.add_argument("email")
        verb.set_defaults(run=runner)


# --------------------------------------------------------------------------- helpers


def person(ledger: Ledger, email: str) -> User:
    found = ledger.user_by_email(email)
    if found is None:
        raise NotFound(f"There is no user {email} in this ledger.")
    return found


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Aligned columns of text (hidden characters shown as code points)."""
    cells = [[visible(str(c)) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)
    return "\n".join(lines)


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _base_url(ledger: Ledger, args: argparse.Namespace) -> str:
    return str(args.app_url or ledger.settings.app_url or DEFAULT_APP_URL)


def _link_line(link: PasswordLink) -> str:
    mailed = " (also emailed to them)" if link.emailed else ""
    return f"Pass on this one-time link, valid until {_when(link.expires_at)}{mailed}:\n{link.url}"


# --------------------------------------------------------------------------- workspaces


def _workspace_add(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    space = ledger.add_workspace(actor, args.name)
    print(f"Workspace {visible(space.name)} added (id {space.id}) with an empty, active wallet.")
    return 0


def _workspace_list(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    spaces = ledger.workspaces(actor, include_archived=args.archived)
    if not spaces:
        print("No workspaces yet: add one with `billing workspace add NAME`.")
        return 0
    rows = []
    for space in spaces:
        wallet = ledger.wallet(actor, space.id)
        status = "archived" if space.archived else wallet.status.value
        members = len(ledger.members(actor, space.id))
        rows.append([space.id, space.name, status, format_credits(wallet.balance, unit=False), members])
    print(table(["id", "workspace", "status", "balance", "members"], rows))
    return 0


def _workspace_rename(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    space = ledger.find_workspace(actor, args.workspace)
    renamed = ledger.rename_workspace(actor, space.id, args.new_name)
    print(f"Workspace {space.id} renamed from {visible(space.name)} to {visible(renamed.name)}.")
    return 0


def _workspace_archive(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    space = ledger.find_workspace(actor, args.workspace)
    ledger.archive_workspace(actor, space.id)
    print(f"Workspace {visible(space.name)} archived: its wallet is inactive and its history stays.")
    return 0


# --------------------------------------------------------------------------- people


def _user_invite(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    invitation = ledger.invite_user(
        actor, args.email, args.name, admin=args.admin, sso_only=args.sso_only,
        base_url=_base_url(ledger, args),
    )
    user = invitation.user
    role = "an administrator" if user.is_admin else "a member"
    print(f"Invited {user.email} ({visible(user.name)}) as {role}.")
    if invitation.link is None:
        print("They sign in through single sign-on: no password and no link.")
    else:
        print(_link_line(invitation.link))
    return 0


def _user_list(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    names = {w.id: w.name for w in ledger.workspaces(actor, include_archived=True)}
    rows = []
    for p in ledger.people(actor):
        if p.sso_only:
            how = "single sign-on"
        elif p.has_password:
            how = "password"
        elif p.invited_until is not None:
            how = f"invited, link valid until {_when(p.invited_until)}"
        else:
            how = "no password (issue a reset link)"
        rows.append([
            p.user.email, p.user.name, "admin" if p.user.is_admin else "member",
            "active" if p.user.active else "deactivated", how,
            ", ".join(names[w] for w in p.workspace_ids if w in names),
        ])
    print(table(["email", "name", "role", "status", "signs in with", "workspaces"], rows))
    return 0


def _user_deactivate(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    user = ledger.deactivate_user(actor, person(ledger, args.email).id)
    print(f"{user.email} is deactivated: they cannot sign in, and their sessions have ended.")
    return 0


def _user_reactivate(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    user = ledger.reactivate_user(actor, person(ledger, args.email).id)
    print(f"{user.email} is active again and can sign in.")
    return 0


def _user_reset_link(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    link = ledger.reset_link(actor, person(ledger, args.email).id, base_url=_base_url(ledger, args))
    print(f"The password of {link.user.email} was reset and their sessions have ended.")
    print(_link_line(link))
    return 0


def _admin_promote(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    user = ledger.promote_admin(actor, person(ledger, args.email).id)
    print(f"{user.email} ({visible(user.name)}) is now an administrator.")
    return 0


def _admin_demote(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    user = ledger.demote_admin(actor, person(ledger, args.email).id)
    print(f"{user.email} ({visible(user.name)}) is no longer an administrator.")
    return 0


# --------------------------------------------------------------------------- members


def _member_add(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    space = ledger.find_workspace(actor, args.workspace)
    user = person(ledger, args.email)
    added = ledger.add_workspace_member(actor, space.id, user.id)
    state = "is now" if added else "was already"
    print(f"{user.email} {state} a member of {visible(space.name)}.")
    return 0


def _member_remove(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    space = ledger.find_workspace(actor, args.workspace)
    user = person(ledger, args.email)
    ledger.remove_workspace_member(actor, space.id, user.id)
    print(f"{user.email} is no longer a member of {visible(space.name)}.")
    return 0


def _member_list(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    if args.user is not None:
        user = person(ledger, args.user)
        spaces = ledger.person_workspaces(actor, user.id)
        print(table(["id", "workspace", "status"],
                    [[w.id, w.name, "archived" if w.archived else "active"] for w in spaces]))
        return 0
    if args.workspace is None:
        raise NotFound("Name a workspace (or --user EMAIL) to list members of.")
    space = ledger.find_workspace(actor, args.workspace)
    members = ledger.members(actor, space.id)
    if not members:
        print(f"{visible(space.name)} has no members yet.")
        return 0
    print(table(["email", "name", "role"],
                [[u.email, u.name, "admin" if u.is_admin else "member"] for u in members]))
    return 0


# --------------------------------------------------------------------------- credits


def grant_arguments(grant: argparse.ArgumentParser) -> None:
    """`billing grant WORKSPACE AMOUNT --reason TEXT [--kind K] [--priority N] [--expires
    TIME]`. The one place its options are declared: each option beyond workspace, amount
    and reason is read back by `grant_options` (`GRANT_OPTIONS`) and reaches `Ledger.grant`
    as a keyword argument."""
    grant.add_argument("workspace", help="workspace id or name")
    grant.add_argument("amount", help="credits, e.g. 5000")
    grant.add_argument("--reason", required=True)
    grant.add_argument("--kind", choices=[k.value for k in GrantKind], default=None,
                       help="purchased (default) or promotional")
    grant.add_argument("--priority", type=int, default=None,
                       help="lower is drawn first (default: promotional 10, purchased 20)")
    grant.add_argument("--expires", type=_instant, default=None, metavar="TIME",
                       help="when what is left of it expires, ISO 8601 (default: never)")
    grant.set_defaults(run=_grant)


def _instant(text: str) -> datetime:
    try:
        return parse_instant(text)
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# argparse dest -> Ledger.grant keyword, for the options beyond workspace, amount and reason
GRANT_OPTIONS: dict[str, str] = {"kind": "kind", "priority": "priority", "expires": "expires_at"}


def grant_options(args: argparse.Namespace) -> dict[str, Any]:
    """The grant's further keyword arguments: the options of `GRANT_OPTIONS` that were given."""
    given = {keyword: getattr(args, dest, None) for dest, keyword in GRANT_OPTIONS.items()}
    return {keyword: value for keyword, value in given.items() if value is not None}


def _grant(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    space = ledger.find_workspace(actor, args.workspace)
    outcome = ledger.grant(actor, space.id, args.amount, reason=args.reason, **grant_options(args))
    if outcome.request is not None:
        request = outcome.request
        print(
            f"{format_credits(request.amount)} for {visible(space.name)} is above the grant limit of "
            f"{format_credits(ledger.settings.grant_limit)}: request #{request.id} waits for a second "
            "administrator to approve it (Approvals), who sets the grant's kind and expiry."
        )
        return 0
    assert outcome.entry is not None
    wallet = ledger.wallet(actor, space.id)
    (made,) = ledger.draws(actor, outcome.entry.id)
    ends = f"expiring {_when(made.grant_expires_at)}" if made.grant_expires_at else "never expiring"
    print(
        f"Granted {format_credits(outcome.entry.amount)} to {visible(space.name)} "
        f"(transaction {outcome.entry.id}); balance {format_credits(wallet.balance)}. "
        f"Grant #{made.grant_id}: {made.grant_kind.value}, {ends}."
    )
    return 0


def _correct(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    fix = ledger.correct_entry(actor, args.transaction, reason=args.reason)
    print(
        f"Transaction {args.transaction} reversed by transaction {fix.id} "
        f"({fix.kind.value} of {format_credits(fix.amount)})."
    )
    return 0


# --------------------------------------------------------------------------- sessions


def _sessions_list(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    if args.user is not None:
        whose = [person(ledger, args.user)]
    elif actor.is_admin:
        whose = [p.user for p in ledger.people(actor) if p.user.active]
    else:
        whose = [actor]
    rows = [
        [s.id, u.email, _when(s.created_at), _when(s.last_seen_at), _when(s.expires_at), s.client or "",
         (s.user_agent or "")[:60]]
        for u in whose
        for s in ledger.sessions(actor, user_id=u.id)
    ]
    if not rows:
        print("Nobody is signed in." if args.user is None else f"{args.user} is not signed in anywhere.")
        return 0
    print(table(["id", "email", "signed in", "last seen", "ends by", "address", "browser"], rows))
    return 0


def _sessions_end(ledger: Ledger, actor: User, args: argparse.Namespace) -> int:
    ledger.end_session_by_id(actor, args.session)
    print(f"Session {args.session} has ended; that browser must sign in again.")
    return 0
