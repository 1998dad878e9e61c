"""Single use of handshake tokens: the first redemption wins, atomically, on
SQLite and PostgreSQL alike (a primary-key insert either succeeds or fails)."""

from __future__ import annotations

import time

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from ostiary.store import Store
from ostiary.store.tables import consumed_tokens


def consume(store: Store, jti: str, expires_at: float) -> bool:
    try:
        with store.write() as conn:
            conn.execute(insert(consumed_tokens).values(jti=jti, expires_at=expires_at))
            conn.execute(delete(consumed_tokens).where(consumed_tokens.c.expires_at < time.time() - 60))
        return True
    except IntegrityError:
        return False
