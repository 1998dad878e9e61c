"""One metrics view across the workers of a real `ostiary serve` (granian or uvicorn), on the
listener OSTIARY_METRICS_LISTEN names: checks counted and timed however the
checks spread over the workers, sign-ins by method and result, domains by
state, database reachability and snapshot age, with Prometheus names."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.operations.conftest import check, sign_in, start, wait_for


@pytest.fixture(scope="module", params=["granian", "uvicorn"])  # one view under either server
def running(installation, request):
    r = start(installation, f"metrics-{request.param}", server=request.param)
    yield r
    r.server.stop()


def scrape(running) -> dict[tuple[str, tuple], float]:
    text = httpx.get(f"http://127.0.0.1:{running.metrics_port}/metrics", timeout=10).text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_checks_from_every_worker_add_up_in_one_view(running):
    before = scrape(running)
    n = 30
    for _ in range(n):
        assert check(running, "/health").status_code == 200
    # Each worker hands its tallies over within a second or so.
    after = wait_for(lambda: (s := scrape(running)) and value(s, "ostiary_checks_total", outcome="public")
                     - value(before, "ostiary_checks_total", outcome="public") >= n and s)
    assert value(after, "ostiary_checks_total", outcome="public") - value(before, "ostiary_checks_total", outcome="public") == n
    timed = value(after, "ostiary_check_duration_seconds_count") - value(before, "ostiary_check_duration_seconds_count")
    assert timed == n
    assert value(after, "ostiary_check_duration_seconds_bucket", le="+Inf") >= n
    assert 0 < value(after, "ostiary_check_duration_seconds_sum") - value(before, "ostiary_check_duration_seconds_sum")


def test_sign_ins_are_counted_by_method_and_result(running):
    before = scrape(running)
    assert sign_in(running, "bob@acme.test", "nope").status_code == 401
    after = wait_for(lambda: (s := scrape(running)) and value(s, "ostiary_sign_ins_total", method="password", result="failed")
                     > value(before, "ostiary_sign_ins_total", method="password", result="failed") and s)
    assert value(after, "ostiary_sign_ins_total", method="password", result="failed") \
        - value(before, "ostiary_sign_ins_total", method="password", result="failed") == 1


def test_installation_gauges(running):
    s = scrape(running)
    assert value(s, "ostiary_database_up") == 1
    assert value(s, "ostiary_domains", state="verified") == 1 and value(s, "ostiary_domains", state="disabled") == 0
    assert 0 <= value(s, "ostiary_snapshot_age_seconds") < 30
    assert value(s, "ostiary_workers_ready") == 2


def test_names_follow_prometheus_conventions(running):
    text = httpx.get(f"http://127.0.0.1:{running.metrics_port}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("ostiary_"):
            continue
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        assert "millis" not in family.name and "_ms" not in family.name, family.name


def test_the_portal_metrics_for_operators_show_the_same_sum(running):
    seen = []

    def public_checks():
        direct = httpx.get(f"http://127.0.0.1:{running.port}/metrics", headers={"Host": "acme.id.example.test"},
                           timeout=10)
        assert direct.status_code == 200
        seen.append(direct.text)
        totals = [s.value for f in text_string_to_metric_families(direct.text) for s in f.samples
                  if s.name == "ostiary_checks_total" and s.labels.get("outcome") == "public"]
        return totals and totals[0] >= 30

    try:
        wait_for(public_checks, timeout=5)
    except AssertionError:
        raise AssertionError(seen[-1]) from None


def test_the_listener_is_on_loopback_only(running):
    import socket

    with socket.socket() as s:
        s.settimeout(2)
        # Not on the server's public port: that answers the portal, and /metrics there only operators.
        assert s.connect_ex(("127.0.0.1", running.metrics_port)) == 0
