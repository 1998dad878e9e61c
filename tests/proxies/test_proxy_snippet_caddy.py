"""The Caddy snippet: valid on Caddy 2.6.2 and 2.11.x, and it means what it says."""

from __future__ import annotations

import re

import pytest

from ostiary import wire
from ostiary.proxies.aliases import ALIAS_SEPARATORS
from ostiary.proxies import AppFacts, render_snippet
from tests.proxies.matrix import PORTAL_URL
from tests.proxies.variants import facts_variants
from tests.support.proxies import caddy_adapt, caddy_validate

VARIANTS = facts_variants("/nonexistent/cert.pem", "/nonexistent/key.pem")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_caddy_snippet_passes_caddy_validate(caddy_binary, variant):
    done = caddy_validate(caddy_binary, render_snippet(VARIANTS[variant], "caddy"))
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_caddy_snippet_copies_exactly_the_enabled_identity_headers(variant):
    facts = VARIANTS[variant]
    text = render_snippet(facts, "caddy")
    copied = re.findall(r"^\s*copy_headers (.+)$", text, re.M)
    assert copied == ([" ".join(facts.header_names)] if facts.header_names else [])


def _route_handlers(config: dict) -> list[dict]:
    site = config["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["routes"]
    # the route block is a subroute of its own
    (route,) = [r for r in site if r["handle"][0]["handler"] == "subroute"]
    return [handler for r in route["handle"][0]["routes"] for handler in r["handle"]]


def test_caddy_deletes_client_identity_headers_before_asking_and_copies_after(caddy_binary):
    facts = VARIANTS["all-headers-internal-http"]
    handlers = _route_handlers(caddy_adapt(caddy_binary, render_snippet(facts, "caddy")))
    kinds = [h["handler"] for h in handlers]
    deletes = 4 + len(ALIAS_SEPARATORS)
    assert kinds == ["headers"] * deletes + ["reverse_proxy", "reverse_proxy"], kinds
    deleted = [name for h in handlers[:deletes] for name in h["request"]["delete"]]
    assert sorted(deleted) == sorted([*wire.IDENTITY_HEADERS.values(), *(f"*{c}*" for c in ALIAS_SEPARATORS)])
    check, upstream = handlers[deletes], handlers[deletes + 1]
    assert check["rewrite"]["uri"] == wire.CHECK_PATH
    assert check["upstreams"] == [{"dial": "127.0.0.1:9090"}]
    assert check["headers"]["request"]["set"]["Host"] == ["auth.acme-corp.test"]
    assert upstream["headers"]["request"]["replace"]["Cookie"][0]["search_regexp"].endswith("_ostiary_fa=[^;]*()")


def test_caddy_snippet_for_prefixed_app_matches_only_its_path(caddy_binary):
    facts = VARIANTS["prefix-port-some-headers"]
    config = caddy_adapt(caddy_binary, render_snippet(facts, "caddy"))
    server = next(iter(config["apps"]["http"]["servers"].values()))
    assert server["listen"] == [":8443"]
    text = repr(config)
    assert "'path': ['/console', '/console/*']" in text
    assert "'host': ['tools.homelab.test']" in text


def test_caddy_snippet_reaches_portal_by_name_when_no_internal_address():
    facts = AppFacts.for_app("Grafana", "https://grafana.acme-corp.test", PORTAL_URL)
    text = render_snippet(facts, "caddy")
    assert "forward_auth https://auth.acme-corp.test:443 {" in text
    assert "header_up Host auth.acme-corp.test\n" in text


def test_caddy_checks_ostiary_certificate_against_portal_name_when_dialling_another(caddy_binary):
    facts = VARIANTS["https-ostiary-by-other-name"]
    handlers = _route_handlers(caddy_adapt(caddy_binary, render_snippet(facts, "caddy")))
    check = handlers[4 + len(ALIAS_SEPARATORS)]
    assert check["transport"]["tls"]["server_name"] == "auth.acme-corp.test"
    assert check["upstreams"] == [{"dial": "localhost:9443"}]
