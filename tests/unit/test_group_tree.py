"""Group-tree rules: no cycles, and a grant to a parent covers descendants."""

from __future__ import annotations

import pytest

from ostiary.access import may_enter, with_ancestors
from ostiary.services.rules import apps, domains, groups, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import Conflict, InvalidInput
from ostiary.snapshot.build import load_full


@pytest.fixture
def tenant(store):
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", "correct horse battery", CLI_ACTOR)
    return tenants.tenant_by_slug(store, "acme").id


def test_a_group_cannot_become_its_own_ancestor(store, tenant):
    groups.add_group(store, tenant, CLI_ACTOR, "eng")
    groups.add_group(store, tenant, CLI_ACTOR, "backend", parent="eng")
    groups.add_group(store, tenant, CLI_ACTOR, "db", parent="backend")
    with pytest.raises(InvalidInput, match="own ancestor"):
        groups.move_group(store, tenant, CLI_ACTOR, "eng", "db")
    with pytest.raises(InvalidInput, match="own ancestor"):
        groups.move_group(store, tenant, CLI_ACTOR, "eng", "eng")
    assert groups.get_group(store, tenant, "eng").parent_id is None


def test_group_names_refuse_commas_and_control_characters(store, tenant):
    for bad in ("a,b", "line\nbreak", "tab\there", ""):
        with pytest.raises(InvalidInput, match="name"):
            groups.add_group(store, tenant, CLI_ACTOR, bad)
    assert groups.list_groups(store, tenant) == []


def test_a_group_with_children_cannot_be_deleted(store, tenant):
    groups.add_group(store, tenant, CLI_ACTOR, "eng")
    groups.add_group(store, tenant, CLI_ACTOR, "backend", parent="eng")
    with pytest.raises(Conflict, match="child groups"):
        groups.delete_group(store, tenant, CLI_ACTOR, "eng")


def test_a_grant_to_a_parent_admits_members_of_every_descendant(store, tenant):
    groups.add_group(store, tenant, CLI_ACTOR, "eng")
    groups.add_group(store, tenant, CLI_ACTOR, "backend", parent="eng")
    groups.add_group(store, tenant, CLI_ACTOR, "db", parent="backend")
    groups.add_group(store, tenant, CLI_ACTOR, "sales")
    users.add_user(store, tenant, CLI_ACTOR, email="deep@acme.test")
    users.add_user(store, tenant, CLI_ACTOR, email="seller@acme.test")
    groups.add_member(store, tenant, CLI_ACTOR, "db", "deep@acme.test")
    groups.add_member(store, tenant, CLI_ACTOR, "sales", "seller@acme.test")
    domains.add_domain(store, tenant, CLI_ACTOR, "acme-corp.test", "auth.acme-corp.test")
    apps.add_app(store, tenant, CLI_ACTOR, name="wiki", url="https://wiki.acme-corp.test", groups_granted=["eng"])
    apps.add_app(store, tenant, CLI_ACTOR, name="db-admin", url="https://db.acme-corp.test", groups_granted=["db"])
    with store.read() as conn:
        snap = load_full(conn)
    deep = next(u for u in snap.users.values() if u.email == "deep@acme.test")
    seller = next(u for u in snap.users.values() if u.email == "seller@acme.test")
    wiki = next(a for a in snap.apps.values() if a.name == "wiki")
    db_admin = next(a for a in snap.apps.values() if a.name == "db-admin")
    assert deep.groups_header == "backend,db,eng"
    assert may_enter(deep.groups, wiki.all_users, wiki.granted)
    assert may_enter(deep.groups, db_admin.all_users, db_admin.granted)
    assert not may_enter(seller.groups, wiki.all_users, wiki.granted)
    # The grant covers descendants, never ancestors: a member of "eng" alone is not in "db".
    eng_only = with_ancestors([groups.get_group(store, tenant, "eng").id], {})
    assert not may_enter(eng_only, db_admin.all_users, db_admin.granted)


def test_with_ancestors_stops_on_a_corrupt_loop():
    assert with_ancestors([1], {1: 2, 2: 1}) == frozenset({1, 2})


def test_deleting_a_group_in_use_is_refused_saying_what_it_would_remove(store, tenant):
    groups.add_group(store, tenant, CLI_ACTOR, "staff")
    users.add_user(store, tenant, CLI_ACTOR, email="ann@acme.test")
    groups.add_member(store, tenant, CLI_ACTOR, "staff", "ann@acme.test")
    domains.add_domain(store, tenant, CLI_ACTOR, "acme-corp.test", "auth.acme-corp.test")
    apps.add_app(store, tenant, CLI_ACTOR, name="wiki", url="https://wiki.acme-corp.test", groups_granted=["staff"])
    with pytest.raises(Conflict, match=r'"staff" is in use: deleting it removes 1 membership and its grant on wiki'):
        groups.delete_group(store, tenant, CLI_ACTOR, "staff")
    assert groups.members(store, tenant, "staff") and apps.app_grant_names(store, tenant, apps.get_app(store, tenant, "wiki").id)
    groups.delete_group(store, tenant, CLI_ACTOR, "staff", force=True)
    assert apps.app_grant_names(store, tenant, apps.get_app(store, tenant, "wiki").id) == []
    groups.add_group(store, tenant, CLI_ACTOR, "empty")
    groups.delete_group(store, tenant, CLI_ACTOR, "empty")  # nothing to lose: no confirmation needed


@pytest.mark.parametrize("first,second", [("staff", "STAFF"), ("Ops/Ærø", "ops/ærø"), ("Straße", "STRASSE")])
def test_group_names_are_unique_regardless_of_case(store, tenant, first, second):
    groups.add_group(store, tenant, CLI_ACTOR, first)
    with pytest.raises(Conflict, match="regardless of case"):
        groups.add_group(store, tenant, CLI_ACTOR, second)
    assert [g.name for g in groups.list_groups(store, tenant)] == [first]


def test_the_database_refuses_a_second_group_differing_only_in_ascii_case(store, tenant):
    """The index behind the service's check, for writers racing past it."""
    from sqlalchemy.exc import IntegrityError

    from ostiary.store.tables import groups as groups_table

    with pytest.raises(IntegrityError):
        with store.write() as conn:
            for name in ("staff", "STAFF"):
                conn.execute(groups_table.insert().values(tenant_id=tenant, name=name, created_at=0.0))
