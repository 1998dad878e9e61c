"""Sign-in throttling, shared by every worker and instance through the
`throttle` table. SECURITY.md explains the design; in short:

- per (account, client address): 5 failures in 15 minutes, then blocked,
  the block doubling with every further failure (1 min, 2, 4 ... 1 hour);
- per client address, whatever the account: 20 failures, then the same;
- per account, from everywhere: a *soft* limit of 20 failures. It never
  locks the account; past it the account is "under attack" and every
  (account, address) pair gets a single try before its block starts.
  The real person, from an address that has not failed, still signs in.

An attempt is charged before the password is checked ("charge first,
refund on success"), so concurrent guesses cannot slip past a limit.

Accounts are keyed on the user a login resolves to (email or username: one
budget), and on the login as typed when it resolves to no one. Every page
that checks a password goes through `begin_sign_in`/`sign_in_succeeded`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ostiary.services.rules.users import find_user_in
from ostiary.store import Store, TenantScope
from ostiary.store.tables import throttle

WINDOW = 15 * 60
PAIR_LIMIT = 5
PAIR_LIMIT_UNDER_ATTACK = 1
ADDRESS_LIMIT = 20
ACCOUNT_SOFT_LIMIT = 20
SECOND_FACTOR_LIMIT = 5
BASE_BLOCK = 60.0
MAX_BLOCK = 3600.0
MAX_KEY = 400


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0  # seconds until the longest block ends, when refused
    keys: tuple[str, ...] = ()


def _login_key(login: str) -> str:
    return (login or "").strip().lower()[:320]


def account_in(conn: Connection, tenant_id: int, login: str) -> str:
    """Who a login's failures count against: the user it resolves to (so
    `bob` and `bob@acme-corp.test` share one budget), else the login as typed
    (lower-cased), so unknown logins are throttled exactly like real ones."""
    user = find_user_in(TenantScope(conn, tenant_id), login.strip()) if login and login.strip() else None
    return f"user:{user.id}" if user is not None else f"login:{_login_key(login)}"


def account_of(store: Store, tenant_id: int, login: str) -> str:
    with store.read() as conn:
        return account_in(conn, tenant_id, login)


def sign_in_keys(tenant_id: int, account: str, address: str) -> tuple[str, str, str]:
    """(pair, address, account) keys for an account named by `account_in`."""
    pair = f"pair:{tenant_id}:{address}|{account}"[:MAX_KEY]
    return pair, f"address:{address}"[:MAX_KEY], f"account:{tenant_id}:{account}"[:MAX_KEY]


def second_factor_key(tenant_id: int, user_id: int) -> str:
    return f"2fa:{tenant_id}:{user_id}"


def block_seconds(failures: int, limit: int) -> float:
    """How long a key is blocked after its `failures`-th failure (none below the limit)."""
    if failures < limit:
        return 0.0
    return min(BASE_BLOCK * 2 ** min(failures - limit, 16), MAX_BLOCK)


def _stale(row, now: float) -> bool:
    # A key forgets its failures once its window has passed and it has been
    # quiet (no block) for a whole window, so a steady attack keeps escalating.
    quiet_since = max(row.window_start, row.blocked_until or 0.0)
    return now - quiet_since > WINDOW


@dataclass
class _Counter:
    key: str
    window_start: float
    failures: int
    blocked_until: float | None


def _lock_rows(conn: Connection, keys: list[str], now: float) -> dict[str, _Counter]:
    """The current rows for `keys`, created when missing and reset when stale,
    locked for this transaction (SQLite: the write transaction itself)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(throttle).values([dict(key=k, window_start=now, failures=0, blocked_until=None) for k in keys])
                 .on_conflict_do_nothing(index_elements=["key"]))
    stmt = select(throttle).where(throttle.c.key.in_(keys))
    if conn.dialect.name == "postgresql":
        stmt = stmt.order_by(throttle.c.key).with_for_update()
    rows = {r.key: _Counter(r.key, r.window_start, r.failures, r.blocked_until) for r in conn.execute(stmt)}
    for key, row in rows.items():
        if _stale(row, now):
            conn.execute(update(throttle).where(throttle.c.key == key)
                         .values(window_start=now, failures=0, blocked_until=None))
            row.window_start, row.failures, row.blocked_until = now, 0, None
    return rows


def _charge(conn: Connection, limits: dict[str, int], now: float) -> Verdict:
    """Refuse when any key is blocked; otherwise count one attempt on every key."""
    keys = sorted(limits)
    rows = _lock_rows(conn, keys, now)
    for key in keys:
        row = rows[key]
        if row.blocked_until is None and row.failures >= limits[key]:
            # Over a limit that has just tightened (an account under attack): block from now.
            until = now + block_seconds(row.failures, limits[key])
            conn.execute(update(throttle).where(throttle.c.key == key).values(blocked_until=until))
            row.blocked_until = until
    blocked = [rows[k].blocked_until - now for k in keys if rows[k].blocked_until and rows[k].blocked_until > now]
    if blocked:
        return Verdict(False, max(blocked), tuple(keys))
    for key in keys:
        failures = rows[key].failures + 1
        seconds = block_seconds(failures, limits[key])
        conn.execute(update(throttle).where(throttle.c.key == key).values(
            failures=failures, blocked_until=now + seconds if seconds else rows[key].blocked_until,
        ))
    return Verdict(True, 0.0, tuple(keys))


def begin_sign_in(store: Store, tenant_id: int, login: str, address: str, now: float | None = None) -> Verdict:
    """Call before checking a password. When allowed, the attempt is already
    counted as a failure; call `sign_in_succeeded` if the password was right."""
    now = time.time() if now is None else now
    with store.write() as conn:
        pair, addr, account = sign_in_keys(tenant_id, account_in(conn, tenant_id, login), address)
        account_row = _lock_rows(conn, [account], now)[account]
        under_attack = account_row.failures >= ACCOUNT_SOFT_LIMIT
        verdict = _charge(conn, {pair: PAIR_LIMIT_UNDER_ATTACK if under_attack else PAIR_LIMIT,
                                 addr: ADDRESS_LIMIT}, now)
        if verdict.allowed:
            # The soft account counter never blocks: it only tightens the pair limit.
            conn.execute(update(throttle).where(throttle.c.key == account)
                         .values(failures=account_row.failures + 1))
    return verdict


def sign_in_succeeded(store: Store, tenant_id: int, login: str, address: str) -> None:
    """The attempt was right: forget this pair, refund the one attempt charged
    to the address and the account (a success never wipes their history)."""
    pair, addr, account = sign_in_keys(tenant_id, account_of(store, tenant_id, login), address)
    refund(store, {addr: ADDRESS_LIMIT, account: ACCOUNT_SOFT_LIMIT}, forget=(pair,))


def begin_second_factor(store: Store, tenant_id: int, user_id: int, now: float | None = None) -> Verdict:
    now = time.time() if now is None else now
    key = second_factor_key(tenant_id, user_id)
    with store.write() as conn:
        return _charge(conn, {key: SECOND_FACTOR_LIMIT}, now)


def second_factor_succeeded(store: Store, tenant_id: int, user_id: int) -> None:
    refund(store, {}, forget=(second_factor_key(tenant_id, user_id),))


def refund(store: Store, limits: dict[str, int], forget: tuple[str, ...] = ()) -> None:
    with store.write() as conn:
        if forget:
            conn.execute(delete(throttle).where(throttle.c.key.in_(forget)))
        for key, limit in limits.items():
            row = conn.execute(select(throttle).where(throttle.c.key == key)).first()
            if row is None or row.failures <= 0:
                continue
            failures = row.failures - 1
            values = {"failures": failures}
            if failures < limit:
                values["blocked_until"] = None
            conn.execute(update(throttle).where(throttle.c.key == key).values(**values))


def state(store: Store, key: str) -> tuple[int, float | None] | None:
    """(failures, blocked_until) of one key, for tests and diagnostics."""
    with store.read() as conn:
        row = conn.execute(select(throttle).where(throttle.c.key == key)).first()
    return (row.failures, row.blocked_until) if row else None


def prune(store: Store, now: float | None = None) -> int:
    """Drop keys quiet for a whole window; called now and then by sign-in."""
    now = time.time() if now is None else now
    quiet = now - WINDOW
    with store.write() as conn:
        return conn.execute(delete(throttle).where(and_(
            throttle.c.window_start < quiet,
            or_(throttle.c.blocked_until.is_(None), throttle.c.blocked_until < quiet),
        ))).rowcount


# Password-reset requests ("Forgot your password?", docs/email.md): never
# refunded. Past the account limit no further link is sent to that account
# (the page answers the same, so nobody learns the limit was met); past the
# address limit the client is told to wait.
RESET_ACCOUNT_LIMIT = 3
RESET_ADDRESS_LIMIT = 10


@dataclass(frozen=True)
class ResetVerdict:
    address: Verdict
    account: Verdict


def begin_password_reset(store: Store, tenant_id: int, login: str, address: str,
                         now: float | None = None) -> ResetVerdict:
    """Charges one request to the client address and, when the address is
    not blocked, one to the account (keyed like sign-in: the user the login
    resolves to, else the login as typed, so unknown addresses count alike)."""
    now = time.time() if now is None else now
    with store.write() as conn:
        account = account_in(conn, tenant_id, login)
        by_address = _charge(conn, {f"reset-address:{address}"[:MAX_KEY]: RESET_ADDRESS_LIMIT}, now)
        if not by_address.allowed:
            return ResetVerdict(by_address, Verdict(False))
        by_account = _charge(conn, {f"reset-account:{tenant_id}:{account}"[:MAX_KEY]: RESET_ACCOUNT_LIMIT}, now)
    return ResetVerdict(by_address, by_account)
