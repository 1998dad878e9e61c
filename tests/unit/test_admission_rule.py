"""The one admission rule (ostiary.access.admission), as a table: what /check
(gate/decide.py) and the handshake's /authorize (portal/handshake.py) both
ask, in the order docs/contract.md §3 gives (rows 8, 9, 10)."""

from __future__ import annotations

import pytest

from ostiary.access import ADMITTED, FORBIDDEN, NOT_SIGNED_IN, SECOND_FACTOR, admission
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
