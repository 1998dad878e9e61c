"""Central sessions (docs/contract.md §7): the tenant's idle and absolute limits,
last activity written coarsely, and one operation that ends all of a
person's sessions. On SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import inspect, select, update

from ostiary.services.rules import sessions as sessions_service
from ostiary.services.rules import tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules.tenants import DEFAULT_ABSOLUTE, DEFAULT_IDLE
from ostiary.store.tables import change_log, sessions

def _tenant_with_people(store):
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery", CLI_ACTOR)
    tid = tenants.tenant_by_slug(store, "acme").id
    ids = {}
    for name in ("alice", "bob"):
        ids[name] = users.add_user(store, tid, CLI_ACTOR, email=f"{name}@acme.test", password="correct horse battery").id
    return tid, ids


def _age(store, session_id: str, **seconds_ago: float) -> None:
    """Moves a session's timestamps into the past, as if time had passed."""
    now = time.time()
    with store.write() as conn:
        conn.execute(update(sessions).where(sessions.c.id == session_id)
                     .values(**{column: now - ago for column, ago in seconds_ago.items()}))


def _row(store, session_id: str):
    with store.read() as conn:
        return conn.execute(select(sessions).where(sessions.c.id == session_id)).one()


def _session_changes(store, session_id: str) -> int:
    with store.read() as conn:
        return len(list(conn.execute(select(change_log.c.id).where(
            change_log.c.entity == "session", change_log.c.entity_id == session_id))))


def test_a_new_tenant_gets_eight_hours_idle_and_fourteen_days_absolute(store):
    tid, ids = _tenant_with_people(store)
    row = tenants.tenant_by_slug(store, "acme")
    assert (row.session_idle_seconds, row.session_absolute_seconds) == (DEFAULT_IDLE, DEFAULT_ABSOLUTE)
    assert (DEFAULT_IDLE, DEFAULT_ABSOLUTE) == (8 * 3600, 14 * 24 * 3600)
    new = sessions_service.create_session(store, tid, ids["alice"])
    assert abs(new.expires_at - (time.time() + 14 * 24 * 3600)) < 5


def test_a_session_idle_past_the_tenant_limit_ends_and_is_announced_to_the_gates(store):
    tid, ids = _tenant_with_people(store)
    tenants.set_session_limits(store, tid, CLI_ACTOR, idle_seconds=600, absolute_seconds=3600)
    new = sessions_service.create_session(store, tid, ids["alice"])
    _age(store, new.id, last_seen_at=599)
    assert sessions_service.session_for_token(store, new.token, tid) is not None
    _age(store, new.id, last_seen_at=601)
    assert sessions_service.session_for_token(store, new.token, tid) is None
    row = _row(store, new.id)
    assert row.ended_at is not None and row.ended_reason == "idle"
    assert _session_changes(store, new.id) == 1  # the snapshot learns it, so the gate refuses its cookies


def test_the_absolute_limit_ends_even_an_active_session_and_follows_the_tenant_setting(store):
    tid, ids = _tenant_with_people(store)
    tenants.set_session_limits(store, tid, CLI_ACTOR, idle_seconds=600, absolute_seconds=3600)
    new = sessions_service.create_session(store, tid, ids["alice"])
    assert abs(new.expires_at - (time.time() + 3600)) < 5
    _age(store, new.id, created_at=3000, last_seen_at=10)
    assert sessions_service.session_for_token(store, new.token, tid) is not None
    # Shortening the tenant's limit applies to sessions already open.
    tenants.set_session_limits(store, tid, CLI_ACTOR, idle_seconds=600, absolute_seconds=2400)
    assert sessions_service.session_for_token(store, new.token, tid) is None


def test_last_activity_is_written_at_most_once_a_minute(store):
    tid, ids = _tenant_with_people(store)
    new = sessions_service.create_session(store, tid, ids["alice"])
    _age(store, new.id, last_seen_at=30)
    seen = _row(store, new.id).last_seen_at
    for _ in range(5):
        assert sessions_service.session_for_token(store, new.token, tid) is not None
    assert _row(store, new.id).last_seen_at == seen  # under a minute old: no write
    _age(store, new.id, last_seen_at=61)
    assert sessions_service.session_for_token(store, new.token, tid) is not None
    assert time.time() - _row(store, new.id).last_seen_at < 5


def test_sign_out_everywhere_ends_every_session_of_that_person_only_in_one_operation(store):
    tid, ids = _tenant_with_people(store)
    alice = [sessions_service.create_session(store, tid, ids["alice"]) for _ in range(3)]
    bob = sessions_service.create_session(store, tid, ids["bob"])
    assert sessions_service.end_user_sessions(store, tid, ids["alice"], "sign out everywhere", CLI_ACTOR) == 3
    assert all(sessions_service.session_for_token(store, s.token, tid) is None for s in alice)
    assert all(_session_changes(store, s.id) == 1 for s in alice)
    assert sessions_service.session_for_token(store, bob.token, tid) is not None
    assert sessions_service.end_user_sessions(store, tid, ids["alice"], "again", CLI_ACTOR) == 0


def test_sessions_are_indexed_by_user(store):
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(store.engine).get_indexes("sessions")}
    assert indexes["ix_sessions_user"] == ["user_id"]


def test_a_password_change_or_disabling_ends_every_session(store):
    tid, ids = _tenant_with_people(store)
    first = [sessions_service.create_session(store, tid, ids["alice"]) for _ in range(2)]
    users.set_password(store, tid, CLI_ACTOR, "alice@acme.test", "another long passphrase")
    assert all(_row(store, s.id).ended_at is not None for s in first)
    second = sessions_service.create_session(store, tid, ids["alice"])
    users.set_active(store, tid, CLI_ACTOR, "alice@acme.test", False)
    assert _row(store, second.id).ended_at is not None
    assert all(_session_changes(store, s.id) == 1 for s in [*first, second])
