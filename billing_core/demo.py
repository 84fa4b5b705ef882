"""A believable, deterministic demo ledger: workspaces, people, six months of usage.

The story is simulated day by day in Python (a few tens of thousands of movements)
and then written in one transaction through Arrow, never row by row. Every
movement obeys the ledger's rules: no wallet ever goes below zero, each approved
request credits once, debits draw from grants in the draw-down order, a grant's rest
expires at its expiry, and every change has its audit row, so `verify()` passes.

Grants in the story: every workspace starts with a welcome promotion; Globex Marketing
had a launch-week promotion that expired part used; Acme Research holds a conference
promotion and Northwind Studio contract credits that expire within the month; Initech
Support runs on a standing approval with an automatic top-up.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from . import audit, drawdown
from .audit import AuditAction
from .drawdown import LiveGrant
from .errors import InvalidInput
from .grant_rules import month_of
from .journal import BATCH_SCHEMA, expiry, write_batch
from .ledger import Ledger
from .models import CreditPolicy, EntryKind, GrantKind, RequestStatus, WalletStatus
from .money import QUANTUM
from .passwords import hash_password
from .policies import describe
from .requests import DECISION_ACTIONS, standing_approval_note
from .schema import EXPIRED_ACCOUNT, PLATFORM_ACCOUNTS, SYSTEM_USER_ID, TOPUPS_ACCOUNT, USAGE_ACCOUNT
from .top_up import top_up_note

DEMO_PASSWORD = "en-credits-demo"
WORKSPACE_NAMES = [
    "Acme Research",
    "Northwind Studio",
    "Globex Marketing",
    "Initech Support",
    "Umbrella Labs",
    "Hooli Data",
    "Stark Design",
    "Wayne Logistics",
]
ADMINS = [("ada@example.com", "Ada Lovelace"), ("grace@example.com", "Grace Hopper")]
MEMBER_NAMES = [
    "Alan Turing",
    "Barbara Liskov",
    "Claude Shannon",
    "Donald Knuth",
    "Edsger Dijkstra",
    "Frances Allen",
    "Guido van Rossum",
    "Hedy Lamarr",
    "Ivan Sutherland",
    "John McCarthy",
    "Katherine Johnson",
    "Linus Torvalds",
    "Margaret Hamilton",
    "Niklaus Wirth",
    "Ole-Johan Dahl",
    "Radia Perlman",
    "Shafi Goldwasser",
    "Tim Berners-Lee",
    "Unix Pioneer",
    "Vint Cerf",
    "Whitfield Diffie",
    "Xiaowei Wang",
    "Yukihiro Matsumoto",
]
# feature -> (price range per use, weight)
FEATURES: dict[str, tuple[tuple[str, str], float]] = {
    "AI chat": (("0.5", "3.0"), 0.45),
    "AI summaries": (("1.0", "6.0"), 0.25),
    "Image generation": (("4.0", "15.0"), 0.12),
    "Exports": (("0.2", "1.0"), 0.10),
    "Translation": (("0.8", "4.0"), 0.08),
}
# The demo's rate card: (feature, unit, credits per unit). The Use credits page prices its
# stand-in feature by it (1,000 tokens of AI chat cost 2.00 credits).
RATE_CARD = (
    ("AI chat", "token", "0.002"),
    ("Image generation", "image", "8"),
    ("*", "request", "1"),
    ("*", "usd", "100"),
)
DESCRIPTIONS = {
    "AI chat": ["Assistant conversation", "Assistant reply", "Chat follow-up"],
    "AI summaries": ["Meeting summary", "Document summary", "Thread digest"],
    "Image generation": ["Image generated", "Image variations", "Cover image"],
    "Exports": ["PDF export", "CSV export", "Report export"],
    "Translation": ["Document translation", "Message translation"],
}
_SET_UP = ("workspaces", "users", "memberships")  # dated back to the start of the story
ZERO_WORKSPACE = 4  # Umbrella Labs: spends its last credit on the final day
INACTIVE_WORKSPACE = 5  # Hooli Data: deactivated by an admin
POLICY_WORKSPACE = 3  # Initech Support: standing approval and automatic top-up
WELCOME = (Decimal(300), 45)  # every workspace: a welcome promotion, expiring after 45 days
# (workspace, amount, kind, granted days before the end at an hour, expires days after the end)
GRANTS = (
    (2, Decimal(2500), GrantKind.PROMOTIONAL, "Launch week promotion", (24, 9), -17),  # expired
    (0, Decimal(1500), GrantKind.PROMOTIONAL, "Conference promotion", (5, 10), 9),
    (1, Decimal(1000), GrantKind.PURCHASED, "Contract credits (expire with the term)", (10, 11), 25),
)


@dataclass
class _Books:
    """What the simulation writes, as columns for Arrow."""

    # id, workspace, kind, amount, feature, description, actor, request, when; then a
    # credit's grant (kind, priority, expires_at, source) and the grant it makes or expires
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    requests: list[tuple[Any, ...]] = field(default_factory=list)
    status_changes: list[tuple[int, datetime, int]] = field(default_factory=list)
    policies: list[tuple[CreditPolicy, int, datetime]] = field(default_factory=list)  # set by, when


@dataclass
class _WalletSim:
    workspace_id: int
    members: list[int]
    balance: Decimal = Decimal(0)
    daily_uses: float = 20.0
    topup: Decimal = Decimal(2000)
    open_request: int | None = None
    grants: list[LiveGrant] = field(default_factory=list)  # ids: the story's own keys
    policy: CreditPolicy | None = None


def _money(rng: random.Random, low: str, high: str) -> Decimal:
    lo, hi = Decimal(low), Decimal(high)
    return (lo + (hi - lo) * Decimal(rng.random())).quantize(Decimal("0.01"))


def seed_demo(
    ledger: Ledger,
    *,
    workspaces: int = 6,
    months: int = 6,
    seed: int = 42,
    until: date | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Fill an empty ledger with the demo. Returns counts of what was written.

    The story ends at `now` (default: the ledger's clock; `until` means the end of that
    day): the simulation runs over whole days and is then moved in time so its last
    day ends exactly at `now`. So the demo looks the same at any hour: the teams still
    waiting asked a few hours before `now`, and nothing happens after it.
    """
    if not 1 <= workspaces <= 500:
        raise InvalidInput("Seed 1 to 500 workspaces.")
    if not 1 <= months <= 36:
        raise InvalidInput("Seed 1 to 36 months of usage.")
    if ledger.has_data():
        raise InvalidInput("This ledger already holds data; seed the demo into a new ledger only.")
    rng = random.Random(seed)
    # One hash serves every demo account: they share a published password anyway,
    # and 25 argon2 hashes would cost seconds.
    hashed = hash_password(DEMO_PASSWORD)
    admins = [ledger.add_user(e, n, admin=True, password_hash=hashed) for e, n in ADMINS]
    members = [
        ledger.add_user(f"{n.split()[0].lower()}@example.com", n, admin=False, password_hash=hashed)
        for n in MEMBER_NAMES
    ]
    names = [
        WORKSPACE_NAMES[i] if i < len(WORKSPACE_NAMES) else f"Workspace {i + 1}" for i in range(workspaces)
    ]
    spaces = [ledger.create_workspace(n) for n in names]
    roster: dict[int, list[int]] = {w.id: [] for w in spaces}
    for index, user in enumerate(members):
        picks = {spaces[index % workspaces].id}
        picks.update(w.id for w in rng.sample(spaces, k=min(workspaces, rng.randint(0, 2))))
        for workspace_id in sorted(picks):
            roster[workspace_id].append(user.id)
    roster[spaces[0].id].append(admins[0].id)
    if workspaces > 1:
        roster[spaces[1].id].append(admins[0].id)
    for workspace_id, people in roster.items():
        for user_id in people:
            ledger.add_member(workspace_id, user_id)
    if until is not None:
        now = datetime.combine(until + timedelta(days=1), time())
    moment = now or ledger.db.clock()
    end = (moment - timedelta(microseconds=1)).date() + timedelta(days=1)
    books = _simulate(
        rng,
        spaces=[w.id for w in spaces],
        roster=roster,
        admins=[a.id for a in admins],
        start=end - timedelta(days=30 * months),
        end=end,
    )
    offset = moment - datetime.combine(end, time())
    _shift(books, offset)
    founded = datetime.combine(end - timedelta(days=30 * months), time()) + offset
    _write(ledger, books, founded=founded)
    for feature, unit, rate in RATE_CARD:  # the demo's rate card, in effect since the start
        ledger.set_price(admins[0], feature, unit, rate, effective_from=founded)
    return {
        "users": len(admins) + len(members),
        "workspaces": workspaces,
        "entries": len(books.entries),
        "requests": len(books.requests),
        "grants": sum(1 for e in books.entries if e[2] == EntryKind.CREDIT.value),
    }


def _at(day: date, rng: random.Random) -> datetime:
    hour = min(23, max(0, int(rng.gauss(13, 3))))
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)))


def _simulate(
    rng: random.Random,
    *,
    spaces: list[int],
    roster: dict[int, list[int]],
    admins: list[int],
    start: date,
    end: date,
) -> _Books:
    books = _Books()
    sims = [
        _WalletSim(
            workspace_id=w,
            members=[u for u in roster[w] if u not in admins] or roster[w],
            daily_uses=rng.uniform(8, 30),
            topup=Decimal(rng.choice([1000, 1500, 2000, 3000, 5000])),
        )
        for w in spaces
    ]
    # (time, kind, payload): movements and request events, in time order
    events: list[tuple[datetime, int, str, dict[str, Any]]] = []
    request_id = 0
    # when, sim index, request (or a grant's number), what: ("decide", verdict) or ("grant", ...)
    timed: list[tuple[datetime, int, int, tuple[Any, ...]]] = []
    requests: dict[int, dict[str, Any]] = {}
    keys = itertools.count(1)  # the story's grants, numbered as they are made
    movements: list[tuple[datetime, int, dict[str, Any]]] = []

    def credit(index: int, when: datetime, amount: Decimal, kind: GrantKind, expires: datetime | None,
               source: str, fields: dict[str, Any]) -> None:
        sim = sims[index]
        expire(index, when)
        grant = LiveGrant(next(keys), kind, kind.default_priority, amount, expires)
        sim.grants = list(drawdown.add(sim.grants, grant))
        sim.balance += amount
        movements.append((when, index, fields | {
            "kind": "credit", "amount": amount, "feature": None,
            "grant": (kind.value, grant.priority, expires, source), "key": grant.id,
        }))

    def debit(index: int, when: datetime, fields: dict[str, Any]) -> None:
        sim = sims[index]
        sim.grants = list(drawdown.draw(sim.grants, fields["amount"])[0])
        sim.balance -= fields["amount"]
        movements.append((when, index, fields | {"kind": "debit", "request_id": None}))

    def expire(index: int, when: datetime) -> None:
        """As every write does: the wallet's due grants expire first, at their expiry."""
        sim = sims[index]
        for grant in drawdown.due(sim.grants, when):
            sim.grants.remove(grant)
            sim.balance -= grant.remaining
            assert grant.expires_at is not None
            movements.append((grant.expires_at, index, {
                "kind": "expiry", "amount": grant.remaining, "feature": None, "request_id": None,
                "actor": SYSTEM_USER_ID, "description": "", "key": grant.id,
            }))

    def ask(index: int, when: datetime, amount: Decimal, verdict: str, by: int | None = None) -> None:
        nonlocal request_id
        request_id += 1
        sim = sims[index]
        requests[request_id] = {
            "id": request_id,
            "workspace_id": sim.workspace_id,
            "amount": amount,
            "note": rng.choice(
                [
                    "Monthly top-up",
                    "Running low",
                    "New project starting",
                    "AI pilot needs more credits",
                    None,
                ]
            ),
            "requested_by": rng.choice(sim.members) if by is None else by,
            "requested_at": when,
        }
        events.append((when, 0, "request", {"request": request_id}))
        sim.open_request = request_id
        delay = timedelta(hours=rng.randint(2, 40))
        if verdict != "pending":
            timed.append((when + delay, index, request_id, ("decide", verdict)))

    def ask_automatically(index: int, when: datetime) -> None:
        """The automatic top-up of a policy wallet, and its standing approval (top_up.py)."""
        nonlocal request_id
        sim = sims[index]
        policy = sim.policy
        assert policy is not None and policy.top_up_amount is not None and policy.top_ups_per_month
        assert policy.approve_up_to is not None and policy.approve_per_month is not None
        first, after = month_of(when)
        mine = [r for r in requests.values() if r["workspace_id"] == sim.workspace_id]
        auto = [r for r in mine if r.get("automatic")]
        if any(r.get("status") is None for r in auto):
            return  # one is pending
        this_month = sum(1 for r in auto if first <= r["requested_at"] < after)
        if this_month >= policy.top_ups_per_month:
            return
        request_id += 1
        amount = policy.top_up_amount
        requests[request_id] = {
            "id": request_id, "workspace_id": sim.workspace_id, "amount": amount,
            "note": top_up_note(sim.balance, policy, this_month + 1),
            "requested_by": SYSTEM_USER_ID, "requested_at": when, "automatic": True,
        }
        used = sum((r["amount"] for r in mine if r.get("by_policy") and first <= r["decided_at"] < after),
                   Decimal(0))
        if amount <= policy.approve_up_to and used + amount <= policy.approve_per_month:
            requests[request_id].update(
                status="approved", decided_by=SYSTEM_USER_ID, decided_at=when, by_policy=True,
                decision_note=standing_approval_note(policy, used + amount),
            )
            credit(index, when, amount, policy.grant_kind, None, f"request:{request_id}", {
                "request_id": request_id, "actor": SYSTEM_USER_ID,
                "description": f"Credit request #{request_id} approved",
            })
        else:  # over the standing approval: an administrator approves it later
            sim.open_request = request_id
            later = when + timedelta(hours=rng.randint(2, 40))
            timed.append((later, index, request_id, ("decide", "approved")))

    def decide(index: int, item: tuple[datetime, int, int, tuple[Any, ...]]) -> None:
        sim = sims[index]
        when, _, rid, what = item
        if what[0] == "grant":
            _, amount, kind, expires, description = what
            credit(index, when, amount, kind, expires, "grant",
                   {"request_id": None, "actor": admins[0], "description": description})
            return
        verdict = what[1]
        req = requests[rid]
        req.update(
            status=verdict,
            decided_by=rng.choice(admins),
            decided_at=when,
            decision_note={
                "approved": rng.choice(["Approved", "OK, go ahead", None]),
                "rejected": "Please wait for next month's budget",
                "cancelled": "No longer needed",
            }[verdict],
        )
        if verdict == "cancelled":
            req["decided_by"] = req["requested_by"]
        sim.open_request = None
        if verdict == "approved":
            credit(index, when, req["amount"], GrantKind.PURCHASED, None, f"request:{rid}", {
                "request_id": rid, "actor": req["decided_by"],
                "description": f"Credit request #{rid} approved",
            })
        events.append((when, 1, "decision", {"request": rid}))

    day = start
    first = _at(start, rng).replace(hour=8)
    founded = datetime.combine(start, time())
    for index, sim in enumerate(sims):
        ask(index, first + timedelta(minutes=index), sim.topup, "approved")
        welcome, days = WELCOME
        timed.append((first + timedelta(minutes=index, seconds=30), index, 10**9 + index,
                      ("grant", welcome, GrantKind.PROMOTIONAL, founded + timedelta(days=days),
                       "Welcome promotion")))
    last = datetime.combine(end, time())
    for number, (index, amount, kind, description, (before, hour), after) in enumerate(GRANTS):
        if index < len(sims):
            timed.append((last - timedelta(days=before) + timedelta(hours=hour), index, 2 * 10**9 + number,
                          ("grant", amount, kind, last + timedelta(days=after), description)))
    if POLICY_WORKSPACE < len(sims):
        sim = sims[POLICY_WORKSPACE]
        sim.policy = CreditPolicy(
            sim.workspace_id, approve_up_to=sim.topup, approve_per_month=sim.topup * 4,
            top_up_below=sim.topup * Decimal("0.2"), top_up_amount=sim.topup, top_ups_per_month=3,
        )
        books.policies.append((sim.policy, admins[0], founded + timedelta(hours=7)))
    # Decisions and usage interleave by time; simulate day by day.
    while day < end:
        weekday = day.weekday()
        for index, sim in enumerate(sims):
            # decisions and grants due today take effect at their time, between the day's uses
            due = sorted(d for d in timed if d[1] == index and d[0].date() <= day)
            for decision in due:
                timed.remove(decision)
            if index == INACTIVE_WORKSPACE and day == end - timedelta(days=20):
                books.status_changes.append((sim.workspace_id, _at(day, rng), admins[1]))
                sim.daily_uses = 0
            factor = 1.0 if weekday < 5 else 0.3
            uses = max(0, int(rng.gauss(sim.daily_uses * factor, sim.daily_uses * 0.2)))
            todays = sorted(_at(day, rng) for _ in range(uses))
            for when in todays:
                while due and due[0][0] <= when:
                    decide(index, due.pop(0))
                expire(index, when)
                feature = rng.choices(list(FEATURES), weights=[w for _, w in FEATURES.values()])[0]
                (low, high), _ = FEATURES[feature]
                amount = _money(rng, low, high)
                if amount > sim.balance:
                    continue  # blocked: no credits available
                debit(index, when, {
                    "amount": amount,
                    "feature": feature,
                    "actor": rng.choice(sim.members),
                    "description": rng.choice(DESCRIPTIONS[feature]),
                })
                below = sim.policy.top_up_below if sim.policy is not None else None
                if below is not None and sim.balance < below:
                    ask_automatically(index, when + timedelta(seconds=1))
            for decision in due:
                decide(index, decision)
            low_mark = sim.topup * Decimal("0.2")
            last_days = (end - day).days
            if (sim.open_request is None and sim.balance < low_mark and sim.daily_uses > 0
                    and sim.policy is None):
                if index == ZERO_WORKSPACE and last_days < 45:
                    pass  # this team let its wallet run dry
                elif last_days < 3:
                    ask(index, _at(day, rng), sim.topup, "pending")
                else:
                    roll = rng.random()
                    if roll < 0.12:
                        ask(index, _at(day, rng), sim.topup * 3, "rejected")
                    elif roll < 0.2:
                        ask(index, _at(day, rng), sim.topup, "cancelled")
                    else:
                        ask(index, _at(day, rng), sim.topup, "approved")
        day += timedelta(days=1)
    last_day = end - timedelta(days=1)
    # The zero wallet spends exactly what is left, last thing on the final day.
    if ZERO_WORKSPACE < len(sims):
        when = datetime.combine(last_day, time(23, 59, 59))
        expire(ZERO_WORKSPACE, when)
        sim = sims[ZERO_WORKSPACE]
        if sim.balance > 0:
            debit(ZERO_WORKSPACE, when, {
                "amount": sim.balance,
                "feature": "Image generation",
                "actor": sim.members[0],
                "description": "Image variations (batch)",
            })
    # What has expired by the end has left its wallet.
    for index in range(len(sims)):
        expire(index, last)
    # A few teams are waiting for an answer right now (Acme's asked by its first member, Alan).
    for index in (0, ZERO_WORKSPACE, 2):
        if index < len(sims) and sims[index].open_request is None:
            ask(
                index,
                datetime.combine(last_day, time(16 + index % 5, 10 * index % 60)),
                sims[index].topup,
                "pending",
                by=sims[index].members[0],
            )
    # requests still undecided at the end stay pending
    for req in requests.values():
        req.setdefault("status", "pending")
    _to_books(books, movements, requests, sims)
    return books


def _to_books(
    books: _Books,
    movements: list[tuple[datetime, int, dict[str, Any]]],
    requests: dict[int, dict[str, Any]],
    sims: list[_WalletSim],
) -> None:
    movements.sort(key=lambda m: (m[0], m[2]["kind"] != "credit"))
    entry_of_request: dict[int, int] = {}
    grant_of_key: dict[int, tuple[int, GrantKind]] = {}  # the story's grant -> its id and kind
    for entry_id, (when, index, m) in enumerate(movements, start=1):
        terms: tuple[Any, ...] = (None, None, None, None)
        grant_id = None
        description = m["description"]
        if m["kind"] == "credit":  # grants are numbered as they are made, from 1
            grant_id = len(grant_of_key) + 1
            grant_of_key[m["key"]] = (grant_id, GrantKind(m["grant"][0]))
            terms = m["grant"]
        elif m["kind"] == "expiry":
            grant_id, kind = grant_of_key[m["key"]]
            description = expiry(0, LiveGrant(grant_id, kind, 0, m["amount"], when)).description
        books.entries.append(
            (
                entry_id,
                sims[index].workspace_id,
                m["kind"],
                m["amount"].quantize(QUANTUM),
                m["feature"],
                description,
                m["actor"],
                m["request_id"],
                when,
                *terms,
                grant_id,
            )
        )
        if m["request_id"] is not None:
            entry_of_request[m["request_id"]] = entry_id
    for req in requests.values():
        status = req["status"]
        books.requests.append(
            (
                req["id"],
                req["workspace_id"],
                req["amount"].quantize(QUANTUM),
                req["note"],
                status,
                req["requested_by"],
                req["requested_at"],
                req.get("decided_by") if status != "pending" else None,
                req.get("decided_at") if status != "pending" else None,
                req.get("decision_note") if status != "pending" else None,
                entry_of_request.get(req["id"]),
                bool(req.get("automatic")),
                bool(req.get("by_policy")),
            )
        )


def _shift(books: _Books, offset: timedelta) -> None:
    """Move every time in the books by `offset` (at most a day back): the simulation ends at
    midnight, the demo at `now`."""
    if not offset:
        return

    def moved(value: object) -> object:
        return value + offset if isinstance(value, datetime) else value

    books.entries = [tuple(moved(v) for v in row) for row in books.entries]
    books.requests = [tuple(moved(v) for v in row) for row in books.requests]
    books.status_changes = [(w, when + offset, a) for w, when, a in books.status_changes]
    books.policies = [(p, a, when + offset) for p, a, when in books.policies]


def _write(ledger: Ledger, books: _Books, *, founded: datetime) -> None:
    """Write the books through the journal, as if each movement had happened live."""
    db = ledger.db
    with db.writing() as cur:
        # the story starts when the workspaces, people and memberships were set up
        for table in _SET_UP:
            # table names are the constants above
            cur.execute(f"UPDATE {table} SET created_at = ? WHERE created_at > ?", [founded, founded])
        entry_ids = db.allocate_ids("entries", len(books.entries))
        request_ids = db.allocate_ids("credit_requests", len(books.requests))
        # the books number entries, requests and grants from 1: the demo seeds an empty ledger
        # (taking the grants' ids moves a server's sequence past them too)
        grants = sum(1 for e in books.entries if e[2] == EntryKind.CREDIT.value)
        grant_ids = list(db.allocate_ids("grants", grants)) if grants else []
        assert list(entry_ids) == list(range(1, len(books.entries) + 1))
        assert list(request_ids) == list(range(1, len(books.requests) + 1))
        assert list(grant_ids) == list(range(1, grants + 1))
        accounts = dict(cur.execute("SELECT workspace_id, account_id FROM wallets").fetchall())
        audits = _audit_events(books)
        audit_ids = db.allocate_ids("audit_log", len(audits))
        movement_audit = {}
        other_audits = []
        for audit_id, (when, _, payload) in zip(audit_ids, audits, strict=True):
            if isinstance(payload, int):  # an entry's id: its movement's audit row
                movement_audit[payload] = int(audit_id)
            else:
                actor, action, subject, workspace_id, before, after = payload
                other_audits.append(audit.row(
                    int(audit_id), at=when, actor_id=actor, action=action, subject=subject,
                    workspace_id=workspace_id, before=before, after=after,
                ))
        write_batch(db, cur, _movements(books, accounts, movement_audit))
        requests = pa.table(
            {name: pa.array(values, kind) for (name, kind), values in
             zip(_REQUEST_COLUMNS, zip(*books.requests, strict=True), strict=True)}
        )
        db.insert_arrow(cur, "credit_requests", requests)
        for workspace_id, _, _ in books.status_changes:
            cur.execute(
                "UPDATE wallets SET status = ? WHERE workspace_id = ?",
                [WalletStatus.INACTIVE.value, workspace_id],
            )
        for policy, admin_id, when in books.policies:
            cur.execute(
                """
                INSERT INTO credit_policies (workspace_id, approve_up_to, approve_per_month, top_up_below,
                    top_up_amount, top_ups_per_month, grant_kind, grant_days, updated_by, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [policy.workspace_id, policy.approve_up_to, policy.approve_per_month, policy.top_up_below,
                 policy.top_up_amount, policy.top_ups_per_month, policy.grant_kind.value, policy.grant_days,
                 admin_id, when],
            )
        names = audit.COLUMNS.split(", ")
        db.insert_arrow(
            cur,
            "audit_log",
            pa.table({name: pa.array(values, kind) for (name, values), kind in zip(
                zip(names, zip(*other_audits, strict=True), strict=True), _AUDIT_TYPES, strict=True
            )}),
        )


_REQUEST_COLUMNS = (
    ("id", pa.int64()),
    ("workspace_id", pa.int64()),
    ("amount", pa.decimal128(18, 4)),
    ("note", pa.string()),
    ("status", pa.string()),
    ("requested_by", pa.int64()),
    ("requested_at", pa.timestamp("us")),
    ("decided_by", pa.int64()),
    ("decided_at", pa.timestamp("us")),
    ("decision_note", pa.string()),
    ("entry_id", pa.int64()),
    ("automatic", pa.bool_()),
    ("by_policy", pa.bool_()),
)
_AUDIT_TYPES = (
    pa.int64(), pa.timestamp("us"), pa.int64(), pa.string(), pa.string(), pa.int64(), pa.string(), pa.string()
)


def _movements(books: _Books, accounts: dict[int, int], audit_ids: dict[int, int]) -> pa.Table:
    """Every entry as the journal's batch, with each wallet's running balance and its grants,
    drawn down as the live journal draws them: a row per grant piece."""
    balance: dict[int, Decimal] = {}
    grants: dict[int, tuple[LiveGrant, ...]] = {}
    columns: dict[str, list[Any]] = {name: [] for name in BATCH_SCHEMA.names}
    for row in books.entries:
        entry_id, workspace_id, kind, amount, feature, description, actor, request_id, when = row[:9]
        terms, grant_id = row[9:13], row[13]
        credit = kind == EntryKind.CREDIT.value
        before = balance.get(workspace_id, Decimal(0))
        after = before + amount if credit else before - amount
        balance[workspace_id] = after
        held = grants.get(workspace_id, ())
        if credit:
            made = LiveGrant(grant_id, GrantKind(terms[0]), terms[1], amount, terms[2])
            held, pieces = drawdown.add(held, made), [(grant_id, amount)]
            action = AuditAction.TOP_UP if request_id is not None else AuditAction.GRANT
        elif kind == EntryKind.DEBIT.value:
            held, drawn = drawdown.draw(held, amount)
            pieces = [(g, -a) for g, a in drawn]
            action = AuditAction.CONSUME
        else:
            gone = next(g for g in held if g.id == grant_id)
            assert gone.remaining == amount, (gone, amount)
            held, pieces = tuple(g for g in held if g.id != grant_id), [(grant_id, -amount)]
            action = AuditAction.EXPIRE
        grants[workspace_id] = held
        platform = {"credit": TOPUPS_ACCOUNT, "debit": USAGE_ACCOUNT, "expiry": EXPIRED_ACCOUNT}[kind]
        shared = {
            "id": entry_id,
            "audit_id": audit_ids[entry_id],
            "workspace_id": workspace_id,
            "account_id": accounts[workspace_id],
            "platform_id": PLATFORM_ACCOUNTS[platform],
            "kind": kind,
            "amount": amount,
            "signed": amount if credit else -amount,
            "description": description,
            "feature": feature,
            "created_at": when,
            "recorded_at": when,
            "actor_id": actor,
            "request_id": request_id,
            "corrects": None,
            "idempotency_key": None,
            "action": action.value,
            "balance_before": before,
            "balance_after": after,
            "grant_kind": terms[0],
            "grant_priority": terms[1],
            "grant_expires_at": terms[2],
            "grant_source": terms[3],
        }
        for number, (piece_grant, piece) in enumerate(pieces, start=1):
            for name, value in (shared | {"piece": number, "grant_id": piece_grant,
                                          "piece_amount": piece}).items():
                columns[name].append(value)
    return pa.table(columns, schema=BATCH_SCHEMA)


AuditEvent = tuple[datetime, int, Any]  # (when, order among equals, an entry id or a row's values)


def _audit_events(books: _Books) -> list[AuditEvent]:
    """Every audit row of the story, in time order: each movement's (by its entry id), each
    request's creation and decision, each status change, as the live code writes them."""
    events: list[AuditEvent] = [(e[8], 1, e[0]) for e in books.entries]
    for r in books.requests:
        request_id, workspace_id, amount, note, status, requested_by, requested_at = r[:7]
        decided_by, decided_at, decision_note, entry_id, _, by_policy = r[7:]
        subject = f"request:{request_id}"
        events.append((requested_at, 0, (
            requested_by, AuditAction.REQUEST_CREATE, subject, workspace_id,
            None, {"status": "pending", "amount": str(amount)},
        )))
        if status != RequestStatus.PENDING.value:
            events.append((decided_at, 2, (
                decided_by, DECISION_ACTIONS[RequestStatus(status)], subject, workspace_id,
                {"status": "pending"},
                {"status": status, "note": decision_note, "entry_id": entry_id, "amount": str(amount),
                 **({"by_policy": True} if by_policy else {})},
            )))
    for workspace_id, when, admin_id in books.status_changes:
        events.append((when, 3, (
            admin_id, AuditAction.WALLET_STATUS, f"wallet:{workspace_id}", workspace_id,
            {"status": WalletStatus.ACTIVE.value}, {"status": WalletStatus.INACTIVE.value},
        )))
    for policy, admin_id, when in books.policies:
        events.append((when, 3, (
            admin_id, AuditAction.POLICY_CHANGE, f"policy:{policy.workspace_id}", policy.workspace_id,
            describe(CreditPolicy(policy.workspace_id)), describe(policy),
        )))
    return sorted(events, key=lambda e: (e[0], e[1], str(e[2])))
