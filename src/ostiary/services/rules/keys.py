"""Signing keys for forward-auth cookies and handshake tokens. One key signs;
rotated-out keys keep verifying until their overlap ends, so a rotation signs
nobody out. Each rotation sets the overlap of every older key, so an
emergency rotation can end them all (docs/how-it-works.md, "Keys")."""

from __future__ import annotations

import json
import secrets
import time

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, InvalidInput, Problem
from ostiary.store import Store
from ostiary.store.changes import Entity, record_change
from ostiary.store.scoped import log_audit
from ostiary.store.tables import audit_log, installation, signing_keys

MAX_OVERLAP = 365 * 86400
# Where `ostiary serve` records its OSTIARY_KEY_OVERLAP_SECONDS, so a rotation
# from the CLI (another environment) uses the servers' overlap.
SERVERS_OVERLAP = "key_overlap_seconds"


def list_keys(store: Store) -> list[Row]:
    with store.read() as conn:
        return list(conn.execute(select(signing_keys).order_by(signing_keys.c.created_at)))


def _new_key(store: Store, conn, now: float) -> str:
    # created_at is when the key starts signing; the secret is stored sealed (ostiary/secretbox.py).
    kid = secrets.token_hex(4)
    conn.execute(insert(signing_keys).values(id=kid, secret=store.box.seal(secrets.token_hex(32)), created_at=now,
                                             retire_at=None))
    return kid


def ensure_signing_key(store: Store) -> None:
    with store.write() as conn:
        active = conn.execute(select(signing_keys.c.id).where(signing_keys.c.retire_at.is_(None))).first()
        if active is None:
            _new_key(store, conn, time.time())
            record_change(conn, None, Entity.KEY, "*")


# A new key is published this long before it signs, so every worker of every
# instance knows it (changes reach them within a second) before a cookie
# signed with it can arrive.
PUBLISH_AHEAD = 2.0


def check_overlap(overlap_seconds: object) -> int:
    if isinstance(overlap_seconds, bool) or not isinstance(overlap_seconds, int) \
            or not 0 <= overlap_seconds <= MAX_OVERLAP:
        raise InvalidInput([Problem("overlap_seconds", N_("must be a whole number of seconds from 0 (end older keys "
                                                          "now) to %(max)d (365 days); %(value)s is not"),
                                    max=MAX_OVERLAP, value=repr(overlap_seconds))])
    return overlap_seconds


def rotate_keys(store: Store, actor: Actor, overlap_seconds: int) -> str:
    """A new key signs from a moment from now; the old ones keep signing
    until then. Every older key verifies for `overlap_seconds` more at most
    (and at least that moment): a shorter overlap shortens keys rotated out
    earlier too, a longer one never lengthens them."""
    overlap_seconds = check_overlap(overlap_seconds)
    now = time.time()
    until = now + max(overlap_seconds, PUBLISH_AHEAD)
    with store.write() as conn:
        conn.execute(update(signing_keys).where(signing_keys.c.retire_at.is_(None)).values(retire_at=until))
        conn.execute(update(signing_keys).where(signing_keys.c.retire_at > until).values(retire_at=until))
        # Keys whose overlap ended long ago serve no purpose.
        conn.execute(delete(signing_keys).where(signing_keys.c.retire_at < now - 86400))
        kid = _new_key(store, conn, now + PUBLISH_AHEAD)
        log_audit(conn, None, actor.name, actor.addr, "keys.rotate", "key", kid, {"overlap_seconds": overlap_seconds})
        conn.execute(insert(audit_log).values(
            tenant_id=None, at=now, actor=actor.name, actor_addr=actor.addr, action="keys.rotate",
            entity="key", entity_id=kid, detail=json.dumps({"overlap_seconds": overlap_seconds}),
        ))
        record_change(conn, None, Entity.KEY, "*")  # every worker reloads every key's window
        return kid


def record_overlap(store: Store, overlap_seconds: int) -> None:
    """What `ostiary serve` runs with, for rotations made elsewhere (the CLI)."""
    value = str(check_overlap(overlap_seconds))
    with store.write() as conn:
        upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(upsert(installation).values(key=SERVERS_OVERLAP, value=value)
                     .on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def recorded_overlap(store: Store) -> int | None:
    """The overlap the servers last started with, or None if none has started."""
    with store.read() as conn:
        value = conn.execute(select(installation.c.value).where(installation.c.key == SERVERS_OVERLAP)).scalar()
    return int(value) if value is not None else None
