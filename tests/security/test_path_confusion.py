"""Path confusion against public paths and path-prefix apps: nothing an
attacker can write in the URL turns a private path into a public one or
moves a request from a guarded app to a more open one on the same host.
grafana's public paths are `/static/*` and `/health`; on tools.acme-corp.test
the app `tools-admin` (`/admin`, group admins) sits inside `tools` (everyone)."""

from __future__ import annotations

import pytest

from tests.security.conftest import check_headers

PORTAL = "auth.acme-corp.test"

NOT_PUBLIC = {
    "dot_dot_encoded_slash": "/static/..%2fadmin",
    "dot_dot_encoded_slash_upper": "/static/..%2Fadmin",
    "encoded_dots": "/static/%2e%2e/admin",
    "encoded_dots_upper": "/static/%2E%2E/admin",
    "double_encoded_dots": "/static/%252e%252e/admin",
    "double_encoded_slash": "/static/..%252fadmin",
    "plain_dot_dot": "/static/../admin",
    "dot_dot_twice": "/static/../../admin",
    "semicolon_parameter": "/static;/../admin",
    "semicolon_in_segment": "/health;x=1",
    "encoded_semicolon": "/health%3bx",
    "query_with_public_path": "/admin?/static/x.js",
    "query_parameter_with_public_path": "/admin?next=/health",
    "fragment_with_public_path": "/admin#/static/x",
    "encoded_question_mark": "/admin%3f/static/x",
    "backslash": "/static/..\\admin",
    "encoded_backslash": "/static/%5c../admin",
    "nul_byte": "/health%00",
    "encoded_newline": "/health%0a",
    "prefix_without_slash": "/staticx/app.js",
    "prefix_itself": "/static",
    "uppercase_prefix": "/STATIC/app.js",
    "public_as_suffix": "/admin/health",
    "overlong_utf8_dot": "/static/%c0%ae%c0%ae/admin",
    "encoded_slash_prefix": "/static%2f..%2fadmin",
}

# Issue 13.1: nginx forwards the raw request line, so a "#" (which no browser
# sends) reaches /check; an upstream that normalises the line serves what
# follows it. These were public (200) before a "#" left no path to judge.
FRAGMENT_ATTACKS = {
    "fragment_dot_dot_out_of_public_prefix": "/static/x#/../../admin/",
    "fragment_dot_dot_out_of_public_exact": "/health#/../admin",
    "fragment_encoded_dot_dot": "/static/x#/%2e%2e/%2e%2e/admin",
    "fragment_then_query": "/static/x#?/../../admin",
    "fragment_in_query": "/static/x?#/../../admin",
    "raw_space_in_path": "/static/x /../../admin",
    "raw_pipe_in_path": "/static/x|/../../admin",
    "raw_brackets_in_path": "/static/[x]",
    "raw_braces_in_path": "/static/{x}",
}


@pytest.mark.parametrize("uri", NOT_PUBLIC.values(), ids=NOT_PUBLIC.keys())
def test_path_confusion_never_makes_a_private_path_public(sec, uri):
    r = sec.client().get(sec.url(PORTAL, "/forward-auth/check"),
                         headers=check_headers(sec, "grafana.acme-corp.test", uri))
    assert r.status_code in (302, 403), (uri, r.status_code)


@pytest.mark.parametrize("uri", FRAGMENT_ATTACKS.values(), ids=FRAGMENT_ATTACKS.keys())
def test_a_fragment_in_the_forwarded_uri_never_makes_a_private_path_public(sec, uri):
    r = sec.client().get(sec.url(PORTAL, "/forward-auth/check"),
                         headers=check_headers(sec, "grafana.acme-corp.test", uri))
    assert r.status_code in (302, 403), (uri, r.status_code)


@pytest.mark.parametrize("host", ["grafana.acme-corp.test.:{port}", "grafana.acme-corp.test..:{port}",
                                  "grafana.acme-corp.test:{port}.", "grafana.acme-corp.test:{port}:{port}"],
                         ids=["trailing_dot", "two_trailing_dots", "dot_after_port", "double_port"])
def test_odd_host_spellings_get_no_public_path(sec, host):
    headers = check_headers(sec, "grafana.acme-corp.test", "/health")
    headers["X-Forwarded-Host"] = host.format(port=sec.port)
    r = sec.client().get(sec.url(PORTAL, "/forward-auth/check"), headers=headers)
    assert r.status_code == 403


def test_a_mixed_case_host_is_the_same_app_and_stays_guarded(sec):
    for uri, expected in (("/health", 200), ("/admin", 302)):
        headers = check_headers(sec, "grafana.acme-corp.test", uri)
        headers["X-Forwarded-Host"] = f"GRAFANA.Acme-Corp.TEST:{sec.port}"
        r = sec.client().get(sec.url(PORTAL, "/forward-auth/check"), headers=headers)
        assert r.status_code == expected
        if expected == 302:
            assert r.headers["location"].startswith(f"https://{PORTAL}:{sec.port}/forward-auth/start?rd=")


SPELLINGS_OF_ADMIN = {
    "plain": "/admin",
    "trailing_slash": "/admin/",
    "double_slash": "//admin/users",
    "dot_segment": "/./admin/users",
    "encoded_letter": "/%61dmin/users",
    "encoded_slash": "/admin%2fusers",
    "dot_dot_into": "/x/../admin/users",
    "semicolon": "/admin;x/users",
    "nul": "/admin%00/users",
    "double_encoded": "/%2561dmin/users",
    "fragment_dot_dot_into": "/x#/../admin/users",
    "fragment_encoded_dot_dot_into": "/x#/%2e%2e/admin/users",
    "fragment_in_query_dot_dot_into": "/x?#/../admin/users",
    "raw_space_dot_dot_into": "/x /../admin/users",
}


@pytest.mark.parametrize("uri", SPELLINGS_OF_ADMIN.values(), ids=SPELLINGS_OF_ADMIN.keys())
def test_path_confusion_cannot_move_a_request_out_of_a_guarded_path_prefix_app(sec, alice_cookie, uri):
    """alice may enter tools but not tools-admin: no spelling of /admin lets her in."""
    r = sec.client().get(sec.url(PORTAL, "/forward-auth/check"),
                         headers=check_headers(sec, "tools.acme-corp.test", uri, Cookie=f"_ostiary_fa={alice_cookie}"))
    assert r.status_code == 403, (uri, r.status_code)


@pytest.mark.parametrize("uri", ["/x#/../admin/users", "/#/admin/users", "/x?q=#/../admin", "/x|y", "/[x]"],
                         ids=["fragment_dot_dot", "fragment_at_root", "fragment_in_query", "pipe", "brackets"])
def test_a_fragment_in_the_forwarded_uri_never_picks_a_path_prefix_app(sec, alice_cookie, uri):
    """Before the fix, `/x#/../admin/users` was decided as `/x` (tools, alice may enter: 200) while an
    upstream that normalises the line serves tools-admin's `/admin/users`. Such a URI matches no app of a
    host that has several."""
    r = sec.client().get(sec.url(PORTAL, "/forward-auth/check"),
                         headers=check_headers(sec, "tools.acme-corp.test", uri, Cookie=f"_ostiary_fa={alice_cookie}"))
    assert r.status_code == 403, (uri, r.status_code)
