"""The `rd` open-redirect corpus against /forward-auth/start and the portal
sign-out: every case gets an explaining 400 page (start) or the sign-out
page without it (sign-out), never a redirect, never a 5xx."""

from __future__ import annotations

from urllib.parse import quote

import pytest

PORTAL = "auth.acme-corp.test"
G = "grafana.acme-corp.test:{port}"

CORPUS = {
    "other_host": "https://evil.test/",
    "scheme_relative": "//evil.test/",
    "triple_slash": "///evil.test/",
    "scheme_without_slashes": "https:evil.test",
    "scheme_one_slash": "https:/evil.test/",
    "plain_http_in_production": "http://" + G + "/",
    "javascript": "javascript:alert(1)",
    "data_url": "data:text/html,<script>alert(1)</script>",
    "userinfo_before_evil": "https://" + G + "@evil.test/",
    "userinfo_before_app": "https://evil.test@" + G + "/",
    "port_then_evil_suffix": "https://" + G + ".evil.test/",
    "app_as_subdomain_of_evil": "https://grafana.acme-corp.test.evil.test:{port}/",
    "app_in_evil_path": "https://evil.test/" + G,
    "backslash_userinfo": "https://evil.test\\@" + G + "/",
    "backslash_after_host": "https://" + G + "\\@evil.test/",
    "backslash_scheme": "https:\\\\evil.test",
    "slash_backslash": "/\\evil.test",
    "double_backslash": "\\\\evil.test",
    "encoded_dot_in_host": "https://grafana.acme-corp.test%2eevil.test/",
    "mixed_case_host": "https://GRAFANA.acme-corp.test:{port}/",
    "trailing_dot_host": "https://grafana.acme-corp.test.:{port}/",
    "encoded_at_in_port": "https://" + G + "%40evil.test/",
    "fragment_userinfo": "https://evil.test#@" + G + "/",
    "cyrillic_a": "https://gr\u0430fana.acme-corp.test:{port}/",
    "ideographic_full_stop": "https://grafana.acme-corp.test\u3002evil.test/",
    "fullwidth_letters": "https://\uff47rafana.acme-corp.test:{port}/",
    "right_to_left_override": "https://\u202eevil.test/",
    "punycode_lookalike": "https://xn--grfana-4ua.acme-corp.test:{port}/",
    "wrong_port": "https://grafana.acme-corp.test:1/",
    "double_port": "https://" + G + ":{port}/",
    "other_tenant_app": "https://app.globex.test:{port}/",
    "same_tenant_other_domain": "https://nas.homelab.test:{port}/",
    "the_portal_host": "https://auth.acme-corp.test:{port}/",
    "the_bare_domain": "https://acme-corp.test:{port}/",
    "ipv6_literal": "https://[::1]:{port}/",
    "ipv4_literal": "https://127.0.0.1:{port}/",
    "decimal_ip": "https://2130706433/",
    "crlf_injection": "https://" + G + "/\r\nLocation: https://evil.test/",
    "tab_in_url": "https://" + G + "/\t",
    "space_in_host": "https://evil.test /",
    "nul_byte": "https://" + G + "/\x00",
    "empty": "",
    "too_long": "https://" + G + "/" + "a" * 5000,
    "evil_with_app_in_query": "https://evil.test/?https://" + G + "/",
    "ftp_scheme": "ftp://" + G + "/",
    "uppercase_scheme": "HTTPS://" + G + "/",
    "userinfo_other_app": "https://wiki.acme-corp.test:{port}@evil.test/",
    "percent_encoded_host": "https://%65vil.test/",
    "encoded_slash_userinfo": "https://" + G + "%2f@evil.test/",
    "unicode_division_slash": "https://evil.test\u2215" + G,
    "unknown_subdomain": "https://unknown.acme-corp.test:{port}/",
    "relative_path": "/d/x",
}


@pytest.mark.parametrize("rd", CORPUS.values(), ids=CORPUS.keys())
def test_start_refuses_rd_with_an_explaining_page(sec, rd):
    rd = rd.format(port=sec.port)
    r = sec.client().get(sec.url(PORTAL, "/forward-auth/start?rd=" + quote(rd, safe="")))
    assert r.status_code == 400, (rd, r.status_code, r.headers.get("location"))
    assert "location" not in r.headers
    assert "This sign-in link is not valid" in r.text
    assert not any("state" in c for c in r.headers.get_list("set-cookie"))


@pytest.mark.parametrize("rd", CORPUS.values(), ids=CORPUS.keys())
def test_portal_sign_out_never_redirects_to_a_refused_rd(sec, rd):
    rd = rd.format(port=sec.port)
    r = sec.client().get(sec.url(PORTAL, "/forward-auth/sign-out?rd=" + quote(rd, safe="")))
    assert r.status_code == 200, (rd, r.status_code)
    assert "location" not in r.headers
    # The sign-out page's button never carries a refused rd (its POST: test_sign_out_cross_site.py).
    assert 'name="rd" value=""' in r.text


def test_start_without_rd_explains(sec):
    r = sec.client().get(sec.url(PORTAL, "/forward-auth/start"))
    assert r.status_code == 400 and "missing" in r.text


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 40


def test_a_good_rd_is_still_accepted(sec):
    rd = quote(sec.url("grafana.acme-corp.test", "/d/x?y=1"), safe="")
    assert sec.client().get(sec.url(PORTAL, "/forward-auth/start?rd=" + rd)).status_code == 302
