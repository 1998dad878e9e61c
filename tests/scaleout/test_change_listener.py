"""The change feed on PostgreSQL: LISTEN/NOTIFY wakes a follower at once,
the catch-up poll covers what a notification missed, and the listener
reconnects after losing its connection."""

from __future__ import annotations

import time

import psycopg
import pytest

from ostiary.services.rules import tenants
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.snapshot.follower import SnapshotHolder
from ostiary.store import open_store
from tests.support.database import PG_ADMIN_DSN, create_pg_database, drop_pg_database, pg_url


def wait_for(predicate, timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(0.005)
    return time.monotonic() - start


@pytest.fixture
def pg_store(pg_template):
    name = create_pg_database(template=pg_template)
    store = open_store(pg_url(name))
    yield store, name
    store.dispose()
    drop_pg_database(name)


def _slugs(holder: SnapshotHolder) -> set[str]:
    return {t.slug for t in holder.snapshot.tenants.values()}


def test_a_notification_wakes_the_follower_long_before_its_poll_would(pg_store):
    store, _ = pg_store
    holder = SnapshotHolder(store, poll_interval=30)  # only a notification can wake it in time
    holder.load()
    holder.start()
    try:
        wait_for(lambda: holder.listening, 5)
        time.sleep(0.2)  # the wake-up on connecting has been used
        delays = []
        for i in range(10):
            tenants.add_tenant(store, f"t{i}", CLI_ACTOR)
            delays.append(wait_for(lambda: f"t{i}" in _slugs(holder), 1.0))
        print(f"\nNOTIFY to applied: worst {max(delays) * 1000:.0f} ms over {len(delays)}")
    finally:
        holder.stop()


def test_the_listener_reconnects_and_catches_up_on_what_it_missed(pg_store):
    store, name = pg_store
    holder = SnapshotHolder(store, poll_interval=30)
    holder.load()
    holder.start()
    try:
        wait_for(lambda: holder.listening, 5)
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = 'ostiary-change-listener'", (name,)
            ).fetchall()
        assert killed == [(True,)]
        # Made while the listener may be down: its notification can be lost.
        tenants.add_tenant(store, "missed", CLI_ACTOR)
        wait_for(lambda: "missed" in _slugs(holder), 3.0)  # the reconnect wakes a catch-up poll
        wait_for(lambda: holder.listening, 3.0)
        time.sleep(0.2)
        tenants.add_tenant(store, "after", CLI_ACTOR)
        wait_for(lambda: "after" in _slugs(holder), 1.0)
    finally:
        holder.stop()


def test_without_notifications_the_poll_alone_keeps_the_snapshot_current(pg_store):
    store, _ = pg_store
    holder = SnapshotHolder(store, poll_interval=0.2)
    holder._listener = None  # as if every notification were lost
    holder.load()
    holder.start()
    try:
        tenants.add_tenant(store, "polled", CLI_ACTOR)
        assert wait_for(lambda: "polled" in _slugs(holder), 1.0) < 1.0
    finally:
        holder.stop()


def test_sqlite_has_no_listener(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    holder = SnapshotHolder(store)
    assert holder._listener is None and not holder.listening
    store.dispose()
