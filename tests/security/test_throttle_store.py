"""The throttle's rules on the shared store, on SQLite and PostgreSQL (every
instance reads and writes the same rows)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ostiary.services.rules import tenants, throttle, users
from ostiary.services.base.actor import CLI_ACTOR

T = 1  # tenant id: the throttle keys only name it


def _fail(store, login, addr, now, times=1):
    return [throttle.begin_sign_in(store, T, login, addr, now=now).allowed for _ in range(times)]


def test_an_account_address_pair_is_blocked_after_five_failures_and_the_block_doubles(store):
    now = 1_000_000.0
    assert _fail(store, "alice@acme.test", "203.0.113.1", now, 6) == [True] * 5 + [False]
    verdict = throttle.begin_sign_in(store, T, "alice@acme.test", "203.0.113.1", now=now + 1)
    assert not verdict.allowed and 55 < verdict.retry_after <= 60
    # After the first block: one more try, then a block twice as long.
    assert _fail(store, "alice@acme.test", "203.0.113.1", now + 61, 2) == [True, False]
    verdict = throttle.begin_sign_in(store, T, "alice@acme.test", "203.0.113.1", now=now + 62)
    assert 115 < verdict.retry_after <= 120


def test_the_login_is_compared_without_case_or_surrounding_space(store):
    now = 1_000_000.0
    for login in ("Bob@Acme.test", " bob@acme.test", "BOB@ACME.TEST", "bob@acme.test ", "bob@acme.test"):
        assert throttle.begin_sign_in(store, T, login, "203.0.113.2", now=now).allowed
    assert not throttle.begin_sign_in(store, T, "bob@ACME.test", "203.0.113.2", now=now).allowed


def test_an_address_is_blocked_after_twenty_failures_across_accounts(store):
    now = 1_000_000.0
    results = [throttle.begin_sign_in(store, T, f"user{i}@acme.test", "203.0.113.3", now=now).allowed
               for i in range(30)]
    assert results == [True] * 20 + [False] * 10
    assert throttle.begin_sign_in(store, T, "someone@acme.test", "203.0.113.4", now=now).allowed


def test_an_account_under_attack_gives_each_new_address_one_try_and_never_locks_out(store):
    now = 1_000_000.0
    for i in range(throttle.ACCOUNT_SOFT_LIMIT // 2):
        assert _fail(store, "carol@acme.test", f"198.51.100.{i}", now, 2) == [True] * 2
    # At the soft limit the account is under attack; an address that failed before is refused...
    assert not throttle.begin_sign_in(store, T, "carol@acme.test", "198.51.100.0", now=now + 120).allowed
    # ...an address that never failed still gets its try (the real person signs in)...
    assert throttle.begin_sign_in(store, T, "carol@acme.test", "192.0.2.10", now=now + 120).allowed
    throttle.sign_in_succeeded(store, T, "carol@acme.test", "192.0.2.10")
    assert throttle.begin_sign_in(store, T, "carol@acme.test", "192.0.2.10", now=now + 121).allowed
    # ...but a new address that fails once is blocked at once.
    assert throttle.begin_sign_in(store, T, "carol@acme.test", "192.0.2.11", now=now + 121).allowed
    assert not throttle.begin_sign_in(store, T, "carol@acme.test", "192.0.2.11", now=now + 122).allowed


def test_a_success_forgets_the_pair_and_refunds_the_address(store):
    now = 1_000_000.0
    _fail(store, "dave@acme.test", "203.0.113.5", now, 4)
    assert throttle.begin_sign_in(store, T, "dave@acme.test", "203.0.113.5", now=now).allowed
    throttle.sign_in_succeeded(store, T, "dave@acme.test", "203.0.113.5")
    pair, addr, account = throttle.sign_in_keys(T, throttle.account_of(store, T, "dave@acme.test"), "203.0.113.5")
    assert throttle.state(store, pair) is None
    assert throttle.state(store, addr) == (4, None)
    assert throttle.state(store, account) == (4, None)


def test_failures_are_forgotten_after_a_quiet_window(store):
    now = 1_000_000.0
    _fail(store, "erin@acme.test", "203.0.113.6", now, 5)
    assert not throttle.begin_sign_in(store, T, "erin@acme.test", "203.0.113.6", now=now + 30).allowed
    later = now + 60 + throttle.WINDOW + 1
    assert throttle.begin_sign_in(store, T, "erin@acme.test", "203.0.113.6", now=later).allowed
    assert throttle.state(store, throttle.sign_in_keys(T, throttle.account_of(store, T, "erin@acme.test"), "203.0.113.6")[0])[0] == 1
    assert throttle.prune(store, now=later + 2 * throttle.WINDOW) >= 1


def test_concurrent_guesses_cannot_slip_past_the_limit(store):
    def attempt(_):
        return throttle.begin_sign_in(store, T, "fay@acme.test", "203.0.113.7").allowed

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(40)))
    assert results.count(True) == throttle.PAIR_LIMIT


def test_the_second_factor_step_is_throttled_per_user(store):
    now = 1_000_000.0
    results = [throttle.begin_second_factor(store, T, 42, now=now).allowed for _ in range(7)]
    assert results == [True] * 5 + [False] * 2
    throttle.second_factor_succeeded(store, T, 42)
    assert throttle.begin_second_factor(store, T, 42, now=now).allowed


def test_a_username_and_an_email_of_one_account_share_one_budget(store):
    """Attack: alternating `bob` and `bob@acme-corp.test` to get twice the guesses."""
    tenant = tenants.add_tenant(store, "acme", CLI_ACTOR).id
    users.add_user(store, tenant, CLI_ACTOR, email="bob@acme-corp.test", username="bob", password="correct horse battery")
    now = 1_000_000.0
    logins = ["bob", "bob@acme-corp.test", "BOB@acme-corp.test", " bob"] * 3
    results = [throttle.begin_sign_in(store, tenant, login, "203.0.113.9", now=now).allowed for login in logins]
    assert results == [True] * throttle.PAIR_LIMIT + [False] * (len(logins) - throttle.PAIR_LIMIT)
    assert throttle.account_of(store, tenant, "bob") == throttle.account_of(store, tenant, "Bob@ACME-corp.test")


def test_a_login_that_resolves_to_no_one_is_throttled_on_the_login_as_typed(store):
    tenant = tenants.add_tenant(store, "acme", CLI_ACTOR).id
    users.add_user(store, tenant, CLI_ACTOR, email="bob@acme-corp.test", username="bob", password="correct horse battery")
    now = 1_000_000.0
    tries = [throttle.begin_sign_in(store, tenant, "Nobody@acme-corp.test", "203.0.113.10", now=now).allowed
             for _ in range(6)]
    assert tries == [True] * 5 + [False]
    assert not throttle.begin_sign_in(store, tenant, "nobody@acme-corp.test ", "203.0.113.10", now=now).allowed
    # A real account guessed from the same address keeps its own budget.
    assert throttle.begin_sign_in(store, tenant, "bob", "203.0.113.10", now=now).allowed
