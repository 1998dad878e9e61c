"""Tenant isolation through the service layer: what tenant A owns is never
visible to, nor changeable by, tenant B."""

from __future__ import annotations

import pytest

from ostiary.services.rules import apps, domains, groups, sessions, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import NotFound


@pytest.fixture
def two_tenants(store):
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery", CLI_ACTOR)
    a = tenants.tenant_by_slug(store, "acme").id
    b = tenants.add_tenant(store, "globex", CLI_ACTOR).id
    users.add_user(store, a, CLI_ACTOR, email="alice@acme.test", password="alice password 1")
    groups.add_group(store, a, CLI_ACTOR, "staff")
    groups.add_member(store, a, CLI_ACTOR, "staff", "alice@acme.test")
    domains.add_domain(store, a, CLI_ACTOR, "acme-corp.test", "auth.acme-corp.test")
    apps.add_app(store, a, CLI_ACTOR, name="grafana", url="https://grafana.acme-corp.test", groups_granted=["staff"])
    return a, b


def test_users_of_one_tenant_are_invisible_to_another(store, two_tenants):
    a, b = two_tenants
    assert users.find_user(store, a, "alice@acme.test") is not None
    assert users.find_user(store, b, "alice@acme.test") is None
    assert [u.email for u in users.list_users(store, b)] == []
    with pytest.raises(NotFound):
        users.set_active(store, b, CLI_ACTOR, "alice@acme.test", False)
    assert users.find_user(store, a, "alice@acme.test").active


def test_groups_apps_and_domains_of_one_tenant_are_invisible_to_another(store, two_tenants):
    a, b = two_tenants
    assert groups.list_groups(store, b) == []
    assert apps.list_apps(store, b) == []
    assert domains.list_domains(store, b) == []
    for call in (
        lambda: groups.get_group(store, b, "staff"),
        lambda: apps.get_app(store, b, "grafana"),
        lambda: domains.get_domain(store, b, "acme-corp.test"),
        lambda: groups.add_member(store, b, CLI_ACTOR, "staff", "alice@acme.test"),
        lambda: apps.grant(store, b, CLI_ACTOR, "grafana", "staff"),
    ):
        with pytest.raises(NotFound):
            call()
    assert [g.name for g in groups.list_groups(store, a)] == ["staff"]


def test_sessions_of_one_tenant_cannot_be_found_or_ended_from_another(store, two_tenants):
    a, b = two_tenants
    alice = users.find_user(store, a, "alice@acme.test")
    new = sessions.create_session(store, a, alice.id)
    assert sessions.session_for_token(store, new.token, a) is not None
    assert sessions.session_for_token(store, new.token, b) is None
    assert sessions.list_sessions(store, b) == []
    with pytest.raises(NotFound):
        sessions.get_session(store, b, new.id)
    assert sessions.end_session(store, b, new.id, "attack", CLI_ACTOR) is False
    assert sessions.session_for_token(store, new.token, a) is not None


def test_a_tenant_may_reuse_names_another_tenant_uses(store, two_tenants):
    a, b = two_tenants
    users.add_user(store, b, CLI_ACTOR, email="alice@acme.test")
    groups.add_group(store, b, CLI_ACTOR, "staff")
    assert users.find_user(store, b, "alice@acme.test").id != users.find_user(store, a, "alice@acme.test").id


def test_a_verified_portal_host_belongs_to_one_tenant_only(store, two_tenants):
    a, b = two_tenants
    from ostiary.services.base.errors import Conflict

    # A pending registration claims nothing (tests/doctor/test_portal_host_squatting.py); a verified one does.
    domains.record_verification(store, a, CLI_ACTOR, "acme-corp.test", True, "the TXT record holds the token")
    with pytest.raises(Conflict, match="portal_host"):
        domains.add_domain(store, b, CLI_ACTOR, "acme-corp.test", "auth.acme-corp.test")
