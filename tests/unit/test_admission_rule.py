"""The one admission rule (ostiary.access.admission), as a table: what /check
(gate/decide.py) and the handshake's /authorize (portal/handshake.py) both
ask, in the order docs/contract.md §3 gives (rows 8, 9, 10)."""

from __future__ import annotations

import pytest

from ostiary.access import (
    ADMITTED, FORBIDDEN, NOT_SIGNED_IN, SECOND_FACTOR, admission, policy_requires, second_factor_owed,
)
from ostiary.snapshot.model import AppView, UserView

TENANT = 1


def _user(active=True, tenant_id=TENANT, groups=(10,)) -> UserView:
    return UserView(7, tenant_id, "ada", "ada@acme.test", "Ada", active, frozenset(groups), "staff")


def _app(all_users=False, granted=(10,), require_2fa=False) -> AppView:
    return AppView(3, TENANT, 5, "grafana", "https://grafana.acme.test", "grafana.acme.test", None, "/",
                   frozenset(), (), ("user",), all_users, frozenset(granted), True, require_2fa)


@pytest.mark.parametrize("user, app, second_factor, expected", [
    (_user(), _app(), False, ADMITTED),
    (_user(groups=(11,)), _app(all_users=True), False, ADMITTED),
    (None, _app(), True, NOT_SIGNED_IN),
    (_user(active=False), _app(), True, NOT_SIGNED_IN),
    (_user(tenant_id=2), _app(all_users=True), True, NOT_SIGNED_IN),
    (_user(), _app(require_2fa=True), False, SECOND_FACTOR),
    (_user(), _app(require_2fa=True), True, ADMITTED),
    (_user(groups=(11,)), _app(), True, FORBIDDEN),
    (_user(groups=()), _app(granted=()), True, FORBIDDEN),
    # The second factor is asked before membership: a password alone tells nobody
    # which apps an account may enter.
    (_user(groups=(11,)), _app(require_2fa=True), False, SECOND_FACTOR),
    (_user(active=False, groups=(11,)), _app(require_2fa=True), False, NOT_SIGNED_IN),
], ids=["member", "open_to_all", "unknown_user", "disabled", "other_tenant", "no_second_factor",
        "second_factor", "not_a_member", "nothing_granted", "second_factor_before_membership",
        "disabled_before_second_factor"])
def test_admission_decides_in_the_contracts_order(user, app, second_factor, expected):
    assert admission(user, TENANT, app, second_factor) == expected


@pytest.mark.parametrize("user, app, second_factor, owed, expected", [
    (_user(), _app(), False, True, SECOND_FACTOR),
    (_user(), _app(), True, True, ADMITTED),
    (_user(), _app(), False, False, ADMITTED),
    (_user(groups=(11,)), _app(), False, True, SECOND_FACTOR),  # before membership, as an app's requirement
    (_user(active=False), _app(), False, True, NOT_SIGNED_IN),
    (_user(), _app(require_2fa=True), False, False, SECOND_FACTOR),
], ids=["owed_not_passed", "owed_passed", "not_owed", "owed_before_membership", "disabled_before_owed",
        "app_requires_whatever_is_owed"])
def test_a_person_who_owes_a_second_factor_is_asked_for_it_on_every_app(user, app, second_factor, owed, expected):
    assert admission(user, TENANT, app, second_factor, owed) == expected


@pytest.mark.parametrize("enrolled, policy, is_admin, owed", [
    (False, "off", False, False), (False, "off", True, False), (True, "off", False, True),
    (False, "admins", False, False), (False, "admins", True, True), (True, "admins", False, True),
    (False, "everyone", False, True), (False, None, True, False),
])
def test_who_owes_a_second_factor_one_rule_for_the_portal_and_the_gate(enrolled, policy, is_admin, owed):
    assert second_factor_owed(enrolled, policy, is_admin) is owed
    assert policy_requires(policy, is_admin) is (policy == "everyone" or (policy == "admins" and is_admin))


def test_the_policy_is_read_in_one_place():
    """Who a policy covers is decided by access.policy_requires alone: the portal's
    session lookup, the invitation page and the gate all call it."""
    import re
    from pathlib import Path

    src = Path(__file__).parents[2] / "src" / "ostiary"
    readers = sorted(str(p.relative_to(src)) for p in src.rglob("*.py")
                     if re.search(r'==\s*"(everyone|admins)"', p.read_text(encoding="utf-8")))
    assert readers == ["access.py"], readers
