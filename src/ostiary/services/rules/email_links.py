"""Links sent by email: an invitation, a password reset, an email change.
Each is a random token shown once (in the message), stored as its SHA-256,
single use and expiring; issuing a new one of a purpose retires the
person's earlier ones of that purpose (docs/email.md)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, or_, select

from ostiary.services.base.actor import Actor
from ostiary.store import Store, TenantScope
from ostiary.store.tables import email_links, tenants, users

INVITATION = "invitation"
RESET = "reset"
EMAIL_CHANGE = "email_change"

LIFETIMES = {INVITATION: 72 * 3600, RESET: 30 * 60, EMAIL_CHANGE: 24 * 3600}
# Where each link leads on the tenant host (its absolute URL: tenants.tenant_url).
PATHS = {INVITATION: "/invitation", RESET: "/reset-password", EMAIL_CHANGE: "/confirm-email"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_in(scope: TenantScope, user_id: int, purpose: str, actor: Actor, new_email: str | None = None,
             now: float | None = None) -> str:
    """A new link's token, in the caller's transaction; the person's earlier
    unused links of this purpose stop working."""
    now = time.time() if now is None else now
    retire_in(scope, user_id, purpose, now)
    token = secrets.token_urlsafe(32)
    scope.insert(email_links, user_id=user_id, purpose=purpose, token_hash=hash_token(token), new_email=new_email,
                 created_by=actor.name[:320], created_at=now, expires_at=now + LIFETIMES[purpose])
    return token


def retire_in(scope: TenantScope, user_id: int, purpose: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    scope.update(email_links, email_links.c.user_id == user_id, email_links.c.purpose == purpose,
                 email_links.c.used_at.is_(None), email_links.c.expires_at > now, expires_at=now)


@dataclass(frozen=True)
class LiveLink:
    id: int
    user_id: int
    email: str  # the person's current address
    display_name: str
    new_email: str | None


def _live_query(tenant_id: int, purpose: str, token: str, now: float):
    return (select(email_links.c.id, email_links.c.user_id, email_links.c.new_email, users.c.email,
                   users.c.display_name)
            .join(users, users.c.id == email_links.c.user_id)
            .where(email_links.c.tenant_id == tenant_id, email_links.c.purpose == purpose,
                   email_links.c.token_hash == hash_token(token or ""), email_links.c.used_at.is_(None),
                   email_links.c.expires_at > now, users.c.active.is_(True)))


def peek(store: Store, tenant_id: int, purpose: str, token: str) -> LiveLink | None:
    """The link a token names while it is unused, unexpired and its person
    active; reading it uses nothing up (mail scanners open links too)."""
    if not token or len(token) > 100:
        return None
    with store.read() as conn:
        row = conn.execute(_live_query(tenant_id, purpose, token, time.time())).first()
    return None if row is None else LiveLink(row.id, row.user_id, row.email, row.display_name, row.new_email)


def consume_in(scope: TenantScope, purpose: str, token: str, now: float | None = None) -> LiveLink | None:
    """Uses the link up, in the caller's transaction: only one of two
    concurrent uses gets it (the UPDATE checks it is still unused)."""
    if not token or len(token) > 100:
        return None
    now = time.time() if now is None else now
    row = scope.conn.execute(_live_query(scope.tenant_id, purpose, token, now)).first()
    if row is None:
        return None
    taken = scope.update(email_links, email_links.c.id == row.id, email_links.c.used_at.is_(None), used_at=now)
    if taken != 1:
        return None
    return LiveLink(row.id, row.user_id, row.email, row.display_name, row.new_email)


@dataclass(frozen=True)
class Recipient:
    email: str
    display_name: str
    tenant_name: str
    language: str | None  # their saved choice (users.language), which their messages follow too (docs/email.md)


def recipient(store: Store, tenant_id: int, user_id: int) -> Recipient:
    with store.read() as conn:
        row = conn.execute(select(users.c.email, users.c.display_name, users.c.language, tenants.c.name)
                           .join(tenants, tenants.c.id == users.c.tenant_id)
                           .where(users.c.tenant_id == tenant_id, users.c.id == user_id)).one()
    return Recipient(row.email, row.display_name, row.name, row.language)


def tenant_name(store: Store, tenant_id: int) -> str:
    with store.read() as conn:
        return conn.execute(select(tenants.c.name).where(tenants.c.id == tenant_id)).scalar_one()


def prune(store: Store, now: float | None = None) -> int:
    """Forget links that expired or were used more than a day ago."""
    now = time.time() if now is None else now
    with store.write() as conn:
        return conn.execute(delete(email_links).where(or_(email_links.c.expires_at < now - 86400,
                                                          email_links.c.used_at < now - 86400))).rowcount
