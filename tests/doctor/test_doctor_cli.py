"""`ostiary doctor` against a real dnsmasq: exit 0 when nothing would break sign-in, and for each
broken case exit 1 with a line that names the problem and its fix."""

from __future__ import annotations

import pytest

from ostiary.cli.base import ExitCode
from ostiary.services.rules import domains as domains_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.jobs.reverifier import reverify_round
from ostiary.config import Settings
from tests.doctor.conftest import ELSEWHERE_ADDRESS, PORTAL_ADDRESS, challenge

DOMAIN, PORTAL, APP_HOST = "acme-corp.test", "auth.acme-corp.test", "wiki.acme-corp.test"
HOSTS = {PORTAL: [PORTAL_ADDRESS], APP_HOST: ["127.0.0.20"]}


@pytest.fixture
def setup(store, tenant_id, dns, add_domain, add_app):
    """acme-corp.test with its portal host and a wiki app; records in DNS; verified against dnsmasq."""
    domain = add_domain(DOMAIN, PORTAL)
    add_app("wiki", f"https://{APP_HOST}")
    dns.restart(txt=challenge(domain), hosts=HOSTS)
    row = domains_service.verify_domain(store, tenant_id, CLI_ACTOR, DOMAIN, dns.resolvers, 2.0)
    assert row.status == "verified", row.status_reason
    return domain


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("✗")]


def test_doctor_passes_a_healthy_domain_and_exits_0(setup, doctor, ntp_server_factory, db_url):
    ntp = ntp_server_factory(skew=0.0)
    result = doctor(ntp_server=ntp.address)
    assert result.exit_code == 0, result.output
    assert error_lines(result.output) == []
    out = result.output
    assert f'✓ {DOMAIN}: portal host "{PORTAL}" is under "{DOMAIN}"' in out
    assert f'✓ {DOMAIN}: domain "{DOMAIN}" is verified on ' in out
    assert f'✓ {DOMAIN}: the TXT record "_ostiary-challenge.{DOMAIN}" is still in place' in out
    assert f'✓ {DOMAIN}: "{PORTAL}" resolves to this instance ({PORTAL_ADDRESS})' in out
    assert f'✓ {DOMAIN}: browsers accept a cookie with Domain={DOMAIN} from "{PORTAL}"' in out
    assert f'✓ {DOMAIN} app wiki: app host "{APP_HOST}" resolves to 127.0.0.20' in out
    assert f'✓ {DOMAIN} app wiki: browsers accept a cookie with Domain={DOMAIN} from "{APP_HOST}"' in out
    assert f'✓ {DOMAIN} app wiki: app URL "https://{APP_HOST}" uses https' in out
    assert '✓ clock: clock is within ' in out and f'of "{ntp.address}"' in out
    if db_url.startswith("postgresql"):  # the database's clock is another machine's: compared
        assert "✓ clock: this instance's clock is " in out and "within the 30 s leeway" in out
        assert out.splitlines()[-1] == "nothing would break sign-in; 10 checks passed"
    else:
        assert "· clock: SQLite: the database's clock is this machine's; nothing to compare" in out
        assert out.splitlines()[-1] == "nothing would break sign-in; 9 checks passed"


def test_doctor_fails_when_the_portal_host_does_not_resolve(setup, dns, doctor):
    dns.restart(hosts={APP_HOST: ["127.0.0.20"]})
    result = doctor()
    assert result.exit_code == 1, result.output
    [line] = [line for line in error_lines(result.output) if "portal host" in line]
    assert f'portal host "{PORTAL}" does not resolve' in line and "NXDOMAIN" in line
    assert f'fix: create an A (or AAAA) record for "{PORTAL}"' in line
    assert "· clock: no NTP server configured; clock not checked" in result.output
    assert result.output.splitlines()[-1].startswith("1 problem would break sign-in")


def test_doctor_fails_when_the_portal_host_points_elsewhere_than_the_public_addresses(setup, dns, doctor):
    dns.restart(hosts={PORTAL: [ELSEWHERE_ADDRESS], APP_HOST: ["127.0.0.20"]})
    result = doctor()
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f'"{PORTAL}" resolves to {ELSEWHERE_ADDRESS}, none of which is this instance ({PORTAL_ADDRESS})' in line
    assert f"fix: change the A/AAAA records of \"{PORTAL}\" to {PORTAL_ADDRESS}" in line


def test_doctor_without_public_addresses_only_says_where_the_portal_host_points(setup, dns, doctor):
    dns.restart(hosts={PORTAL: [ELSEWHERE_ADDRESS], APP_HOST: ["127.0.0.20"]})
    result = doctor(public_addresses="")
    assert result.exit_code == 0, result.output
    assert f'portal host "{PORTAL}" resolves to {ELSEWHERE_ADDRESS} (set OSTIARY_PUBLIC_ADDRESSES' in result.output


def test_doctor_fails_for_a_domain_never_verified(store, tenant_id, dns, add_domain, doctor):
    domain = add_domain(DOMAIN, PORTAL)
    dns.restart(txt=challenge(domain), hosts=HOSTS)
    result = doctor()
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f'domain "{DOMAIN}" is pending, not verified: not checked yet' in line
    assert f"fix: publish the TXT record shown for the domain, then run `ostiary domain verify {DOMAIN}`" in line


def test_doctor_shows_the_stored_reason_of_a_failed_verification(store, tenant_id, dns, add_domain, doctor):
    add_domain(DOMAIN, PORTAL)
    dns.restart(hosts=HOSTS)
    row = domains_service.verify_domain(store, tenant_id, CLI_ACTOR, DOMAIN, dns.resolvers, 2.0)
    assert row.status == "failed"
    result = doctor()
    assert result.exit_code == 1, result.output
    verified_line = next(line for line in error_lines(result.output) if "not verified" in line)
    assert f'domain "{DOMAIN}" is failed, not verified: "_ostiary-challenge.{DOMAIN}" does not exist in DNS (NXDOMAIN)' in verified_line


def test_doctor_fails_when_the_record_was_removed_after_verification(setup, dns, doctor):
    dns.restart(txt={})
    result = doctor()
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert f'"_ostiary-challenge.{DOMAIN}" does not exist in DNS (NXDOMAIN)' in line
    assert f'fix: add a TXT record named "_ostiary-challenge.{DOMAIN}" with the value "ostiary-domain-verification=' in line


def test_doctor_reports_a_domain_flagged_by_re_verification(setup, store, db_url, dns, doctor):
    dns.restart(txt={})
    reverify_round(store, Settings(database_url=db_url, dns_resolvers=dns.resolvers_env, dns_timeout=2))
    result = doctor()
    assert result.exit_code == 1, result.output
    assert f'! {DOMAIN}: domain "{DOMAIN}" is flagged: its TXT record went missing at the last re-check' in result.output


def test_doctor_fails_when_an_app_host_does_not_resolve(setup, dns, doctor):
    dns.restart(hosts={PORTAL: [PORTAL_ADDRESS]})
    result = doctor()
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert line.startswith(f'✗ {DOMAIN} app wiki: app host "{APP_HOST}" does not resolve')


def test_doctor_fails_for_an_http_app_url_unless_in_dev_mode(setup, add_app, dns, doctor):
    add_app("plain", "http://plain.acme-corp.test", allow_http=True)
    dns.restart(hosts={**HOSTS, "plain.acme-corp.test": ["127.0.0.21"]})
    result = doctor()
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert 'app URL "http://plain.acme-corp.test" uses http, so the browser never sends the Secure sign-in cookie' in line
    assert 'fix: serve it over https and change the URL to "https://plain.acme-corp.test"' in line

    result = doctor(dev="true")
    assert result.exit_code == 0, result.output
    assert ('! acme-corp.test app plain: app URL "http://plain.acme-corp.test" uses http; '
            "accepted only because OSTIARY_DEV is on") in result.output


def test_doctor_fails_when_the_clock_is_off_by_more_than_30_seconds(setup, doctor, ntp_server_factory):
    ntp = ntp_server_factory(skew=120.0)
    result = doctor(ntp_server=ntp.address)
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert line.startswith("✗ clock: this machine's clock is 12")
    assert f's behind "{ntp.address}" (more than 30 s)' in line
    assert "fix: synchronise the clock" in line


def test_doctor_checks_only_the_domain_named(setup, store, tenant_id, add_domain, doctor):
    add_domain("homelab.test", "login.homelab.test")  # pending, and nothing for it in DNS
    assert doctor().exit_code == 1
    result = doctor(DOMAIN)
    assert result.exit_code == 0, result.output
    assert "homelab.test" not in result.output


def test_doctor_refuses_a_domain_the_tenant_does_not_have(add_domain, doctor):
    add_domain(DOMAIN, PORTAL)
    result = doctor("nosuch.test")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert '"nosuch.test" is not a protected domain of this tenant' in result.output


def test_doctor_fails_for_a_tenant_without_protected_domains(tenant_id, doctor):
    result = doctor()
    assert result.exit_code == 1, result.output
    assert "✗ tenant: this tenant has no protected domain" in result.output
