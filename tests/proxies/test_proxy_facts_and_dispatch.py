"""AppFacts refuses what would break a config; render_snippet knows its proxies."""

from __future__ import annotations

import pytest

from ostiary import wire
from ostiary.proxies import PROXIES, AppFacts, render_snippet
from tests.proxies.matrix import PORTAL_URL


def _facts(**overrides) -> AppFacts:
    values = dict(app_name="Grafana", host="grafana.acme-corp.test", portal_url=PORTAL_URL)
    values.update(overrides)
    return AppFacts(**values)


def test_render_snippet_refuses_unknown_proxy_naming_the_choices():
    with pytest.raises(ValueError, match="unknown proxy \"envoy\": choose one of caddy, nginx, traefik, traefik-labels, haproxy"):
        render_snippet(_facts(), "envoy")


def test_the_registry_says_how_each_kind_wants_not_signed_in_answered():
    from ostiary.proxies import NotSignedIn, proxy_kind
    from ostiary.proxies.registry import status_401_queries

    assert proxy_kind("nginx").not_signed_in is NotSignedIn.STATUS_401
    assert {k: proxy_kind(k).not_signed_in for k in ("caddy", "traefik", "haproxy")} == dict.fromkeys(
        ("caddy", "traefik", "haproxy"), NotSignedIn.REDIRECT)
    # Snippets pasted before the parameter existed ask with ?proxy=nginx: still 401.
    assert status_401_queries() == {b"not-signed-in=401", b"proxy=nginx"}
    # the gate reads wire's copy (it never imports the renderers): the two agree
    from ostiary.wire import STATUS_401_QUERIES
    assert STATUS_401_QUERIES == status_401_queries()


@pytest.mark.parametrize("proxy", PROXIES)
def test_render_snippet_gives_the_same_text_every_time(proxy):
    assert render_snippet(_facts(), proxy) == render_snippet(_facts(), proxy)


def test_facts_from_url_split_scheme_host_port_and_prefix():
    facts = AppFacts.for_app("Console", "https://Tools.Homelab.test:8443/console/", "https://auth.homelab.test")
    assert (facts.scheme, facts.host, facts.port, facts.path_prefix) == ("https", "tools.homelab.test", 8443, "/console")
    assert facts.external_url == "https://tools.homelab.test:8443/console"


def test_facts_drop_the_default_port():
    assert AppFacts.for_app("A", "https://a.acme-corp.test:443", PORTAL_URL).port is None


def test_facts_default_to_all_four_identity_headers_in_wire_order():
    assert _facts().header_names == tuple(wire.IDENTITY_HEADERS.values())
    assert _facts(identity_headers=("display_name", "user")).header_names == ("X-Forwarded-User", "X-Forwarded-Display-Name")


def test_facts_check_subrequest_goes_to_internal_address_with_portal_host():
    facts = _facts(ostiary_address="http://127.0.0.1:9000", portal_url="https://auth.acme-corp.test:8443")
    assert facts.check_url == "http://127.0.0.1:9000/forward-auth/check"
    assert facts.portal_host == "auth.acme-corp.test:8443"
    assert facts.portal_check_url == "https://auth.acme-corp.test:8443/forward-auth/check"
    assert not facts.reaches_portal_by_name
    assert _facts().reaches_portal_by_name


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"identity_headers": ("user", "phone")}, "identity headers"),
        ({"host": "evil.test; rm"}, "not a valid DNS name"),
        ({"path_prefix": "/a b"}, "path prefix"),
        ({"path_prefix": "/a/../b"}, "must not contain"),
        ({"portal_url": "https://auth.acme-corp.test/x"}, "nothing after it"),
        ({"portal_url": "https://10.0.0.1"}, "not an IP address"),
        ({"upstream": "ftp://x:1"}, "http:// or https://"),
        ({"app_name": "a\nb"}, "control characters"),
        ({"forward_auth_cookie": "a;b"}, "cookie name"),
        ({"tls_certificate": "/etc/x y.pem"}, "absolute path"),
        ({"port": 70000}, "between 1 and 65535"),
    ],
)
def test_facts_refuse_values_that_could_break_a_config(overrides, message):
    with pytest.raises(ValueError, match=message):
        _facts(**overrides)


def test_proxy_docs_show_the_snippets_ostiary_generates_today():
    from pathlib import Path

    from tests.proxies.docs_sample import docs_snippets

    docs = Path(__file__).resolve().parents[2] / "docs" / "proxies"
    for page, texts in docs_snippets().items():
        content = (docs / page).read_text()
        for name, text in texts.items():
            assert text in content, f"docs/proxies/{page} shows an outdated {name} snippet: regenerate it"
