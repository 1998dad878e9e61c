"""What counting and timing one /check costs (observability/metrics.py).

    .venv/bin/python -m bench.metrics_cost

Measured in one process, side by side and interleaved, as ratios and
nanoseconds per call: the gate's one call (`check_answered`: a clock read
and three list additions), the same with the flush every second amortised,
and, for comparison, what observing each check straight into the shared
multiprocess Histogram and Counter would cost (a lock and an mmap write
per value). Nothing here is a timed test: the numbers go to the report, not
to an assertion (docs/operations.md, "Metrics")."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from time import perf_counter

N = 200_000
ROUNDS = 7


def _per_call(fn, n: int = N) -> float:
    started = perf_counter()
    fn(n)
    return (perf_counter() - started) / n * 1e9


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="ostiary-bench-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # as in a granian worker
        from ostiary.observability import metrics

        m = metrics.worker_metrics()
        direct_child = m.checks.labels("allowed")

        def baseline(n):  # the clock read the gate needs anyway, and a loop
            for _ in range(n):
                perf_counter()

        def tally(n):
            check = metrics.check_answered
            for _ in range(n):
                check("allowed", perf_counter())

        def tally_and_flush(n):  # one flush per 10,000 checks: far more often than once a second
            check = metrics.check_answered
            for i in range(n):
                check("allowed", perf_counter())
                if i % 10_000 == 0:
                    metrics.flush()

        def direct(n):  # what the gate would pay writing each check to the shared files
            for _ in range(n):
                started = perf_counter()
                direct_child.inc()
                m.check_seconds.observe(perf_counter() - started)

        cases = {"baseline": baseline, "tally": tally, "tally+flush": tally_and_flush, "direct": direct}
        results: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(ROUNDS):
            for name, fn in cases.items():
                results[name].append(_per_call(fn))
        metrics.flush()
        base = statistics.median(results["baseline"])
        print(f"per /check, median of {ROUNDS} rounds of {N:,} calls (ns; the baseline's clock read subtracted):")
        for name in ("tally", "tally+flush", "direct"):
            med = statistics.median(results[name])
            print(f"  {name:12s} {med - base:8.0f} ns   ({med / base:.1f}x the baseline loop)")
        ratio = (statistics.median(results["direct"]) - base) / max(1.0, statistics.median(results["tally"]) - base)
        print(f"  batching per worker is {ratio:.1f}x cheaper than writing each check to the shared files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
