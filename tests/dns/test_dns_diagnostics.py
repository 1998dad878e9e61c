import time
from datetime import datetime, timezone

import pytest

from ostiary.dns import sign_in_checks as doctor

from tests.dns.dns_cases import TOKENS


def assert_broken(finding, severity, *words):
    assert not finding.ok
    assert finding.severity == severity
    assert finding.fix
    for word in words:
        assert word in finding.message + " " + finding.fix


# -- portal host under the domain ----------------------------------------------------------


def test_portal_host_under_domain_is_healthy():
    finding = doctor.check_portal_host_under_domain("login.acme-corp.test", "acme-corp.test")
    assert finding.ok and finding.severity == "ok" and not finding.breaks_sign_in


def test_portal_host_outside_domain_breaks_sign_in_and_says_which_suffix_to_use():
    finding = doctor.check_portal_host_under_domain("login.other.test", "acme-corp.test")
    assert_broken(finding, "error", 'portal host "login.other.test" is not under "acme-corp.test"', '".acme-corp.test"')
    assert finding.breaks_sign_in


# -- verification state ----------------------------------------------------------------------


def test_verified_domain_is_healthy_and_says_when():
    at = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    finding = doctor.check_domain_verified("acme-corp.test", "verified", at)
    assert finding.ok and "verified on 2026-03-01T09:30:00+00:00" in finding.message


def test_verified_time_may_be_epoch_seconds_as_the_store_keeps_it():
    at = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc).timestamp()
    assert "verified on 2026-03-01T09:30:00+00:00" in doctor.check_domain_verified("acme-corp.test", "verified", at).message


@pytest.mark.parametrize("state, severity", [("pending", "error"), ("failed", "error"), ("disabled", "error"), ("flagged", "warning")])
def test_unverified_domain_is_reported_with_the_verify_command(state, severity):
    finding = doctor.check_domain_verified("acme-corp.test", state, None, reason="NXDOMAIN")
    assert_broken(finding, severity, state, "NXDOMAIN", "ostiary domain verify acme-corp.test")


# -- host resolution -------------------------------------------------------------------------


def test_resolve_host_returns_ipv4_and_ipv6_addresses(resolvers):
    resolution = doctor.resolve_host("portal.acme-corp.test", resolvers, timeout=2)
    assert set(resolution.addresses) == {"127.0.0.10", "fd00::10"}
    assert resolution.problem == ""


def test_host_that_resolves_is_healthy(resolvers):
    finding = doctor.check_host_resolves("app.acme-corp.test", resolvers, 2, role="app host")
    assert finding.ok and finding.check == "app-host-resolves"
    assert "127.0.0.11" in finding.message


def test_host_that_does_not_exist_breaks_sign_in_with_nxdomain(resolvers):
    finding = doctor.check_host_resolves("missing.acme-corp.test", resolvers, 2, role="portal host")
    assert_broken(finding, "error", 'portal host "missing.acme-corp.test" does not resolve', "NXDOMAIN", "add an A or AAAA record")


def test_name_with_no_address_records_is_reported_as_such(resolvers):
    resolution = doctor.resolve_host("_ostiary-challenge.acme-corp.test", resolvers, 2)
    assert resolution.addresses == ()
    assert "has no A or AAAA record" in resolution.problem


def test_unreachable_resolver_is_named_and_waited_for_only_once(silent_dns):
    started = time.monotonic()
    finding = doctor.check_host_resolves("portal.acme-corp.test", [silent_dns.address], 0.4)
    assert time.monotonic() - started < 0.75
    assert_broken(finding, "error", f"127.0.0.1:{silent_dns.port}", "OSTIARY_DNS_RESOLVERS")


def test_refusing_resolver_is_reported_with_its_answer(resolvers, dns_server):
    resolution = doctor.resolve_host("portal.acme-corp.example", resolvers, 2)
    assert resolution.addresses == ()
    assert "answered REFUSED" in resolution.problem


# -- does the portal host point at this instance --------------------------------------------


def test_portal_host_pointing_at_this_instance_is_healthy(resolvers):
    addresses = doctor.resolve_host("portal.acme-corp.test", resolvers, 2).addresses
    finding = doctor.check_resolves_to_instance("portal.acme-corp.test", addresses, ["127.0.0.10", "fd00::10"])
    assert finding.ok and "resolves to this instance" in finding.message


def test_portal_host_pointing_elsewhere_breaks_sign_in(resolvers):
    addresses = doctor.resolve_host("elsewhere.acme-corp.test", resolvers, 2).addresses
    finding = doctor.check_resolves_to_instance("elsewhere.acme-corp.test", addresses, ["127.0.0.10"])
    assert_broken(finding, "error", "127.0.0.99, none of which is this instance (127.0.0.10)", "change the A/AAAA records")


def test_portal_host_with_one_stray_address_is_a_warning_naming_it(resolvers):
    addresses = doctor.resolve_host("stray.acme-corp.test", resolvers, 2).addresses
    finding = doctor.check_resolves_to_instance("stray.acme-corp.test", addresses, ["127.0.0.10"])
    assert_broken(finding, "warning", "127.0.0.99 is not this instance", "remove 127.0.0.99")


def test_portal_host_without_addresses_cannot_reach_the_instance():
    finding = doctor.check_resolves_to_instance("missing.acme-corp.test", [], ["127.0.0.10"])
    assert_broken(finding, "error", "has no addresses")


def test_instance_without_configured_public_addresses_skips_the_comparison():
    finding = doctor.check_resolves_to_instance("portal.acme-corp.test", ["127.0.0.10"], [])
    assert finding.ok and finding.severity == "info" and "not checked" in finding.message


def test_configured_public_address_that_is_not_an_ip_is_reported():
    finding = doctor.check_resolves_to_instance("p.test", ["127.0.0.10"], ["proxy.acme-corp.test"])
    assert_broken(finding, "error", '"proxy.acme-corp.test" is not an IP address')


def test_public_addresses_compare_by_value_not_spelling():
    finding = doctor.check_resolves_to_instance("p.test", ["fd00::10"], ["fd00:0:0:0:0:0:0:10"])
    assert finding.ok


# -- challenge record still present ---------------------------------------------------------


def test_challenge_record_still_present_is_healthy(resolvers):
    finding = doctor.check_record_present("acme-corp.test", TOKENS["acme-corp.test"], resolvers, 2)
    assert finding.ok and "still in place" in finding.message


def test_challenge_record_gone_is_an_error_with_the_record_to_add(resolvers):
    finding = doctor.check_record_present("nowhere.test", "tok", resolvers, 2)
    assert_broken(finding, "error", "NXDOMAIN", 'add a TXT record named "_ostiary-challenge.nowhere.test"')


def test_challenge_record_unreadable_for_lack_of_dns_is_a_warning(silent_dns):
    finding = doctor.check_record_present("acme-corp.test", "tok-acme", [silent_dns.address], 0.4)
    assert_broken(finding, "warning", "no answer")


# -- cookie domain ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cookie_domain, host",
    [("acme-corp.test", "login.acme-corp.test"), (".acme-corp.test", "app.acme-corp.test"), ("acme-corp.test", "acme-corp.test"), ("foo.github.io", "app.foo.github.io")],
)
def test_cookie_domain_the_browser_accepts_is_healthy(cookie_domain, host):
    assert doctor.check_cookie_domain(cookie_domain, host).ok


@pytest.mark.parametrize(
    "cookie_domain, host, words",
    [
        ("github.io", "foo.github.io", '"github.io" is a public suffix'),
        ("co.uk", "acme.co.uk", "public suffix"),
        ("acme-corp.test", "login.other.test", '"login.other.test" is not "acme-corp.test" or under it'),
        ("acme-corp.test", "evilacme-corp.test", "is not"),
        ("127.0.0.1", "127.0.0.1", "IP address"),
    ],
)
def test_cookie_domain_the_browser_refuses_breaks_sign_in(cookie_domain, host, words):
    finding = doctor.check_cookie_domain(cookie_domain, host)
    assert_broken(finding, "error", words, "set the cookie domain")


# -- https -----------------------------------------------------------------------------------


def test_https_app_url_is_healthy():
    assert doctor.check_https("https://app.acme-corp.test/grafana").ok


def test_http_app_url_breaks_sign_in_and_shows_the_https_url():
    finding = doctor.check_https("http://app.acme-corp.test/grafana")
    assert_broken(finding, "error", "uses http", "https://app.acme-corp.test/grafana")


@pytest.mark.parametrize("url", ["app.acme-corp.test", "ftp://app.acme-corp.test/", "https:///path"])
def test_url_that_is_not_https_with_a_host_is_refused(url):
    assert_broken(doctor.check_https(url), "error", "is not an https URL")


# -- clock -----------------------------------------------------------------------------------


def test_clock_is_not_checked_without_an_ntp_server():
    finding = doctor.check_clock(None)
    assert finding.ok and finding.severity == "info" and "no NTP server configured" in finding.message


def test_clock_close_to_the_ntp_server_is_healthy(ntp_server_factory):
    server = ntp_server_factory(skew=0.0)
    finding = doctor.check_clock(server.address, timeout=2)
    assert finding.ok and finding.severity == "ok", finding.message


def test_clock_far_behind_the_ntp_server_breaks_sign_in(ntp_server_factory):
    server = ntp_server_factory(skew=120.0)
    finding = doctor.check_clock(server.address, timeout=2)
    assert_broken(finding, "error", "behind", "synchronise the clock")
    assert "120." in finding.message or "119." in finding.message


def test_clock_ahead_of_the_ntp_server_says_ahead(ntp_server_factory):
    finding = doctor.check_clock(ntp_server_factory(skew=-300.0).address, timeout=2, max_offset=30)
    assert_broken(finding, "error", "ahead of")


def test_unreachable_ntp_server_is_a_warning_not_a_failure(silent_dns):
    finding = doctor.check_clock(f"127.0.0.1:{silent_dns.port}", timeout=0.3)
    assert_broken(finding, "warning", "could not ask the NTP server", "reachable")
