"""OSTIARY_METRICS_LISTEN is refused on a public or wildcard address, and
the /check tally costs one call the gate makes: what it adds reaches the
counters only when flushed."""

from __future__ import annotations

import time

import pytest

from ostiary.config import ConfigError, load_settings


@pytest.mark.parametrize("value", ["0.0.0.0:9464", "[::]:9464", "8.8.8.8:9464", "metrics.example.com:9464", "9464"])
def test_public_wildcard_or_unparsable_listeners_are_refused(value, monkeypatch):
    monkeypatch.setenv("OSTIARY_METRICS_LISTEN", value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert any("metrics_listen" in p.lower() or "METRICS_LISTEN" in p for p in refused.value.problems), refused.value


@pytest.mark.parametrize("value,address", [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:9", ("::1", 9)),
                                           ("10.1.2.3:9100", ("10.1.2.3", 9100)), ("off", None)])
def test_loopback_private_or_off_are_accepted(value, address, monkeypatch):
    monkeypatch.setenv("OSTIARY_METRICS_LISTEN", value)
    assert load_settings().metrics_address == address


def test_the_tally_reaches_the_counters_when_flushed():
    from ostiary.observability import metrics

    m = metrics.worker_metrics()
    metrics.flush()  # what other tests in this process answered in-process
    child = m.checks.labels("forbidden")
    before = child._value.get()
    count_before = sum(b.get() for b in m._buckets)
    for _ in range(5):
        metrics.check_answered("forbidden", time.perf_counter())
    assert child._value.get() == before  # nothing shared written per check
    metrics.flush()
    assert child._value.get() == before + 5
    assert sum(b.get() for b in m._buckets) == count_before + 5
