import time
from datetime import datetime, timedelta, timezone

import pytest

from ostiary.dns.recheck import TrackedDomain, check_many, next_state, recheck_domains
from ostiary.dns.verification import check_challenge

from tests.dns.dns_cases import GOOD_DOMAINS, SLOW_DELAY

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
GRACE = timedelta(hours=24)


def tracked(state, flagged_since=None):
    return TrackedDomain("moving.test", "tok-moving", state, flagged_since)


def recheck(own_dns, domain, now, resolvers=None):
    (transition,) = recheck_domains(
        [domain], now=now, grace=GRACE, resolvers=resolvers or own_dns.resolvers, timeout=1.0, overall_timeout=3.0
    )
    return transition


def test_verified_domain_whose_record_is_still_there_stays_verified(own_dns):
    transition = recheck(own_dns, tracked("verified"), T0)
    assert (transition.state, transition.changed, transition.flagged_since) == ("verified", False, None)


def test_record_removed_after_verification_is_flagged_then_disabled_after_the_grace_period(own_dns):
    own_dns.restart(txt={})

    flagged = recheck(own_dns, tracked("verified"), T0)
    assert (flagged.previous_state, flagged.state, flagged.flagged_since) == ("verified", "flagged", T0)
    assert flagged.changed
    assert "record missing, flagged" in flagged.reason and "NXDOMAIN" in flagged.reason

    still_flagged = recheck(own_dns, tracked("flagged", T0), T0 + GRACE - timedelta(seconds=1))
    assert (still_flagged.state, still_flagged.flagged_since, still_flagged.changed) == ("flagged", T0, False)

    disabled = recheck(own_dns, tracked("flagged", T0), T0 + GRACE)
    assert (disabled.state, disabled.flagged_since) == ("disabled", T0)
    assert "disabled" in disabled.reason


def test_flagged_domain_whose_record_returns_is_verified_again(own_dns):
    own_dns.restart(txt={})
    flagged = recheck(own_dns, tracked("verified"), T0)
    own_dns.restart(txt={"_ostiary-challenge.moving.test": ["ostiary-domain-verification=tok-moving"]})
    back = recheck(own_dns, tracked(flagged.state, flagged.flagged_since), T0 + timedelta(hours=1))
    assert (back.state, back.flagged_since, back.changed) == ("verified", None, True)


def test_record_with_a_changed_value_flags_the_domain(own_dns):
    own_dns.restart(txt={"_ostiary-challenge.moving.test": ["ostiary-domain-verification=another"]})
    assert recheck(own_dns, tracked("verified"), T0).state == "flagged"


def test_unreachable_dns_keeps_the_state_instead_of_flagging_or_disabling(own_dns, silent_dns):
    kept = recheck(own_dns, tracked("verified"), T0, resolvers=[silent_dns.address])
    assert (kept.state, kept.changed) == ("verified", False)
    assert "could not re-check" in kept.reason
    still = recheck(own_dns, tracked("flagged", T0), T0 + 2 * GRACE, resolvers=[silent_dns.address])
    assert (still.state, still.flagged_since) == ("flagged", T0)


@pytest.mark.parametrize("state", ["pending", "failed", "disabled"])
def test_pending_failed_and_disabled_domains_are_not_rechecked_in_the_background(own_dns, state):
    assert recheck_domains(
        [tracked(state)], now=T0, grace=GRACE, resolvers=own_dns.resolvers, timeout=1, overall_timeout=2
    ) == []
    result = check_challenge("moving.test", "tok-moving", own_dns.resolvers, 1)
    assert next_state(tracked(state), result, T0, GRACE).state == state


def test_a_slow_domain_does_not_stall_checks_of_the_others(resolvers):
    # slow.test is forwarded by dnsmasq to a server that waits SLOW_DELAY s before answering
    finished_at = {}
    started = time.monotonic()

    def timed_check(domain, token, resolvers, timeout):
        result = check_challenge(domain, token, resolvers, timeout)
        finished_at[domain] = time.monotonic() - started
        return result

    pairs = [("slow.test", "tok-slow")] + [(d, f"tok-{d}") for d in GOOD_DOMAINS]
    results = check_many(pairs, resolvers=resolvers, timeout=SLOW_DELAY + 2, overall_timeout=SLOW_DELAY + 3, max_workers=2, check=timed_check)

    assert all(results[d].verified for d in GOOD_DOMAINS), {d: results[d].reason for d in GOOD_DOMAINS}
    assert max(finished_at[d] for d in GOOD_DOMAINS) < 1.5
    # the slow one was answered too, just later
    assert results["slow.test"].verified and finished_at["slow.test"] >= SLOW_DELAY


def test_the_overall_bound_reports_unfinished_checks_as_timeouts_and_returns_on_time(resolvers):
    started = time.monotonic()
    pairs = [("slow.test", "tok-slow")] + [(d, f"tok-{d}") for d in GOOD_DOMAINS]
    results = check_many(pairs, resolvers=resolvers, timeout=SLOW_DELAY + 2, overall_timeout=1.0)
    elapsed = time.monotonic() - started

    assert elapsed < 1.8
    assert all(results[d].verified for d in GOOD_DOMAINS)
    slow = results["slow.test"]
    assert (slow.status, slow.kind, slow.conclusive) == ("failed", "timeout", False)
    assert "did not finish within the overall bound of 1 s" in slow.reason


def test_recheck_pass_over_many_domains_flags_only_the_one_whose_record_is_gone(resolvers):
    domains = [TrackedDomain(d, f"tok-{d}", "verified") for d in GOOD_DOMAINS] + [
        TrackedDomain("nowhere.test", "tok", "verified"),
        TrackedDomain("slow.test", "tok-slow", "verified"),
    ]
    transitions = {t.domain: t for t in recheck_domains(domains, now=T0, grace=GRACE, resolvers=resolvers, timeout=0.5, overall_timeout=2)}
    assert transitions["nowhere.test"].state == "flagged"
    assert transitions["slow.test"].state == "verified"  # timed out: kept, not flagged
    assert all(transitions[d].state == "verified" and not transitions[d].changed for d in GOOD_DOMAINS)


def test_transitions_work_on_epoch_seconds_as_the_store_keeps_them(own_dns):
    own_dns.restart(txt={})
    result = check_challenge("moving.test", "tok-moving", own_dns.resolvers, 1)
    t0 = T0.timestamp()
    flagged = next_state(TrackedDomain("moving.test", "tok-moving", "verified"), result, t0, 3600.0)
    assert (flagged.state, flagged.flagged_since) == ("flagged", t0)
    assert next_state(TrackedDomain("moving.test", "tok-moving", "flagged", t0), result, t0 + 3599, 3600).state == "flagged"
    disabled = next_state(TrackedDomain("moving.test", "tok-moving", "flagged", t0), result, t0 + 3600, timedelta(hours=1))
    assert disabled.state == "disabled" and "2026-01-01T12:00:00+00:00" in disabled.reason


def test_check_many_of_nothing_returns_nothing_at_once(resolvers):
    assert check_many([], resolvers=resolvers, timeout=1, overall_timeout=1) == {}
