"""Fault: **Verify now** on the admin page during a DNS outage took a verified
domain offline. The page now says it learned nothing, and nothing changes
(issue 14 item 9, docs/domains.md)."""

from __future__ import annotations

import html

from ostiary.services.rules import domains
from ostiary.wire import CSRF_COOKIE
from tests.admin.conftest import ADMIN, PASSWORD, TENANT_HOST
from tests.support.server import loopback_client


def test_verify_now_during_a_dns_outage_changes_nothing_and_says_so(api_world):
    w = api_world
    origin = f"https://{TENANT_HOST}:{w.port}"
    same_origin = {"Origin": origin, "Sec-Fetch-Site": "same-origin"}
    with loopback_client(w.ca) as browser:
        browser.get(origin + "/sign-in")
        signed_in = browser.post(origin + "/sign-in", headers=same_origin, data={
            "login": ADMIN, "password": PASSWORD, "next": "/admin", "csrf": browser.cookies.get(CSRF_COOKIE)})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin"
        before = domains.get_domain(w.store, w.tenant_id, "acme-corp.test")
        assert before.status == "verified"
        w.dns.stop()  # nothing answers on the resolver's port: the query times out
        try:
            r = browser.post(origin + "/admin/domains/acme-corp.test/verify", headers=same_origin,
                             data={"csrf": browser.cookies.get(CSRF_COOKIE)})
        finally:
            w.dns.start()
        assert r.status_code == 303 and r.headers["location"] == "/admin/domains/acme-corp.test"
        notice = html.unescape(browser.get(origin + r.headers["location"]).text.split('class="notice"')[1].split("</p>")[0])
    assert "Learned nothing, nothing changed" in notice
    assert "still verified" in notice
    after = domains.get_domain(w.store, w.tenant_id, "acme-corp.test")
    assert (after.status, after.status_reason, after.last_checked_at) == (
        "verified", before.status_reason, before.last_checked_at)
