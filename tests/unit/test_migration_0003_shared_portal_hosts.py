"""Migration 0003 lets several registrations share a portal host until one is
verified. Going back to 0002, which allows one per installation, would have
to delete registrations: it is refused instead, naming the portal hosts, and
nothing is lost (docs/upgrading.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ostiary.services.rules import domains as domains_service
from ostiary.services.rules import tenants
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store.engine import current_revision
from ostiary.store.tables import domains


def _count(store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(domains)).scalar_one()


def test_downgrading_below_0003_with_a_shared_portal_host_is_refused_and_loses_nothing(store):
    for slug in ("acme", "rival"):
        tenant = tenants.add_tenant(store, slug, CLI_ACTOR).id
        domains_service.add_domain(store, tenant, CLI_ACTOR, "acme-corp.test", "auth.acme-corp.test")
    store.downgrade("0003")  # the later migrations go back freely; 0003 is the one that must refuse
    with pytest.raises(RuntimeError, match="auth.acme-corp.test.*ostiary domain delete"):
        store.downgrade("0002")
    assert _count(store) == 2
    assert current_revision(store.engine) == "0003"


def test_downgrading_below_0003_without_shared_portal_hosts_keeps_every_domain(store):
    tenant = tenants.add_tenant(store, "acme", CLI_ACTOR).id
    domains_service.add_domain(store, tenant, CLI_ACTOR, "acme-corp.test", "auth.acme-corp.test")
    domains_service.add_domain(store, tenant, CLI_ACTOR, "homelab.test", "auth.homelab.test")
    store.downgrade("0002")
    assert _count(store) == 2
    store.migrate()
    assert _count(store) == 2
