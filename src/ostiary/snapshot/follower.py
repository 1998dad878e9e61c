"""Keeping one worker's snapshot current.

A background thread reads the change log every `poll_interval` and applies
each new entry. Change-log ids can commit out of order on PostgreSQL (two
transactions take ids 10 and 11, 11 commits first), so the follower keeps a
low-water mark below any id it has not yet seen and re-reads above it;
a gap still open after GAP_TIMEOUT belongs to a rolled-back transaction.

On PostgreSQL a second thread LISTENs on the channel every writer NOTIFYs
in its transaction (store/changes.py) and wakes the poll at once; the poll
keeps its interval, so a missed notification (the listener reconnecting
after an outage, say) costs at most one interval."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import delete, make_url, select

from ostiary.observability import events
from ostiary.observability.metrics import worker_metrics
from ostiary.snapshot.build import apply_change, load_full, prune_ended_sessions
from ostiary.snapshot.model import Snapshot
from ostiary.store import Store
from ostiary.store.changes import CHANNEL
from ostiary.store.tables import change_log

log = logging.getLogger("ostiary.snapshot")

GAP_TIMEOUT = 10.0
PRUNE_INTERVAL = 60.0
CHANGE_LOG_RETENTION = 24 * 3600
LISTEN_RETRY_MAX = 5.0


class SnapshotHolder:
    """Owns the current snapshot and the thread that follows the change log."""

    def __init__(self, store: Store, poll_interval: float = 0.2):
        self.store = store
        self.poll_interval = poll_interval
        self.snapshot = Snapshot()
        self.database_ok = False
        self.last_poll_ok_at = 0.0
        self.changes_applied = 0
        self._low_water = 0
        self._seen_above: set[int] = set()
        self._gap_since: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: ChangeListener | None = (
            ChangeListener(store.url, self._wake) if store.is_postgresql else None
        )
        self._last_prune = time.time()
        self._unreachable_since: float | None = None

    def load(self) -> None:
        started = time.monotonic()
        with self.store.read() as conn:
            snap = load_full(conn, self.store.box)
        self.snapshot = snap
        self._low_water = snap.last_change_id
        self._seen_above.clear()
        self._reached_database()
        worker_metrics().ready.set(1)  # `ostiary serve` logs "ready" once every worker has loaded one
        events.snapshot_loaded(snap.last_change_id, len(snap.users), len(snap.apps), time.monotonic() - started)

    def _reached_database(self) -> None:
        now = time.time()
        if self._unreachable_since is not None:
            events.database_back(now - self._unreachable_since)
            self._unreachable_since = None
        self.database_ok = True
        self.last_poll_ok_at = now
        m = worker_metrics()
        m.synced.set(now)
        m.worker_database_up.set(1)

    def poll_once(self) -> int:
        """Apply every change not yet seen; returns how many were applied."""
        snap = self.snapshot
        with self.store.read() as conn:
            rows = list(conn.execute(
                select(change_log.c.id, change_log.c.tenant_id, change_log.c.entity, change_log.c.entity_id)
                .where(change_log.c.id > self._low_water).order_by(change_log.c.id).limit(5000)
            ))
            applied = 0
            for row in rows:
                if row.id in self._seen_above:
                    continue
                apply_change(snap, conn, row.entity, row.entity_id, row.tenant_id, self.store.box)
                self._seen_above.add(row.id)
                applied += 1
        self._advance_low_water()
        snap.last_change_id = max([snap.last_change_id, *self._seen_above])
        self.changes_applied += applied
        if applied:
            worker_metrics().changes.inc(applied)
        return applied

    def _advance_low_water(self) -> None:
        while self._low_water + 1 in self._seen_above:
            self._low_water += 1
            self._seen_above.discard(self._low_water)
        if self._seen_above:
            now = time.time()
            if self._gap_since is None:
                self._gap_since = now
            elif now - self._gap_since > GAP_TIMEOUT:
                # The missing ids were rolled back; nothing will ever fill them.
                self._low_water = min(self._seen_above)
                self._seen_above.discard(self._low_water)
                self._gap_since = None
                self._advance_low_water()
        else:
            self._gap_since = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ostiary-snapshot-follower", daemon=True)
        self._thread.start()
        if self._listener is not None:
            self._listener.start()

    @property
    def listening(self) -> bool:
        """True while a LISTEN connection is open (always False on SQLite)."""
        return self._listener is not None and self._listener.connected

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            # Cleared before reading, so a notification arriving mid-poll wakes the next one.
            self._wake.clear()
            try:
                if not self.snapshot.loaded:
                    self.load()
                self.poll_once()
                now = time.time()
                if now - self._last_prune > PRUNE_INTERVAL:
                    self._last_prune = now
                    prune_ended_sessions(self.snapshot, now)
                    with self.store.write() as conn:
                        conn.execute(delete(change_log).where(change_log.c.at < now - CHANGE_LOG_RETENTION))
                self._reached_database()
            except Exception as exc:  # the gate keeps answering from the last snapshot
                if self._unreachable_since is None:
                    self._unreachable_since = time.time()
                    events.database_unreachable(f"cannot read the change log, serving the last snapshot: {exc}")
                    worker_metrics().worker_database_up.set(0)
                self.database_ok = False
            self._wake.wait(self.poll_interval)


def _libpq_dsn(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """A dedicated psycopg connection LISTENing on CHANNEL (store/changes.py); every
    notification sets `wake`. Reconnects with backoff after any failure and
    wakes the poll on reconnecting, since notifications sent meanwhile are lost."""

    def __init__(self, sqlalchemy_url: str, wake: threading.Event):
        self.dsn = _libpq_dsn(sqlalchemy_url)
        self.wake = wake
        self.connected = False
        self.notifications = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ostiary-change-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def _run(self) -> None:
        retry = 0.2
        while not self._stop.is_set():
            try:
                self._listen()
                retry = 0.2
            except Exception as exc:
                if self.connected:
                    log.warning("change listener lost its connection, reconnecting: %s", exc)
                self.connected = False
                self._stop.wait(retry)
                retry = min(retry * 2, LISTEN_RETRY_MAX)

    def _listen(self) -> None:
        import psycopg

        # Keepalives notice a vanished server; connect_timeout bounds each attempt.
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5, keepalives=1, keepalives_idle=5,
                             keepalives_interval=2, keepalives_count=3,
                             application_name="ostiary-change-listener") as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.connected = True
            self.wake.set()  # catch up on whatever happened while not listening
            while not self._stop.is_set():
                # A short timeout so stop() is noticed; each batch wakes the poll once.
                for _ in conn.notifies(timeout=1.0, stop_after=1):
                    self.notifications += 1
                    self.wake.set()
                if conn.closed:
                    raise psycopg.OperationalError("connection closed")
        self.connected = False
