"""Forged subrequest headers against /forward-auth/check: the forwarded
headers a client might smuggle through a careless proxy, identity headers
the client sends itself, and their underscore twins. Every case ends in a
refusal or a safe answer, never a 2xx it should not be, never a 5xx."""

from __future__ import annotations

import pytest

from tests.security.conftest import check_headers

PORTAL = "auth.acme-corp.test"
IDENTITY = ("x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-forwarded-display-name")


def _check(sec, headers, query=""):
    client = sec.client()
    r = client.get(sec.url(PORTAL, "/forward-auth/check" + query), headers=headers)
    assert r.status_code < 500, r.status_code
    return r


def _assert_start_location(sec, r):
    target = r.headers.get("location") or r.headers.get("x-ostiary-location")
    assert target.startswith(f"https://{PORTAL}:{sec.port}/forward-auth/start?rd="), target


FORGED_HOSTS = {
    "another_tenants_app": "app.globex.test:{port}",
    "another_domain_of_the_same_tenant": "nas.homelab.test:{port}",
    "the_portal_host_itself": "auth.acme-corp.test:{port}",
    "an_unknown_host": "evil.test",
    "a_list_of_hosts": "grafana.acme-corp.test:{port}, evil.test",
    "userinfo_in_the_host": "evil@grafana.acme-corp.test:{port}",
    "a_trailing_dot": "grafana.acme-corp.test.:{port}",
    "a_wrong_port": "grafana.acme-corp.test:1",
    "a_host_with_a_path": "grafana.acme-corp.test:{port}/health",
    "an_empty_host": "",
    "an_ip_address": "127.0.0.1:{port}",
    "a_suffix_trick": "grafana.acme-corp.test.evil.test:{port}",
}


@pytest.mark.parametrize("forged", FORGED_HOSTS.values(), ids=FORGED_HOSTS.keys())
def test_forged_x_forwarded_host_is_refused(sec, alice_cookie, forged):
    headers = check_headers(sec, "grafana.acme-corp.test", "/health", Cookie=f"_ostiary_fa={alice_cookie}")
    headers["X-Forwarded-Host"] = forged.format(port=sec.port)
    assert _check(sec, headers).status_code == 403


def test_duplicated_x_forwarded_host_is_refused(sec, alice_cookie):
    headers = list(check_headers(sec, "grafana.acme-corp.test", "/health").items())
    headers.append(("X-Forwarded-Host", "evil.test"))
    assert _check(sec, headers).status_code == 403


FORGED_URIS = {
    "absolute_url": "https://evil.test/",
    "scheme_relative": "//evil.test/x",
    "no_leading_slash": "health",
    "empty": "",
    "crlf_encoded": "/x%0d%0aLocation:%20https://evil.test",
    "backslashes": "/\\evil.test",
}


@pytest.mark.parametrize("uri", FORGED_URIS.values(), ids=FORGED_URIS.keys())
def test_forged_x_forwarded_uri_never_redirects_off_the_portal(sec, uri):
    r = _check(sec, check_headers(sec, "grafana.acme-corp.test", uri))
    assert r.status_code in (302, 403)
    if r.status_code == 302:
        _assert_start_location(sec, r)
        assert "\r" not in r.headers["location"] and "\n" not in r.headers["location"]


@pytest.mark.parametrize("proto", ["http", "HTTP", "ftp", "https, http", "", "https;"])
def test_forged_x_forwarded_proto_is_refused(sec, alice_cookie, proto):
    headers = check_headers(sec, "grafana.acme-corp.test", "/", Cookie=f"_ostiary_fa={alice_cookie}")
    headers["X-Forwarded-Proto"] = proto
    assert _check(sec, headers).status_code == 403


@pytest.mark.parametrize("method", ["POST", "DELETE", "get", "GET, POST", "", "CONNECT", "TRACE"])
def test_forged_x_forwarded_method_never_opens_a_private_path(sec, method):
    headers = check_headers(sec, "grafana.acme-corp.test", "/admin")
    headers["X-Forwarded-Method"] = method
    r = _check(sec, headers)
    assert r.status_code in (302, 401)
    _assert_start_location(sec, r)


def test_x_original_url_cannot_override_x_forwarded_headers(sec):
    headers = check_headers(sec, "grafana.acme-corp.test", "/admin")
    headers["X-Original-URL"] = sec.url("grafana.acme-corp.test", "/health")
    assert _check(sec, headers).status_code == 302


@pytest.mark.parametrize("original", [
    "https://app.globex.test:{port}/",
    "https://evil@grafana.acme-corp.test:{port}/health",
    "https://grafana.acme-corp.test.:{port}/health",
    "http://grafana.acme-corp.test:{port}/health",
    "//grafana.acme-corp.test:{port}/health",
    "https://grafana.acme-corp.test:{port}/static/../admin",
    "https://grafana.acme-corp.test:{port}",
], ids=["other_tenant", "userinfo", "trailing_dot", "plain_http", "no_scheme", "dot_dot", "no_path"])
def test_forged_x_original_url_alone_is_refused_or_not_public(sec, original):
    headers = {"X-Original-URL": original.format(port=sec.port), "X-Forwarded-Method": "GET", "Accept": "text/html"}
    assert _check(sec, headers).status_code in (302, 401, 403)


def test_x_original_url_for_nginx_works_for_a_real_public_path(sec):
    headers = {"X-Original-URL": sec.url("grafana.acme-corp.test", "/health"), "X-Forwarded-Method": "GET"}
    assert _check(sec, headers, "?proxy=nginx").status_code == 200


def test_identity_headers_sent_by_the_client_are_ignored_without_a_cookie(sec):
    spoof = {"X-Forwarded-User": "admin", "X-Forwarded-Email": "admin@acme.test",
             "X-Forwarded-Groups": "admins", "X-Forwarded-Display-Name": "Admin", "Remote-User": "admin"}
    r = _check(sec, check_headers(sec, "tools.acme-corp.test", "/", **spoof))
    assert r.status_code == 302
    r = _check(sec, check_headers(sec, "grafana.acme-corp.test", "/health", **spoof))
    assert r.status_code == 200
    for name in IDENTITY:
        assert r.headers.get_list(name) == [""], name


def test_identity_headers_sent_by_the_client_never_replace_the_real_identity(sec, alice_cookie):
    spoof = {"X-Forwarded-User": "admin", "X-Forwarded-Groups": "admins"}
    r = _check(sec, check_headers(sec, "tools.acme-corp.test", "/", Cookie=f"_ostiary_fa={alice_cookie}", **spoof))
    assert r.status_code == 200
    assert r.headers.get_list("x-forwarded-user") == ["alice"]
    assert r.headers.get_list("x-forwarded-groups") == ["ops,staff"]
    # The groups the client claims do not open an app granted to them.
    r = _check(sec, check_headers(sec, "tools.acme-corp.test", "/admin/x", Cookie=f"_ostiary_fa={alice_cookie}",
                                  **spoof))
    assert r.status_code == 403


def test_underscore_variants_of_forwarded_headers_are_not_read(sec):
    headers = {"X_Forwarded_Proto": "https", "X_Forwarded_Host": f"grafana.acme-corp.test:{sec.port}",
               "X_Forwarded_Uri": "/health", "X-Forwarded-Method": "GET"}
    assert _check(sec, headers).status_code == 403
    headers = check_headers(sec, "grafana.acme-corp.test", "/admin", X_Forwarded_Uri="/health",
                            X_Original_URL=sec.url("grafana.acme-corp.test", "/health"))
    assert _check(sec, headers).status_code == 302


def test_underscore_variants_of_identity_headers_are_not_echoed(sec):
    r = _check(sec, check_headers(sec, "grafana.acme-corp.test", "/health", X_Forwarded_User="admin",
                                  X_Forwarded_Groups="admins"))
    assert r.status_code == 200
    assert "x_forwarded_user" not in r.headers and "x_forwarded_groups" not in r.headers
    assert r.headers["x-forwarded-user"] == ""


def test_an_oversized_forwarded_header_fails_closed(sec):
    headers = check_headers(sec, "grafana.acme-corp.test", "/health" + "a" * 17000)
    assert _check(sec, headers).status_code in (403, 431, 400)
