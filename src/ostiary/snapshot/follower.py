"""Keeping one worker's snapshot current.

A background thread reads the change log every `poll_interval` and applies
each new entry. Change-log ids can commit out of order on PostgreSQL (two
transactions take ids 10 and 11, 11 commits first), so the follower keeps a
low-water mark below any id it has not yet seen and re-reads above it;
a gap still open after GAP_TIMEOUT belongs to a rolled-back transaction."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import delete, select

from ostiary.snapshot.build import apply_change, load_full, prune_ended_sessions
from ostiary.snapshot.model import Snapshot
from ostiary.store import Store
from ostiary.store.tables import change_log

log = logging.getLogger("ostiary.snapshot")

GAP_TIMEOUT = 10.0
PRUNE_INTERVAL = 60.0
CHANGE_LOG_RETENTION = 24 * 3600


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
        self._last_prune = time.time()

    def load(self) -> None:
        with self.store.read() as conn:
            snap = load_full(conn)
        self.snapshot = snap
        self._low_water = snap.last_change_id
        self._seen_above.clear()
        self.database_ok = True
        self.last_poll_ok_at = time.time()

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
                apply_change(snap, conn, row.entity, row.entity_id, row.tenant_id)
                self._seen_above.add(row.id)
                applied += 1
        self._advance_low_water()
        snap.last_change_id = max([snap.last_change_id, *self._seen_above])
        self.changes_applied += applied
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

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
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
                self.database_ok = True
                self.last_poll_ok_at = now
            except Exception as exc:  # the gate keeps answering from the last snapshot
                if self.database_ok:
                    log.warning("cannot read the change log, serving the last snapshot: %s", exc)
                self.database_ok = False
            self._wake.wait(self.poll_interval)
            self._wake.clear()
