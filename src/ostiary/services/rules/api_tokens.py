"""Bearer tokens for the JSON API: created by an admin, shown once, stored
as a SHA-256 hash, scoped "read" or "read,write", revocable at once."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Row, update

from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, NotFound, Problems
from ostiary.services.base.listing import Page, clamp, matches, ordering
from ostiary.services.base.text_rules import control_character_problem
from ostiary.store import Store, TenantScope
from ostiary.store.tables import api_tokens

PREFIX = "ost_"
SCOPES = {"read": "read", "write": "read,write"}
# last_used_at is written at most this often per token.
TOUCH_INTERVAL = 60.0


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    row: Row
    token: str  # the secret; never stored, shown once


@dataclass(frozen=True)
class TokenHolder:
    id: int
    tenant_id: int
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def create_token(store: Store, tenant_id: int, actor: Actor, name: str, access: str,
                 expires_in_days: int | None = None) -> NewToken:
    problems = Problems()
    name = (name or "").strip()
    if not name or len(name) > 100:
        problems.add("name", N_('must be 1-100 characters, e.g. "terraform"'))
    elif control_character_problem(name):
        problems.add("name", control_character_problem(name))
    if access not in SCOPES:
        problems.add("scope", N_('"%(access)s" is not a scope: choose "read" or "write" (write includes read)'), access=access)
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        problems.add("expires_in_days", N_("must be between 1 and 3650 days, or empty for no expiry"))
    problems.raise_if_any()
    token = PREFIX + secrets.token_urlsafe(32)
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        tid = scope.insert(api_tokens, name=name, token_hash=hash_token(token), scopes=SCOPES[access],
                           created_by=actor.name, created_at=now,
                           expires_at=now + expires_in_days * 86400 if expires_in_days else None)
        scope.audit(actor.name, "token.add", "token", tid, actor.addr, name=name, scopes=SCOPES[access])
        return NewToken(scope.one(api_tokens, api_tokens.c.id == tid), token)


def revoke_token(store: Store, tenant_id: int, actor: Actor, token_id: int) -> Row:
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row = scope.one(api_tokens, api_tokens.c.id == token_id)
        if row is None:
            raise NotFound("token", N_("no API token %(token_id)s in this tenant"), token_id=token_id)
        if row.revoked_at is None:
            scope.update(api_tokens, api_tokens.c.id == token_id, revoked_at=time.time())
            scope.audit(actor.name, "token.revoke", "token", token_id, actor.addr, name=row.name)
        return scope.one(api_tokens, api_tokens.c.id == token_id)


def tokens_page(store: Store, tenant_id: int, search: str = "", limit: int | None = None,
                offset: int | None = None, sort: str = "") -> Page:
    limit, offset = clamp(limit, offset)
    where = matches(search, api_tokens.c.name, api_tokens.c.created_by)
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        total = scope.count(api_tokens, *where)
        order = ordering(sort, {"name": api_tokens.c.name, "creator": api_tokens.c.created_by,
                                "used": api_tokens.c.last_used_at},
                         [api_tokens.c.revoked_at.is_not(None), api_tokens.c.created_at.desc()])
        rows = scope.rows(api_tokens, *where, order_by=order, limit=limit, offset=offset)
    return Page(rows, total, limit, offset)


def authenticate(store: Store, tenant_id: int, token: str | None) -> TokenHolder | None:
    """The live token of this tenant the bearer value names; None otherwise."""
    if not token or len(token) > 200 or not token.startswith(PREFIX):
        return None
    now = time.time()
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(api_tokens, api_tokens.c.token_hash == hash_token(token))
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_INTERVAL:
        with store.write() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == row.id).values(last_used_at=now))
    return TokenHolder(row.id, row.tenant_id, row.name, frozenset(row.scopes.split(",")))


def get_token(store: Store, tenant_id: int, token_id: int) -> Row:
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(api_tokens, api_tokens.c.id == token_id)
    if row is None:
        raise NotFound("token", N_("no API token %(token_id)s in this tenant"), token_id=token_id)
    return row
