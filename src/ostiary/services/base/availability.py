"""Is the database there? The portal asks this for readiness and to turn a
lost database into a clear page, without touching the database layer itself."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ostiary.store import Store

# What a request sees when the server is down, refuses, drops the connection or the pool is exhausted.
DATABASE_UNREACHABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)


def database_reachable(store: Store) -> bool:
    try:
        with store.read() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
