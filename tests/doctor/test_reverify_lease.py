"""The re-verification lease: one worker of the installation runs a round at a time, on SQLite and
PostgreSQL alike; a lease left by a worker that died expires."""

from __future__ import annotations

import time

from ostiary.config import Settings
from ostiary.services.rules import domains as domains_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.jobs.reverifier import Reverifier, release_lease, take_lease


def test_only_one_holder_gets_the_lease_until_it_is_released(store):
    assert take_lease(store, "worker-a", 60)
    assert not take_lease(store, "worker-b", 60)
    assert take_lease(store, "worker-a", 60)  # the holder may renew it
    release_lease(store, "worker-b")  # not b's to release: nothing happens
    assert not take_lease(store, "worker-b", 60)
    release_lease(store, "worker-a")
    assert take_lease(store, "worker-b", 60)


def test_a_lease_left_by_a_worker_that_died_expires(store):
    assert take_lease(store, "died", 30, now=time.time() - 60)
    assert take_lease(store, "worker-b", 60)


def test_no_new_round_starts_within_half_an_interval_of_the_last(store, db_url, dns):
    settings = Settings(database_url=db_url, dns_resolvers=dns.resolvers_env, dns_timeout=2.0)
    first, second = Reverifier(store, settings, interval=60), Reverifier(store, settings, interval=60)
    assert first.run_once() == []
    assert second.run_once() is None
    assert first.run_once() is None
    assert Reverifier(store, settings, interval=0.0).run_once() == []


def test_a_worker_skips_the_round_while_another_holds_the_lease(store, tenant_id, db_url, dns, add_domain):
    add_domain("acme-corp.test", "auth.acme-corp.test")
    domains_service.record_verification(store, tenant_id, CLI_ACTOR, "acme-corp.test", True, "verified for the test")
    dns.restart(txt={})  # the record is gone: a round would flag the domain
    settings = Settings(database_url=db_url, dns_resolvers=dns.resolvers_env, dns_timeout=2.0)
    assert take_lease(store, "another-instance", 60)
    assert Reverifier(store, settings, interval=0.0).run_once() is None
    assert domains_service.get_domain(store, tenant_id, "acme-corp.test").flagged_at is None
    release_lease(store, "another-instance")
    assert Reverifier(store, settings, interval=0.0).run_once() is not None
    assert domains_service.get_domain(store, tenant_id, "acme-corp.test").flagged_at is not None


def test_two_reverifiers_on_one_database_never_run_a_round_at_the_same_time(
        store, tenant_id, db_url, dns, add_domain, slow_dns):
    # Each round waits on a slow DNS server, so rounds would overlap without the lease.
    slow_dns.delay = 0.3
    add_domain("slow.test", "login.slow.test")
    domains_service.record_verification(store, tenant_id, CLI_ACTOR, "slow.test", True, "verified for the test")
    dns.restart(forward={"slow.test": slow_dns.address})
    settings = Settings(database_url=db_url, dns_resolvers=dns.resolvers_env, dns_timeout=2.0)
    workers = [Reverifier(store, settings, interval=0.1, first_delay=0.0) for _ in range(2)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 15
    while sum(len(worker.rounds) for worker in workers) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    for worker in workers:
        worker.stop()
    rounds = sorted(r for worker in workers for r in worker.rounds)
    assert len(rounds) >= 4, rounds
    for (_, end), (next_start, _) in zip(rounds, rounds[1:]):
        assert next_start >= end, f"two rounds overlapped: {rounds}"
    assert all(end - start >= 0.25 for start, end in rounds), "a round did not wait for the slow server"
