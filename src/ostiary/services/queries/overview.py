"""The state of one organisation at a glance, for the admin overview: how
many of each thing, domains that need attention, recent failed sign-ins and
throttled addresses (read from the throttle counters), and keys and API
tokens about to stop working."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Row, and_, or_, select

from ostiary.dns.status import DomainStatus
from ostiary.services.rules import throttle as throttle_rules
from ostiary.store import Store, TenantScope
from ostiary.store.tables import api_tokens, apps, domains, groups, sessions, signing_keys, throttle, users

# API tokens that stop within this many seconds are listed as about to expire.
TOKEN_WARNING = 14 * 86400


@dataclass(frozen=True)
class FailedSignIns:
    account: str  # the person's email, or the login as typed when it named no one
    failures: int
    since: float
    blocked_until: float | None


@dataclass(frozen=True)
class ThrottledAddress:
    address: str
    account: str
    blocked_until: float


@dataclass
class Overview:
    counts: dict[str, int] = field(default_factory=dict)
    attention_domains: list[Row] = field(default_factory=list)
    failed_sign_ins: list[FailedSignIns] = field(default_factory=list)
    throttled: list[ThrottledAddress] = field(default_factory=list)
    ending_keys: list[Row] = field(default_factory=list)
    ending_tokens: list[Row] = field(default_factory=list)


def tenant_overview(store: Store, tenant_id: int, now: float | None = None, limit: int = 10) -> Overview:
    now = time.time() if now is None else now
    out = Overview()
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        live = and_(sessions.c.ended_at.is_(None), sessions.c.expires_at > now)
        out.counts = {
            "users": scope.count(users, users.c.active.is_(True)),
            "disabled users": scope.count(users, users.c.active.is_(False)),
            "administrators": scope.count(users, users.c.is_admin.is_(True), users.c.active.is_(True)),
            "groups": scope.count(groups),
            "apps": scope.count(apps),
            "domains": scope.count(domains),
            "live sessions": scope.count(sessions, live),
            "API tokens": scope.count(api_tokens, api_tokens.c.revoked_at.is_(None),
                                      or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now)),
        }
        out.attention_domains = scope.rows(domains, or_(domains.c.status != DomainStatus.VERIFIED, domains.c.flagged_at.is_not(None)),
                                           order_by=domains.c.name, limit=limit)
        out.ending_tokens = scope.rows(api_tokens, api_tokens.c.revoked_at.is_(None), api_tokens.c.expires_at > now,
                                       api_tokens.c.expires_at <= now + TOKEN_WARNING,
                                       order_by=api_tokens.c.expires_at, limit=limit)
        out.ending_keys = list(conn.execute(select(signing_keys).where(signing_keys.c.retire_at > now)
                                            .order_by(signing_keys.c.retire_at)))
        out.failed_sign_ins, out.throttled = _sign_in_trouble(conn, tenant_id, now, limit)
    return out


def _sign_in_trouble(conn, tenant_id: int, now: float, limit: int):
    """Per-account failures and blocked (address, account) pairs of this tenant
    still inside their window, from the counters the throttle keeps."""
    prefix_account, prefix_pair = f"account:{tenant_id}:", f"pair:{tenant_id}:"
    recent = now - throttle_rules.WINDOW
    rows = conn.execute(select(throttle).where(
        or_(throttle.c.key.like(prefix_account.replace("_", "\\_") + "%", escape="\\"),
            throttle.c.key.like(prefix_pair.replace("_", "\\_") + "%", escape="\\")),
        throttle.c.failures > 0,
        or_(throttle.c.window_start >= recent, throttle.c.blocked_until >= recent),
    ).order_by(throttle.c.window_start.desc()).limit(500))
    failed, blocked = [], []
    for r in rows:
        if r.key.startswith(prefix_account):
            failed.append((r.key[len(prefix_account):], r.failures, r.window_start, r.blocked_until))
        elif r.blocked_until is not None and r.blocked_until > now:
            address, _, account = r.key[len(prefix_pair):].partition("|")
            blocked.append((address, account, r.blocked_until))
    names = _account_names(conn, tenant_id, {a for a, *_ in failed} | {a for _, a, _ in blocked})
    failed.sort(key=lambda f: -f[1])
    blocked.sort(key=lambda b: -b[2])
    return ([FailedSignIns(names.get(a, a), n, since, until) for a, n, since, until in failed[:limit]],
            [ThrottledAddress(addr, names.get(a, a), until) for addr, a, until in blocked[:limit]])


def _account_names(conn, tenant_id: int, accounts: set[str]) -> dict[str, str]:
    """"user:7" -> that user's email; "login:bob" -> "bob (no such user)"."""
    ids = {int(a[5:]) for a in accounts if a.startswith("user:") and a[5:].isdigit()}
    names = {a: f"{a[6:]} (no such user)" for a in accounts if a.startswith("login:")}
    if ids:
        for row in conn.execute(select(users.c.id, users.c.email).where(users.c.tenant_id == tenant_id,
                                                                       users.c.id.in_(ids))):
            names[f"user:{row.id}"] = row.email
    return names
