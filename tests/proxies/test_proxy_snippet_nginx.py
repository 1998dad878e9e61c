"""The nginx snippet: both parts pass nginx -t and say exactly what they should."""

from __future__ import annotations

import re

import pytest

from ostiary import wire
from ostiary.proxies import render_snippet
from ostiary.proxies.nginx import HTTP_PART_MARKER, SERVER_PART_MARKER, render_parts
from tests.proxies.variants import facts_variants
from tests.support.proxies import nginx_test


@pytest.fixture(scope="module")
def variants(test_tls):
    return facts_variants(str(test_tls.cert_chain), str(test_tls.private_key))


VARIANT_NAMES = sorted(facts_variants("/c", "/k"))


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_nginx_snippet_both_parts_pass_nginx_t(nginx_binary, variants, variant):
    done = nginx_test(render_snippet(variants[variant], "nginx"))
    assert done.returncode == 0, done.stderr[-4000:]


def test_two_apps_snippets_coexist_in_one_nginx(nginx_binary, variants):
    text = "\n".join(render_snippet(variants[name], "nginx") for name in VARIANT_NAMES)
    done = nginx_test(text)
    assert done.returncode == 0, done.stderr[-4000:]


def test_nginx_snippet_is_its_http_part_then_its_server_part(variants):
    facts = variants["all-headers-internal-http"]
    parts = render_parts(facts)
    text = render_snippet(facts, "nginx")
    assert text.index(HTTP_PART_MARKER) < text.index(SERVER_PART_MARKER)
    assert "map " in parts.http_part and "upstream " in parts.http_part
    assert "server {" in parts.server_part and "map " not in parts.server_part


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_nginx_snippet_passes_exactly_the_enabled_identity_headers(variants, variant):
    facts = variants[variant]
    text = render_snippet(facts, "nginx")
    captured = re.findall(r"auth_request_set \$\w+ \$upstream_http_(x_forwarded_\w+);", text)
    assert captured == [h.lower().replace("-", "_") for h in facts.header_names]
    passed = re.findall(r"proxy_set_header (X-Forwarded-(?:User|Email|Groups|Display-Name)) \$", text)
    assert passed == list(facts.header_names)
    cleared = re.findall(r'proxy_set_header (X-Forwarded-\S+) "";', text)
    assert sorted(cleared) == sorted(facts.disabled_header_names)


def test_nginx_check_location_asks_for_401_answers_with_the_portal_host(variants):
    facts = variants["prefix-port-some-headers"]
    text = render_snippet(facts, "nginx")
    assert f"{wire.CHECK_PATH}?not-signed-in=401;" in text
    assert "proxy_set_header Host auth.homelab.test:8443;" in text
    assert "proxy_set_header X-Forwarded-Host $host:8443;" in text
    assert "error_page 401 = @ostiary_console_admin_not_signed_in;" in text
    assert "\t\tif ($ostiary_navigation) {\n\t\t\treturn 302 $ostiary_location;\n\t\t}" in text
    assert "location ~ ^/console(/|$) {" in text
    assert "server [::1]:9090;" in text


def test_nginx_asks_the_auth_subrequest_as_head_and_the_refusal_page_as_get(variants):
    """nginx drops a kept-alive connection whose answer body it did not read; the subrequest reads
    none, so it asks with HEAD. The refused location relays the page, so it asks with GET."""
    text = render_snippet(variants["prefix-port-some-headers"], "nginx")
    check = text.split("location = /_ostiary_check {", 1)[1].split("\n\t}", 1)[0]
    refused = text.split("location @ostiary_console_admin_refused {", 1)[1].split("\n\t}", 1)[0]
    assert "\t\tproxy_method HEAD;" in check
    assert "proxy_method" not in refused
    assert text.count("proxy_method") == 1


def test_nginx_check_over_https_verifies_the_portal_name(variants):
    text = render_snippet(variants["https-ostiary-by-other-name"], "nginx")
    assert "proxy_pass https://ostiary_chat_upstream/forward-auth/check?not-signed-in=401;" in text
    assert "proxy_ssl_name auth.acme-corp.test;" in text
    assert "proxy_ssl_verify on;" in text
