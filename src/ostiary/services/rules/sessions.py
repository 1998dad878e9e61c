"""Central sessions: created at sign-in, found by the browser's cookie,
ended by sign-out, revocation, a password change or disabling the user.
Ending one writes to the change log so every gate refuses its forward-auth
cookies within a second."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Row, select, update

from ostiary.access import second_factor_owed
from ostiary.identity.method import amr_values, decode_methods, encode_methods, method_entry
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, NotFound
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import sessions, tenants, users, webauthn_credentials

# last_seen_at is written at most this often per session: never a write per request.
TOUCH_INTERVAL = 60.0

# Who must hear that sessions ended, once the ending is committed: the OpenID Connect
# issuer's back-channel logout registers here (docs/oidc-provider.md, "Sign-out").
# Each is called with (store, tenant_id, session_ids, user_id) and must not raise.
_ENDED_LISTENERS: list = []


def on_sessions_ended(listener):
    if listener not in _ENDED_LISTENERS:
        _ENDED_LISTENERS.append(listener)
    return listener


def announce_ended(store: Store, tenant_id: int, session_ids: list[str] | None = None,
                   user_id: int | None = None) -> None:
    """After a commit that ended sessions (these ids, or any of this user's)."""
    for listener in list(_ENDED_LISTENERS):
        try:
            listener(store, tenant_id, session_ids, user_id)
        except Exception:  # a listener's failure never undoes or blocks a sign-out
            logging.getLogger("ostiary").exception("a sign-out listener failed")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    id: str
    token: str
    expires_at: float


def create_session(
    store: Store, tenant_id: int, user_id: int, *, client_addr: str = "", user_agent: str = "",
    second_factor: bool = False, method: str | None = None, via: str = "", also: tuple[str, ...] = (),
) -> NewSession:
    """Every sign-in method ends here (docs/identity-providers.md); `method`
    is how the person proved who they are, as an RFC 8176 `amr` value, and
    `via` the provider or directory that vouched for them."""
    now = time.time()
    methods = encode_methods(([method_entry(method, via, now)] if method else [])
                             + [method_entry(m, "", now) for m in also])
    session_id, token = secrets.token_hex(16), secrets.token_urlsafe(32)
    with store.write() as conn:
        tenant = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).one()
        expires = now + tenant.session_absolute_seconds
        TenantScope(conn, tenant_id).insert(
            sessions, id=session_id, user_id=user_id, token_hash=hash_token(token), created_at=now,
            last_seen_at=now, expires_at=expires, client_addr=client_addr[:64], user_agent=user_agent[:300],
            second_factor=second_factor, methods=methods,
        )
        scope = TenantScope(conn, tenant_id)
        scope.audit(f"user:{user_id}", "session.start", "session", session_id, client_addr,
                    **({"method": method, "via": via} if via else {"method": method} if method else {}))
    return NewSession(id=session_id, token=token, expires_at=expires)


@dataclass(frozen=True)
class LiveSession:
    id: str
    tenant_id: int
    user_id: int
    expires_at: float
    second_factor: bool
    methods: tuple[str, ...] = ()  # RFC 8176 amr values, in the order used
    # The user has a second factor and this session has not passed it yet:
    # it may only complete that step or sign out (docs/how-it-works.md).
    second_factor_due: bool = False
    enrolled: bool = False  # the user has a TOTP or a passkey

    @property
    def complete(self) -> bool:
        return not self.second_factor_due


def session_for_token(store: Store, token: str | None, tenant_id: int) -> LiveSession | None:
    """The live session the browser's cookie names, on this tenant; None when
    the cookie is unknown, ended, past its absolute limit or idle too long."""
    if not token or len(token) > 200:
        return None
    now = time.time()
    with store.read() as conn:
        row = conn.execute(
            select(sessions, tenants.c.session_idle_seconds, tenants.c.session_absolute_seconds, users.c.active,
                   users.c.totp_secret, users.c.totp_enabled_at, users.c.is_admin, tenants.c.second_factor_policy,
                   has_passkeys_query(sessions.c.tenant_id, sessions.c.user_id).label("has_passkey"))
            .join(tenants, tenants.c.id == sessions.c.tenant_id)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == hash_token(token), sessions.c.tenant_id == tenant_id)
        ).first()
    if row is None or row.ended_at is not None or not row.active:
        return None
    # The tenant's limits as they are now: shortening them applies to sessions already open.
    if row.expires_at <= now or row.created_at + row.session_absolute_seconds <= now:
        return None
    if row.last_seen_at + row.session_idle_seconds <= now:
        end_session(store, tenant_id, row.id, "idle", Actor("system"))
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        with store.write() as conn:
            conn.execute(update(sessions).where(sessions.c.id == row.id).values(last_seen_at=now))
    enrolled = bool(row.totp_secret and row.totp_enabled_at) or bool(row.has_passkey)
    # A person who has a second factor passes it; one the tenant's policy
    # requires it of is taken to enrol it first (docs/sign-in.md). The gate asks
    # the same rule of its snapshot (access.owes_second_factor).
    owed = second_factor_owed(enrolled, row.second_factor_policy, bool(row.is_admin))
    return LiveSession(row.id, row.tenant_id, row.user_id, row.expires_at, bool(row.second_factor),
                       tuple(amr_values(row.methods)), second_factor_due=owed and not row.second_factor,
                       enrolled=enrolled)


def has_passkeys_query(tenant_id_col, user_id_col):
    """An EXISTS for the session lookup: does this user have a passkey."""
    return select(webauthn_credentials.c.id).where(
        webauthn_credentials.c.tenant_id == tenant_id_col, webauthn_credentials.c.user_id == user_id_col
    ).exists()


def record_method_in(conn, tenant_id: int, session_id: str, method: str, via: str = "") -> None:
    """Adds a method (a second factor, say) to a live session's record, in the caller's transaction."""
    row = conn.execute(select(sessions.c.methods).where(
        sessions.c.id == session_id, sessions.c.tenant_id == tenant_id)).first()
    if row is None:
        return
    entries = decode_methods(row.methods) + [method_entry(method, via)]
    conn.execute(update(sessions).where(sessions.c.id == session_id, sessions.c.tenant_id == tenant_id)
                 .values(methods=encode_methods(entries)))


def end_session(store: Store, tenant_id: int, session_id: str, reason: str, actor: Actor) -> bool:
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        ended = scope.update(
            sessions, sessions.c.id == session_id, sessions.c.ended_at.is_(None),
            ended_at=time.time(), ended_reason=reason[:64],
        )
        if ended:
            scope.audit(actor.name, "session.end", "session", session_id, actor.addr, reason=reason)
            scope.changed(Entity.SESSION, session_id)
    if ended:
        announce_ended(store, tenant_id, [session_id])
    return bool(ended)


def end_session_by_id(store: Store, session_id: str, reason: str, actor: Actor) -> bool:
    """For the portal's sign-out, which knows the session only from a signed cookie."""
    with store.read() as conn:
        tenant_id = conn.execute(select(sessions.c.tenant_id).where(sessions.c.id == session_id)).scalar()
    if tenant_id is None:
        return False
    return end_session(store, tenant_id, session_id, reason, actor)


def end_user_sessions_in(scope: TenantScope, user_id: int, reason: str) -> int:
    """Ends every live session of one user in one statement (found through
    ix_sessions_user), inside the caller's transaction."""
    live = [row.id for row in scope.rows(sessions, sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))]
    if live:
        scope.update(sessions, sessions.c.id.in_(live), sessions.c.ended_at.is_(None),
                     ended_at=time.time(), ended_reason=reason[:64])
    for session_id in live:
        scope.changed(Entity.SESSION, session_id)
    return len(live)


def end_user_sessions(store: Store, tenant_id: int, user_id: int, reason: str, actor: Actor) -> int:
    """Sign out everywhere, and an admin revoking a user's sessions: one operation."""
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        count = end_user_sessions_in(scope, user_id, reason)
        scope.audit(actor.name, "session.end_all", "user", user_id, actor.addr, reason=reason, count=count)
    announce_ended(store, tenant_id, user_id=user_id)
    return count


def list_sessions(store: Store, tenant_id: int, user_id: int | None = None, live_only: bool = True,
                  limit: int = 100, offset: int = 0) -> list[Row]:
    where = []
    if user_id is not None:
        where.append(sessions.c.user_id == user_id)
    if live_only:
        where += [sessions.c.ended_at.is_(None), sessions.c.expires_at > time.time()]
    with store.read() as conn:
        return TenantScope(conn, tenant_id).rows(
            sessions, *where, order_by=sessions.c.created_at.desc(), limit=limit, offset=offset
        )


def get_session(store: Store, tenant_id: int, session_id: str) -> Row:
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(sessions, sessions.c.id == session_id)
    if row is None:
        raise NotFound("session", N_('no session "%(session_id)s" in this tenant: see `ostiary session list`'), session_id=session_id)
    return row
