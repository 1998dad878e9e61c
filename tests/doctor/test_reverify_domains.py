"""Background re-verification against a real dnsmasq: a vanished record flags the domain (still
served), past the grace period disables it (no longer served), and a returning record clears the
flag; DNS trouble changes nothing; one slow DNS server holds up no other domain."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from ostiary.config import Settings
from ostiary.services.rules import domains as domains_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.jobs.reverifier import Reverifier
from ostiary.snapshot.build import load_full
from ostiary.store.tables import audit_log, change_log
from tests.doctor.conftest import challenge

DOMAIN, PORTAL = "acme-corp.test", "auth.acme-corp.test"


def settings_for(db_url: str, resolvers: str, **overrides) -> Settings:
    return Settings(database_url=db_url, dns_resolvers=resolvers, **{"dns_timeout": 2.0, **overrides})


def portal_hosts(store) -> set[str]:
    with store.read() as conn:
        return set(load_full(conn).portal_hosts)


def audit_actions(store) -> list[str]:
    with store.read() as conn:
        return [r.action for r in conn.execute(select(audit_log.c.action).order_by(audit_log.c.id))]


@pytest.fixture
def verified(store, tenant_id, dns, add_domain):
    """acme-corp.test verified against dnsmasq, which still holds its record."""
    domain = add_domain(DOMAIN, PORTAL)
    dns.restart(txt=challenge(domain))
    row = domains_service.verify_domain(store, tenant_id, CLI_ACTOR, DOMAIN, dns.resolvers, 2.0)
    assert row.status == "verified", row.status_reason
    return row


def test_a_present_record_keeps_the_domain_verified_and_unflagged(store, tenant_id, db_url, dns, verified):
    transitions = Reverifier(store, settings_for(db_url, dns.resolvers_env)).run_once()
    assert [(t.domain, t.state) for t in transitions] == [(DOMAIN, "verified")]
    row = domains_service.get_domain(store, tenant_id, DOMAIN)
    assert (row.status, row.flagged_at) == ("verified", None)
    assert row.last_checked_at >= verified.last_checked_at


def test_a_removed_record_flags_the_domain_which_is_still_served(store, tenant_id, db_url, dns, verified):
    dns.restart(txt={})
    with store.read() as conn:
        changes_before = conn.execute(select(change_log.c.id)).all()
    before = time.time()
    Reverifier(store, settings_for(db_url, dns.resolvers_env)).run_once()
    row = domains_service.get_domain(store, tenant_id, DOMAIN)
    assert row.status == "verified"
    assert row.flagged_at is not None and row.flagged_at >= before
    assert "record missing, flagged; disabled after 3 d unless it returns" in row.status_reason
    assert "NXDOMAIN" in row.status_reason
    assert PORTAL in portal_hosts(store)
    assert audit_actions(store)[-1] == "domain.flag"
    with store.read() as conn:
        changes = conn.execute(select(change_log.c.entity, change_log.c.entity_id)).all()
    assert len(changes) == len(changes_before) + 1 and tuple(changes[-1]) == ("domain", str(row.id))


def test_a_flagged_domain_within_the_grace_period_stays_flagged_since_the_first_miss(
        store, tenant_id, db_url, dns, verified):
    dns.restart(txt={})
    reverifier = Reverifier(store, settings_for(db_url, dns.resolvers_env), interval=0.0)
    reverifier.run_once()
    first = domains_service.get_domain(store, tenant_id, DOMAIN)
    reverifier.run_once()
    second = domains_service.get_domain(store, tenant_id, DOMAIN)
    assert second.status == "verified"
    assert second.flagged_at == first.flagged_at
    assert audit_actions(store).count("domain.flag") == 1
    assert PORTAL in portal_hosts(store)


def test_a_domain_flagged_past_the_grace_period_is_disabled_and_no_longer_served(
        store, tenant_id, db_url, dns, verified):
    dns.restart(txt={})
    reverifier = Reverifier(store, settings_for(db_url, dns.resolvers_env, domain_grace_seconds=0), interval=0.0)
    reverifier.run_once()
    assert domains_service.get_domain(store, tenant_id, DOMAIN).flagged_at is not None
    reverifier.run_once()
    row = domains_service.get_domain(store, tenant_id, DOMAIN)
    assert row.status == "disabled"
    assert "disabled" in row.status_reason and "record missing since" in row.status_reason
    assert PORTAL not in portal_hosts(store)
    assert audit_actions(store)[-2:] == ["domain.flag", "domain.disable"]
    # A disabled domain waits for the operator: the record coming back does not switch it on unseen.
    dns.restart(txt=challenge(verified))
    assert reverifier.run_once() == []
    assert domains_service.get_domain(store, tenant_id, DOMAIN).status == "disabled"


def test_a_returning_record_clears_the_flag(store, tenant_id, db_url, dns, verified):
    reverifier = Reverifier(store, settings_for(db_url, dns.resolvers_env), interval=0.0)
    dns.restart(txt={})
    reverifier.run_once()
    assert domains_service.get_domain(store, tenant_id, DOMAIN).flagged_at is not None
    dns.restart(txt=challenge(verified))
    reverifier.run_once()
    row = domains_service.get_domain(store, tenant_id, DOMAIN)
    assert (row.status, row.flagged_at) == ("verified", None)
    assert audit_actions(store)[-2:] == ["domain.flag", "domain.unflag"]
    assert PORTAL in portal_hosts(store)


def test_a_dns_server_that_does_not_answer_changes_nothing(store, tenant_id, db_url, dns, verified, silent_dns):
    silent = f"{silent_dns.host}:{silent_dns.port}"
    dns.restart(txt={})
    Reverifier(store, settings_for(db_url, dns.resolvers_env), interval=0.0).run_once()
    flagged = domains_service.get_domain(store, tenant_id, DOMAIN)
    actions = audit_actions(store)
    transitions = Reverifier(store, settings_for(db_url, silent, dns_timeout=0.3), interval=0.0).run_once()
    assert [t.result.kind for t in transitions] == ["timeout"]
    row = domains_service.get_domain(store, tenant_id, DOMAIN)
    assert (row.status, row.flagged_at, row.status_reason) == ("verified", flagged.flagged_at, flagged.status_reason)
    assert audit_actions(store) == actions


def test_a_slow_dns_server_for_one_domain_does_not_hold_up_the_others(
        store, tenant_id, db_url, dns, add_domain, slow_dns):
    fast = [f"fast{i}.test" for i in range(5)]
    for name in fast + ["slow.test"]:
        add_domain(name, f"login.{name}")
        # Marked verified through the service (no DNS): the point is what re-verification does next.
        domains_service.record_verification(store, tenant_id, CLI_ACTOR, name, True, "verified for the test")
    dns.restart(forward={"slow.test": slow_dns.address})  # fast*.test: NXDOMAIN at once; slow.test: 6 s
    reverifier = Reverifier(store, settings_for(db_url, dns.resolvers_env, dns_timeout=0.5))
    started = time.monotonic()
    reverifier.run_once()
    elapsed = time.monotonic() - started
    assert elapsed < 4.0, f"the round took {elapsed:.1f} s; the slow server answers after 6 s"
    for name in fast:
        assert domains_service.get_domain(store, tenant_id, name).flagged_at is not None, name
    slow = domains_service.get_domain(store, tenant_id, "slow.test")
    assert (slow.status, slow.flagged_at, slow.status_reason) == ("verified", None, "verified for the test")


def test_the_background_thread_flags_a_domain_soon_after_start(store, tenant_id, db_url, dns, verified):
    dns.restart(txt={})
    reverifier = Reverifier(store, settings_for(db_url, dns.resolvers_env), first_delay=0.05, interval=60)
    reverifier.start()
    try:
        deadline = time.monotonic() + 10
        while domains_service.get_domain(store, tenant_id, DOMAIN).flagged_at is None:
            assert time.monotonic() < deadline, "no round ran within 10 s of start"
            time.sleep(0.05)
    finally:
        reverifier.stop()
    assert len(reverifier.rounds) == 1
