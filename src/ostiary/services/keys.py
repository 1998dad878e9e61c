"""Signing keys for forward-auth cookies and handshake tokens. One key signs;
rotated-out keys keep verifying until their overlap ends, so a rotation signs
nobody out."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import Row, delete, insert, select, update

from ostiary.services.actor import Actor
from ostiary.store import Store
from ostiary.store.scoped import record_change
from ostiary.store.tables import audit_log, signing_keys


def list_keys(store: Store) -> list[Row]:
    with store.read() as conn:
        return list(conn.execute(select(signing_keys).order_by(signing_keys.c.created_at)))


def _new_key(conn, now: float) -> str:
    # created_at is when the key starts signing.
    kid = secrets.token_hex(4)
    conn.execute(insert(signing_keys).values(id=kid, secret=secrets.token_hex(32), created_at=now, retire_at=None))
    return kid


def ensure_signing_key(store: Store) -> None:
    with store.write() as conn:
        active = conn.execute(select(signing_keys.c.id).where(signing_keys.c.retire_at.is_(None))).first()
        if active is None:
            _new_key(conn, time.time())
            record_change(conn, None, "key", "*")


# A new key is published this long before it signs, so every worker of every
# instance knows it (changes reach them within a second) before a cookie
# signed with it can arrive.
PUBLISH_AHEAD = 2.0


def rotate_keys(store: Store, actor: Actor, overlap_seconds: int) -> str:
    """A new key signs from a moment from now; the old ones keep signing
    until then and verify for `overlap_seconds` more (at least that moment)."""
    now = time.time()
    with store.write() as conn:
        conn.execute(
            update(signing_keys).where(signing_keys.c.retire_at.is_(None))
            .values(retire_at=now + max(overlap_seconds, PUBLISH_AHEAD))
        )
        # Keys whose overlap ended long ago serve no purpose.
        conn.execute(delete(signing_keys).where(signing_keys.c.retire_at < now - 86400))
        kid = _new_key(conn, now + PUBLISH_AHEAD)
        conn.execute(insert(audit_log).values(
            tenant_id=None, at=now, actor=actor.name, actor_addr=actor.addr, action="keys.rotate",
            entity="key", entity_id=kid, detail="{}",
        ))
        record_change(conn, None, "key", "*")
        return kid
