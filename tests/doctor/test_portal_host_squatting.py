"""Attack: a rival tenant squats another tenant's portal host by registering
it first and never verifying (issue 13 item 5). A pending registration blocks
no one; the first tenant to verify owns the portal host and the others'
verification then fails saying so; registrations never verified expire after
7 days, and can be deleted (`ostiary domain delete`, the API, the admin UI).
Against a real dnsmasq, on SQLite and PostgreSQL (docs/domains.md)."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from ostiary.cli import main
from ostiary.cli.base import ExitCode
from ostiary.config import Settings
from ostiary.services.rules import domains as domains_service
from ostiary.services.rules import tenants as tenants_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import Conflict
from ostiary.services.jobs.reverifier import Reverifier
from ostiary.snapshot.build import load_full
from ostiary.store.tables import audit_log, domains
from tests.doctor.conftest import challenge

DOMAIN, PORTAL = "acme-corp.test", "auth.acme-corp.test"


@pytest.fixture
def rival(store) -> int:
    return tenants_service.add_tenant(store, "rival", CLI_ACTOR).id


def _verify(store, tenant: int, name: str, dns):
    return domains_service.verify_domain(store, tenant, CLI_ACTOR, name, dns.resolvers, 2.0)


def _both(*rows) -> dict[str, list[str]]:
    """One TXT record set holding every row's challenge (records on the same name merge)."""
    merged: dict[str, list[str]] = {}
    for row in rows:
        for name, values in challenge(row).items():
            merged.setdefault(name, []).extend(values)
    return merged


def _served(store) -> dict[str, int]:
    with store.read() as conn:
        return {host: view.tenant_id for host, view in load_full(conn).portal_hosts.items()}


def test_a_pending_registration_does_not_block_another_tenant_from_the_portal_host(store, tenant_id, rival):
    domains_service.add_domain(store, rival, CLI_ACTOR, DOMAIN, PORTAL)  # the squat, never verified
    row = domains_service.add_domain(store, tenant_id, CLI_ACTOR, DOMAIN, PORTAL)
    assert (row.status, row.portal_host) == ("pending", PORTAL)


def test_the_first_tenant_to_verify_owns_the_portal_host_and_the_other_is_told(store, tenant_id, rival, dns):
    squat = domains_service.add_domain(store, rival, CLI_ACTOR, DOMAIN, PORTAL)
    owner = domains_service.add_domain(store, tenant_id, CLI_ACTOR, DOMAIN, PORTAL)
    dns.restart(txt=_both(owner, squat))
    assert _verify(store, tenant_id, DOMAIN, dns).status == "verified"
    refused = _verify(store, rival, DOMAIN, dns)
    assert refused.status == "failed" and "another tenant" in refused.status_reason
    assert _served(store) == {PORTAL: tenant_id}


def test_a_portal_host_verified_first_under_another_name_is_not_taken_over(store, tenant_id, rival, dns):
    # The same portal host, registered as a domain of its own by the rival.
    owner = domains_service.add_domain(store, tenant_id, CLI_ACTOR, DOMAIN, PORTAL)
    squat = domains_service.add_domain(store, rival, CLI_ACTOR, PORTAL, PORTAL)
    dns.restart(txt={**challenge(owner), **challenge(squat)})
    assert _verify(store, tenant_id, DOMAIN, dns).status == "verified"
    refused = _verify(store, rival, PORTAL, dns)
    assert refused.status == "failed"
    assert f'portal host "{PORTAL}" was verified first' in refused.status_reason
    assert "ostiary domain delete" in refused.status_reason
    assert _served(store) == {PORTAL: tenant_id}
    # Once verified, the portal host is refused at registration too.
    third = tenants_service.add_tenant(store, "third", CLI_ACTOR).id
    with pytest.raises(Conflict, match="already the verified portal host"):
        domains_service.add_domain(store, third, CLI_ACTOR, DOMAIN, PORTAL)


def test_a_registration_never_verified_expires_after_seven_days(store, tenant_id, rival, db_url, dns):
    squat = domains_service.add_domain(store, rival, CLI_ACTOR, DOMAIN, PORTAL)
    fresh = domains_service.add_domain(store, tenant_id, CLI_ACTOR, "homelab.test", "auth.homelab.test")
    assert domains_service.expires_at(squat) == pytest.approx(squat.created_at + 7 * 24 * 3600)
    week_ago = time.time() - domains_service.PENDING_LIFETIME - 60
    with store.write() as conn:
        conn.execute(update(domains).where(domains.c.id == squat.id).values(created_at=week_ago))
    # The background round deletes it (its DNS checks find nothing to do here).
    Reverifier(store, Settings(database_url=db_url, dns_resolvers=dns.resolvers_env, dns_timeout=2.0)).run_once()
    with store.read() as conn:
        left = {r.name for r in conn.execute(select(domains.c.name))}
        actions = [r.action for r in conn.execute(select(audit_log.c.action).where(audit_log.c.tenant_id == rival))]
    assert left == {"homelab.test"} and "domain.expire" in actions
    assert domains_service.get_domain(store, tenant_id, fresh.name).status == "pending"


def test_the_cli_deletes_a_pending_registration(store, tenant_id, db_url, tmp_path):
    domains_service.add_domain(store, tenant_id, CLI_ACTOR, DOMAIN, PORTAL)
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path)}
    listed = CliRunner().invoke(main, ["domain", "list", "--tenant", "acme"], env=env)
    assert "unless verified" in listed.output
    r = CliRunner().invoke(main, ["domain", "delete", DOMAIN, "--tenant", "acme"], env=env)
    assert r.exit_code == 0 and f"domain {DOMAIN} deleted" in r.output
    assert domains_service.list_domains(store, tenant_id) == []
    again = CliRunner().invoke(main, ["domain", "delete", DOMAIN, "--tenant", "acme"], env=env)
    assert again.exit_code == ExitCode.NOT_FOUND and "no protected domain" in again.output
