"""The audit log keeps entries for OSTIARY_AUDIT_RETENTION_DAYS: the periodic
job (the re-verifier's round, under its lease) deletes older ones; 0 keeps
every entry. On SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, insert, select

from ostiary.config import load_settings
from ostiary.services.queries.audit import prune_audit_log
from ostiary.services.jobs.reverifier import Reverifier
from ostiary.store.tables import audit_log

DAY = 86400


def _entry(store, at: float, action: str) -> None:
    with store.write() as conn:
        conn.execute(insert(audit_log).values(tenant_id=None, at=at, actor="cli", actor_addr="", action=action,
                                              entity="key", entity_id="x", detail="{}"))


def _actions(store) -> set[str]:
    with store.read() as conn:
        return {r.action for r in conn.execute(select(audit_log.c.action))}


def test_entries_older_than_the_retention_are_deleted_and_newer_ones_kept(store):
    now = time.time()
    _entry(store, now - 40 * DAY, "old")
    _entry(store, now - 20 * DAY, "recent")
    assert prune_audit_log(store, 30, now) == 1
    assert _actions(store) == {"recent"}


def test_a_retention_of_zero_keeps_every_entry(store):
    _entry(store, time.time() - 4000 * DAY, "ancient")
    assert prune_audit_log(store, 0) == 0
    assert "ancient" in _actions(store)


def test_the_periodic_job_prunes_with_the_configured_retention(store):
    now = time.time()
    _entry(store, now - 11 * DAY, "old")
    _entry(store, now - 9 * DAY, "recent")
    settings = load_settings(audit_retention_days=10, database_url=store.url)
    assert Reverifier(store, settings, interval=60, lease_seconds=60).run_once() is not None
    assert _actions(store) >= {"recent"} and "old" not in _actions(store)


@pytest.mark.parametrize("days", [-1, 36501, "a year"])
def test_a_retention_out_of_range_is_refused_naming_the_setting(days):
    with pytest.raises(Exception) as refused:
        load_settings(audit_retention_days=days)
    assert "OSTIARY_AUDIT_RETENTION_DAYS" in str(refused.value)
