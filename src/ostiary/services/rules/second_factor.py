"""The second factor: TOTP (RFC 6238, via pyotp) and single-use recovery
codes. A TOTP code is accepted once: each (user, time step) is consumed
atomically, and a step older than one already used is refused, so a code
seen over a shoulder cannot be replayed within its 90-second window."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
from sqlalchemy import Row, select, update

from ostiary.identity.method import ONE_TIME_CODE
from ostiary.services.base import notifications
from ostiary.services.base import handshake_tokens
from ostiary.services.rules.sessions import record_method_in
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, InvalidInput, NotFound, Problem
from ostiary.services.rules.passkeys import remove_all_in
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import consumed_tokens, recovery_codes, sessions, users

ISSUER = "Ostiary"
STEP = 30
VALID_WINDOW = 1  # the step before and after now, for clock drift
RECOVERY_CODES = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def _step_key(user_id: int, step: int) -> str:
    return f"totp:{user_id}:{step}"[:32]


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code `code` is, within the allowed drift; None if none."""
    code = "".join((code or "").split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // STEP)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def _consume_step(store: Store, user_id: int, step: int) -> bool:
    """True the first time; False for a replay or for a step older than a used one."""
    later = [_step_key(user_id, s) for s in range(step + 1, step + 2 * VALID_WINDOW + 1)]
    with store.read() as conn:
        if conn.execute(select(consumed_tokens.c.jti).where(consumed_tokens.c.jti.in_(later))).first():
            return False
    return handshake_tokens.consume(store, _step_key(user_id, step), (step + 2 * VALID_WINDOW + 2) * STEP)


def verify_totp(store: Store, user_id: int, secret: str, code: str, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    step = matching_step(secret, code, now)
    return step is not None and _consume_step(store, user_id, step)


def _hash_code(code: str) -> str:
    return hashlib.sha256(normalise_recovery_code(code).encode()).hexdigest()


def normalise_recovery_code(code: str) -> str:
    return "".join(c for c in (code or "").lower() if c.isalnum())


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Codes of 16 characters from a 31-letter alphabet (79 bits): a plain
    SHA-256 is enough to store them, no slow hash needed."""
    out = []
    for _ in range(count):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
        out.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return out


@dataclass(frozen=True)
class Enrolment:
    secret: str
    recovery_codes: list[str]


def status(store: Store, tenant_id: int, user_id: int) -> tuple[bool, int]:
    """(TOTP enabled, recovery codes left)."""
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        user = scope.one(users, users.c.id == user_id)
        left = scope.count(recovery_codes, recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None))
    if user is None:
        raise NotFound("user", N_("no such user in this tenant"))
    return bool(user.totp_secret and user.totp_enabled_at), left


def is_enrolled(user: Row) -> bool:
    return bool(user.totp_secret and user.totp_enabled_at)


def enrol(store: Store, tenant_id: int, user_id: int, actor: Actor, secret: str, code: str | None,
          now: float | None = None) -> Enrolment:
    """Turn TOTP on with `secret` once `code` proves the authenticator has it
    (`code=None` only for an admin provisioning from the command line), and
    issue fresh recovery codes. Replaces any earlier secret and codes."""
    now = time.time() if now is None else now
    if code is not None:
        step = matching_step(secret, code, now)
        if step is None:
            raise InvalidInput([Problem("code", N_("is not the current code of this authenticator: check the "
                                                   "device's clock and type the 6 digits shown now"))])
        _consume_step(store, user_id, step)
    codes = new_recovery_codes()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        if scope.one(users, users.c.id == user_id) is None:
            raise NotFound("user", N_("no such user in this tenant"))
        scope.update(users, users.c.id == user_id, totp_secret=store.box.seal(secret), totp_enabled_at=now, updated_at=now)
        scope.delete(recovery_codes, recovery_codes.c.user_id == user_id)
        for c in codes:
            scope.insert(recovery_codes, user_id=user_id, code_hash=_hash_code(c), used_at=None)
        scope.audit(actor.name, "user.totp_enrol", "user", user_id, actor.addr)
        scope.changed(Entity.USER, user_id)  # the gate now asks this person's sessions for it
    return Enrolment(secret, codes)


def reset(store: Store, tenant_id: int, user_id: int, actor: Actor) -> None:
    """Turn the second factor off and drop the recovery codes (an admin's
    answer to a lost device)."""
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        scope.update(users, users.c.id == user_id, totp_secret=None, totp_enabled_at=None, updated_at=time.time())
        scope.delete(recovery_codes, recovery_codes.c.user_id == user_id)
        scope.audit(actor.name, "user.totp_reset", "user", user_id, actor.addr)
        scope.changed(Entity.USER, user_id)


def reset_all(store: Store, tenant_id: int, user_id: int, actor: Actor) -> dict:
    """An administrator's answer to a lost phone or security key: TOTP off,
    recovery codes and every passkey gone, in one audited transaction. The
    person sets up a new one at their next sign-in if the tenant's policy
    requires it. Then they are told (services/base/notifications.py: by email
    when it is configured, otherwise not at all)."""
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        user = scope.one(users, users.c.id == user_id)
        if user is None:
            raise NotFound("user", N_("no such user in this tenant"))
        had_totp = bool(user.totp_secret and user.totp_enabled_at)
        scope.update(users, users.c.id == user_id, totp_secret=None, totp_enabled_at=None, updated_at=time.time())
        codes = scope.delete(recovery_codes, recovery_codes.c.user_id == user_id)
        removed = remove_all_in(scope, user_id)
        detail = {"totp": had_totp, "recovery_codes": codes, "passkeys": removed}
        scope.audit(actor.name, "user.second_factor_reset", "user", user_id, actor.addr, **detail)
        scope.changed(Entity.USER, user_id)
    # The call point for the email notice (docs/sign-in.md): a no-op until a sender is registered.
    notifications.notify(store, tenant_id, user_id, notifications.SECOND_FACTORS_RESET, by=actor.name, **detail)
    return detail


def use_recovery_code(store: Store, tenant_id: int, user_id: int, code: str, actor: Actor) -> bool:
    """Consumes one unused code atomically; True when it was one."""
    if len(normalise_recovery_code(code)) != 16:
        return False
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        used = scope.update(recovery_codes, recovery_codes.c.user_id == user_id,
                            recovery_codes.c.code_hash == _hash_code(code), recovery_codes.c.used_at.is_(None),
                            used_at=time.time())
        if used:
            scope.audit(actor.name, "user.recovery_code_used", "user", user_id, actor.addr)
        return bool(used)


def verify_second_factor(store: Store, tenant_id: int, user: Row, code: str, actor: Actor) -> bool:
    """A TOTP code or, failing that, a recovery code."""
    if not is_enrolled(user):
        return False
    if verify_totp(store, user.id, store.box.open(user.totp_secret), code):
        return True
    return use_recovery_code(store, tenant_id, user.id, code, actor)


def mark_session(store: Store, tenant_id: int, session_id: str, actor: Actor, method: str = ONE_TIME_CODE) -> None:
    """The central session has passed the second factor; forward-auth cookies
    minted from now on carry "mf"."""
    with store.write() as conn:
        conn.execute(update(sessions).where(sessions.c.id == session_id, sessions.c.tenant_id == tenant_id)
                     .values(second_factor=True))
        record_method_in(conn, tenant_id, session_id, method)
        TenantScope(conn, tenant_id).audit(actor.name, "session.second_factor", "session", session_id, actor.addr,
                                           method=method)
