"""A worker's snapshot follower says once that the database is unreachable
and once that it is back, and its database gauge follows: PostgreSQL (a
throwaway cluster of this test's own) stopped and started again."""

from __future__ import annotations

import logging

import pytest

from ostiary.observability.metrics import worker_metrics
from ostiary.snapshot.follower import SnapshotHolder
from ostiary.store import open_store
from tests.operations.conftest import wait_for
from tests.scaleout.deployment import throwaway_postgres


@pytest.mark.slow
def test_database_unreachable_then_back_is_logged_once_each():
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    events = logging.getLogger("ostiary.events")
    events.addHandler(handler)
    old = events.level
    events.setLevel(logging.INFO)
    try:
        with throwaway_postgres() as pg:
            pg.create_database("ostiary")
            store = open_store(pg.url("ostiary"))
            store.migrate()
            holder = SnapshotHolder(store, 0.05)
            holder.load()
            holder.start()
            try:
                names = lambda: [r.msg for r in records]  # noqa: E731
                assert "snapshot.loaded" in names()
                pg.stop()
                wait_for(lambda: "database.unreachable" in names(), timeout=20)
                assert worker_metrics().worker_database_up._value.get() == 0
                pg.start()
                wait_for(lambda: "database.back" in names(), timeout=30)
                assert names().count("database.unreachable") == 1 and names().count("database.back") == 1
                assert worker_metrics().worker_database_up._value.get() == 1
                back = [r for r in records if r.msg == "database.back"][0]
                assert back.ostiary_fields["after_seconds"] > 0
            finally:
                holder.stop()
                store.dispose()
    finally:
        events.removeHandler(handler)
        events.setLevel(old)
