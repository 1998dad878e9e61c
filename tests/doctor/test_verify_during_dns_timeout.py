"""Fault: `ostiary domain verify` during a DNS timeout took a verified domain
offline (status failed, every app 403). Only a definite answer (the record
absent or wrong) changes a domain's state; a timeout changes nothing, and the
command says it learned nothing (issue 14 item 9, docs/domains.md). The
timeout is real: a UDP server on loopback that never answers."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

import pytest

from ostiary.cli import main
from ostiary.services.rules import domains as domains_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.snapshot.build import load_full
from ostiary.store.tables import audit_log, change_log
from tests.doctor.conftest import challenge

DOMAIN, PORTAL = "acme-corp.test", "auth.acme-corp.test"


@pytest.fixture
def verified(store, tenant_id, dns, add_domain):
    domain = add_domain(DOMAIN, PORTAL)
    dns.restart(txt=challenge(domain))
    row = domains_service.verify_domain(store, tenant_id, CLI_ACTOR, DOMAIN, dns.resolvers, 2.0)
    assert row.status == "verified", row.status_reason
    return row


def _trail(store) -> tuple[list, list]:
    with store.read() as conn:
        return (conn.execute(select(audit_log.c.id)).all(), conn.execute(select(change_log.c.id)).all())


def test_a_manual_verify_during_a_dns_timeout_leaves_a_verified_domain_served(
        store, tenant_id, db_url, verified, silent_dns, tmp_path):
    trail = _trail(store)
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path),
           "OSTIARY_DNS_RESOLVERS": f"{silent_dns.host}:{silent_dns.port}", "OSTIARY_DNS_TIMEOUT": "0.5"}
    r = CliRunner().invoke(main, ["domain", "verify", DOMAIN, "--tenant", "acme"], env=env)
    assert r.exit_code == 1
    assert "learned nothing, nothing changed" in r.output and "still verified" in r.output
    row = domains_service.get_domain(store, tenant_id, DOMAIN)
    assert (row.status, row.status_reason, row.last_checked_at) == (
        "verified", verified.status_reason, verified.last_checked_at)
    assert _trail(store) == trail
    with store.read() as conn:
        assert PORTAL in load_full(conn).portal_hosts


def test_a_definite_answer_still_fails_the_domain(store, tenant_id, dns, verified):
    dns.restart(txt={})
    row = domains_service.verify_domain(store, tenant_id, CLI_ACTOR, DOMAIN, dns.resolvers, 2.0)
    assert row.status == "failed" and "does not exist" in row.status_reason


def test_the_service_refuses_to_record_a_timeout(store, tenant_id, verified, silent_dns):
    with pytest.raises(domains_service.DnsUnanswered, match="nothing was learned"):
        domains_service.verify_domain(store, tenant_id, CLI_ACTOR, DOMAIN, [silent_dns.address], 0.3)
    assert domains_service.get_domain(store, tenant_id, DOMAIN).status == "verified"
