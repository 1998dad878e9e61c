"""Metrics: one view across every granian worker, served on the operator's
own listener (OSTIARY_METRICS_LISTEN), never on the public hosts
(docs/operations.md, "Metrics").

Each run of `ostiary serve` gets a fresh directory; every worker writes its
counters there through prometheus_client's multiprocess mode, and the
parent process serves the sum. The directory is named by
PROMETHEUS_MULTIPROC_DIR in the workers' environment; the metric objects
are made in each worker after it has started (`worker_metrics()`), since
a metric made before the fork would count in the parent's memory only.

The `/check` path pays for one call, `check_answered`, which adds to plain
per-worker lists; `flush()` (every second, on the worker's event loop, and
before every scrape) moves the tallies into the shared counters, so the
per-check cost stays far below a microsecond of locking and file writes
(bench/metrics_cost.py measures it)."""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from bisect import bisect_left
from pathlib import Path
from time import perf_counter

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from ostiary.wire import CHECK_OUTCOMES

log = logging.getLogger("ostiary.metrics")

RUN_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# /check answers in tens of microseconds; the buckets reach to where something is wrong.
CHECK_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)
FLUSH_EVERY = 1.0


# --- the worker's metrics -------------------------------------------------------------------------

class WorkerMetrics:
    def __init__(self) -> None:
        self.checks = Counter("ostiary_checks_total", "Forward-auth checks answered, by outcome", ["outcome"])
        self.check_seconds = Histogram("ostiary_check_duration_seconds",
                                       "Time to answer a forward-auth check inside Ostiary", buckets=CHECK_BUCKETS)
        self.sign_ins = Counter("ostiary_sign_ins_total", "Sign-in attempts, by method and result",
                                ["method", "result"])
        self.throttled = Counter("ostiary_throttled_total",
                                 "Attempts refused because of too many failures, by what was tried", ["kind"])
        self.second_factor = Counter("ostiary_second_factor_checks_total", "Second-factor codes checked, by result",
                                     ["result"])
        self.handshakes = Counter("ostiary_handshakes_total", "Forward-auth handshakes, by result and reason",
                                  ["result", "reason"])
        self.snapshot_loads = Counter("ostiary_snapshot_loads_total", "Full snapshot loads by the workers")
        self.changes = Counter("ostiary_snapshot_changes_applied_total", "Change-log entries applied to snapshots")
        self.synced = Gauge("ostiary_snapshot_synced_timestamp_seconds",
                            "When the least current live worker last read the change log (Unix time)",
                            multiprocess_mode="livemin")
        self.worker_database_up = Gauge("ostiary_worker_database_up",
                                        "1 when every live worker's last change-log read succeeded",
                                        multiprocess_mode="livemin")
        self.ready = Gauge("ostiary_workers_ready", "Workers that have loaded their snapshot",
                           multiprocess_mode="livesum")
        self._outcome_children = [self.checks.labels(o) for o in CHECK_OUTCOMES]
        self._buckets = self.check_seconds._buckets  # one per bound and +Inf, counted non-cumulatively
        self._sum = self.check_seconds._sum


_metrics: WorkerMetrics | None = None
_lock = threading.Lock()


def worker_metrics() -> WorkerMetrics:
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                if os.environ.get(RUN_DIR_ENV):
                    # prometheus_client chose its value class when first imported, maybe in the parent
                    # before the run directory was named: choose again here, in the worker.
                    values.ValueClass = values.MultiProcessValue()
                _metrics = WorkerMetrics()
    return _metrics


# --- the /check tally: plain lists, flushed in batches -------------------------------------------

_OUTCOME_INDEX = {o: i for i, o in enumerate(CHECK_OUTCOMES)}
_outcomes = [0] * len(CHECK_OUTCOMES)
_buckets = [0] * (len(CHECK_BUCKETS) + 1)
_seconds = [0.0]


def check_answered(outcome: str, started: float, req=None) -> None:
    """The gate's one call per answer: `started` is time.perf_counter() when
    the check arrived; `req` the forwarded request it answered. Allowed answers are only counted; refused ones are
    logged at debug level (never one line per request at info)."""
    elapsed = perf_counter() - started
    i = _OUTCOME_INDEX[outcome]
    _outcomes[i] += 1
    _buckets[bisect_left(CHECK_BUCKETS, elapsed)] += 1
    _seconds[0] += elapsed
    if i > 1 and req is not None and _CHECK_LOG.isEnabledFor(logging.DEBUG):
        _refused(outcome, req)


_CHECK_LOG = logging.getLogger("ostiary.events")


def _refused(outcome: str, req) -> None:
    from ostiary.observability.logs import event

    event("check.refused", logging.DEBUG, outcome=outcome, host=req.host, uri=(req.uri or "")[:300],
          method=req.method)


def flush() -> None:
    """Move the tallies into the shared metrics. Call it on the thread that
    runs the gate (the worker's event loop), so no answer is lost between
    reading a tally and zeroing it."""
    if not any(_outcomes):
        return
    m = worker_metrics()
    for i, n in enumerate(_outcomes):
        if n:
            _outcomes[i] = 0
            m._outcome_children[i].inc(n)
    for i, n in enumerate(_buckets):
        if n:
            _buckets[i] = 0
            m._buckets[i].inc(n)
    seconds, _seconds[0] = _seconds[0], 0.0
    m._sum.inc(seconds)


async def flush_forever() -> None:
    while True:
        await asyncio.sleep(FLUSH_EVERY)
        flush()


def start_worker() -> asyncio.Task:
    """In the worker's lifespan: make the metrics and flush the /check tallies every second."""
    worker_metrics()
    return asyncio.get_running_loop().create_task(flush_forever(), name="ostiary-metrics-flush")


# --- what the parent adds at each scrape ---------------------------------------------------------

_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def forget_dead_workers(directory: str) -> None:
    """A respawned worker leaves its live gauges behind; they must stop counting."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = _LIVE_FILE.search(os.path.basename(path))
        if match and not _alive(int(match.group(1))):
            mark_process_dead(int(match.group(1)), directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class InstallationCollector:
    """Read at each scrape: the database's reachability and domains by state,
    from this process's own connection, and the snapshot age from the
    workers' last change-log reads."""

    def __init__(self, database_url: str | None, synced_source):
        self.database_url = database_url
        self.synced_source = synced_source  # () -> Unix time of the least current worker's read, or None
        self._engine = None

    def _engine_once(self):
        if self._engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            # No pool: granian forks workers from this process, and a pooled connection would be shared.
            args = {"connect_timeout": 5} if self.database_url.startswith("postgresql") else {"timeout": 5}
            self._engine = create_engine(self.database_url, poolclass=NullPool, connect_args=args)
        return self._engine

    def collect(self):
        up = GaugeMetricFamily("ostiary_database_up", "1 when the database answers this process, else 0")
        domains = GaugeMetricFamily("ostiary_domains", "Protected domains, by state", labels=["state"])
        counts = None
        if self.database_url:
            try:
                counts = _domain_states(self._engine_once())
            except Exception:  # unreachable: say so, and still serve every other metric
                counts = None
            up.add_metric([], 1 if counts is not None else 0)
            yield up
            for state, n in sorted((counts or {}).items()):
                domains.add_metric([state], n)
            if counts is not None:
                yield domains
        synced = self.synced_source()
        age = GaugeMetricFamily("ostiary_snapshot_age_seconds",
                                "Seconds since the least current worker last read the change log")
        if synced:
            age.add_metric([], max(0.0, time.time() - synced))
            yield age


def _domain_states(engine) -> dict[str, int]:
    from sqlalchemy import case, func, select

    from ostiary.dns.status import DomainStatus
    from ostiary.store.tables import domains

    state = case((domains.c.flagged_at.is_not(None) & (domains.c.status == DomainStatus.VERIFIED),
                  DomainStatus.FLAGGED.value), else_=domains.c.status)
    counts = {s.value: 0 for s in DomainStatus}
    with engine.connect() as conn:
        for row in conn.execute(select(state.label("state"), func.count()).group_by(state)):
            counts[row[0]] = int(row[1])
    return counts


def _sample(registry: CollectorRegistry, name: str) -> float | None:
    for family in registry.collect():
        for s in family.samples:
            if s.name == name:
                return s.value
    return None


class _LiveWorkers:
    """The multiprocess view, after forgetting the live gauges of workers that have exited."""

    def __init__(self, directory: str):
        self.directory = directory
        self.inner = MultiProcessCollector(None, path=directory)

    def collect(self):
        forget_dead_workers(self.directory)
        return self.inner.collect()


class RunDirectory:
    """The per-run directory the workers write to, and the one view over it."""

    def __init__(self, database_url: str | None, base: Path | None = None):
        self.path = Path(tempfile.mkdtemp(prefix="ostiary-metrics-", dir=base))  # 0700, owner-only
        self.files = CollectorRegistry()
        self.files.register(_LiveWorkers(str(self.path)))
        self.registry = CollectorRegistry()
        self.registry.register(_LiveWorkers(str(self.path)))
        self.registry.register(InstallationCollector(database_url, self.synced_at))
        self._server = None

    def synced_at(self) -> float | None:
        return _sample(self.files, "ostiary_snapshot_synced_timestamp_seconds") or None

    def ready_workers(self) -> int:
        return int(_sample(self.files, "ostiary_workers_ready") or 0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def listen(self, host: str, port: int) -> None:
        from prometheus_client import start_http_server

        self._server, _thread = start_http_server(port, addr=host, registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        shutil.rmtree(self.path, ignore_errors=True)

    def announce_ready(self, workers: int, describe: str, stop: threading.Event) -> threading.Thread:
        """Log "ready" once, when every worker has loaded its snapshot."""

        def watch() -> None:
            from ostiary.observability.logs import event

            started = time.monotonic()
            while not stop.wait(0.1):
                try:
                    ready = self.ready_workers()
                except Exception:  # a worker mid-write: look again
                    continue
                if ready >= workers:
                    event("ready", workers=workers, listen=describe,
                          seconds=round(time.monotonic() - started, 2))
                    return

        thread = threading.Thread(target=watch, name="ostiary-ready-watch", daemon=True)
        thread.start()
        return thread


def in_worker_exposition(database_url: str | None) -> bytes:
    """For the portal's /metrics (operators only): the same view from inside a
    worker. Call flush() first, on the event loop."""
    directory = os.environ.get(RUN_DIR_ENV)
    if directory:
        files = CollectorRegistry()
        files.register(_LiveWorkers(directory))
    else:  # one process (uvicorn, or an application made in a test): its own metrics
        from prometheus_client import REGISTRY as files

        worker_metrics()
    installation = CollectorRegistry()
    installation.register(InstallationCollector(
        database_url, lambda: _sample(files, "ostiary_snapshot_synced_timestamp_seconds") or None))
    return generate_latest(files) + generate_latest(installation)
