"""Issue 13.8: what only the operator should see does not answer the public.

`/metrics` (every tenant's activity), the details of `/readyz` and Caddy's
on-demand TLS `ask` (`/caddy/check-domain`, which told tenant and portal
hosts apart from unknown names) answered any request on any host. They now
answer only requests straight from loopback, the trusted proxies or
OSTIARY_OPERATOR_NETWORKS that no proxy forwarded (the public proxy always
adds X-Forwarded-For; docs/operations.md "Operator endpoints").
`/forward-auth/start` answered 404 "Unknown host" on a host that is no portal
and 400 on a portal host: a refused rd now gets the same answer on both."""

from __future__ import annotations

import pytest

from ostiary.config import parse_networks
from ostiary.gate.operators import asks_directly, operator_networks
from tests.security.conftest import ACME

PORTAL = "auth.acme-corp.test"
THROUGH_THE_PUBLIC_PROXY = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def test_metrics_do_not_answer_a_request_through_the_public_proxy(sec):
    client = sec.client()
    for host in (ACME, PORTAL, "anything.acme-corp.test"):
        r = client.get(sec.url(host, "/metrics"), headers=THROUGH_THE_PUBLIC_PROXY)
        missing = client.get(sec.url(host, "/no-such-page"), headers=THROUGH_THE_PUBLIC_PROXY)
        assert r.status_code == missing.status_code == 404, host
        assert r.text == missing.text.replace("/no-such-page", "/metrics"), host  # the same page, path aside
        assert "ostiary_checks_total" not in r.text


def test_metrics_answer_the_operator_straight_from_loopback(sec):
    r = sec.client().get(sec.url(ACME, "/metrics"))
    assert r.status_code == 200 and "ostiary_checks_total" in r.text


def test_readiness_details_do_not_answer_a_request_through_the_public_proxy(sec):
    client = sec.client()
    public = client.get(sec.url(ACME, "/readyz"), headers=THROUGH_THE_PUBLIC_PROXY)
    assert public.status_code == 200 and public.json() == {"status": "ready"}
    operator = client.get(sec.url(ACME, "/readyz")).json()
    assert operator["status"] == "ready" and operator["snapshot_loaded"] is True and "database_reachable" in operator


def test_healthz_says_only_ok(sec):
    r = sec.client().get(sec.url("anything.acme-corp.test", "/healthz"), headers=THROUGH_THE_PUBLIC_PROXY)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.parametrize("name", [PORTAL, ACME, "auth.globex.test"])
def test_check_domain_cannot_list_hosts_through_the_public_proxy(sec, name):
    client = sec.client()
    asked_by_the_public = client.get(sec.url(PORTAL, f"/caddy/check-domain?domain={name}"),
                                     headers=THROUGH_THE_PUBLIC_PROXY)
    unknown = client.get(sec.url(PORTAL, "/caddy/check-domain?domain=nothing.acme-corp.test"))
    asked_by_the_proxy = client.get(sec.url(PORTAL, f"/caddy/check-domain?domain={name}"))
    assert asked_by_the_public.status_code == unknown.status_code == 404
    assert asked_by_the_public.text == unknown.text
    assert asked_by_the_proxy.status_code == 200  # Caddy's own ask, straight from loopback


@pytest.mark.parametrize("rd", ["https://nothing.homelab.test/", "https://grafana.acme-corp.test:{port}/",
                                "http://grafana.acme-corp.test:{port}/", ""],
                         ids=["unknown_app", "known_app", "known_app_over_http", "missing"])
def test_start_answers_a_refused_rd_alike_on_a_portal_host_and_on_any_other_host(sec, rd):
    """On a portal host of another tenant's domain, grafana's rd is refused; on a host that is no
    portal every rd is. Both answers are the same page, but for the host name each one names."""
    client = sec.client()
    query = f"?rd={rd.format(port=sec.port)}" if rd else ""
    answers = {}
    for host in ("auth.globex.test", "nothing.acme-corp.test"):
        r = client.get(sec.url(host, "/forward-auth/start" + query))
        answers[host] = (r.status_code, r.text.replace(host, "HOST"), sorted(r.headers.keys()))
    assert answers["auth.globex.test"] == answers["nothing.acme-corp.test"]
    assert answers["nothing.acme-corp.test"][0] == 400


@pytest.mark.parametrize("peer, headers, trusted, expected", [
    ("127.0.0.1", [], "", True),
    ("::1", [], "", True),
    ("::ffff:127.0.0.1", [], "", True),
    ("10.0.0.7", [], "10.0.0.0/8", True),
    ("10.0.0.7", [], "", False),
    ("192.0.2.5", [], "10.0.0.0/8", False),
    ("127.0.0.1", [(b"x-forwarded-for", b"203.0.113.9")], "", False),
    ("127.0.0.1", [(b"forwarded", b"for=203.0.113.9")], "", False),
    ("127.0.0.1", [(b"x-real-ip", b"203.0.113.9")], "", False),
    ("not-an-address", [], "", False),
], ids=["loopback", "loopback6", "mapped_loopback", "trusted_proxy", "untrusted_private", "untrusted_public",
        "forwarded_by_a_proxy_on_loopback", "forwarded_header", "real_ip_header", "unix_socket_name"])
def test_only_a_direct_request_from_a_trusted_peer_is_the_operators(peer, headers, trusted, expected):
    scope = {"client": (peer, 40000), "headers": headers}
    networks = operator_networks(parse_networks(trusted))
    assert asks_directly(scope, networks) is expected
    assert asks_directly({"client": None, "headers": []}, networks) is False
