import time

import pytest

from ostiary.dns.verification import challenge_name, check_challenge, expected_value
from ostiary.dns import verification as v

from tests.dns.dns_cases import TOKENS


def test_challenge_name_and_value_follow_the_spec():
    assert challenge_name("acme-corp.test") == "_ostiary-challenge.acme-corp.test"
    assert expected_value("abc123") == "ostiary-domain-verification=abc123"


def test_challenge_name_normalises_case_and_trailing_dot():
    assert challenge_name("Acme-Corp.TEST.") == "_ostiary-challenge.acme-corp.test"


def test_record_present_is_verified(resolvers):
    result = check_challenge("acme-corp.test", TOKENS["acme-corp.test"], resolvers, timeout=2)
    assert (result.status, result.kind) == ("verified", "verified")
    assert result.verified and result.conclusive
    assert result.found == ("ostiary-domain-verification=tok-acme",)
    assert '"_ostiary-challenge.acme-corp.test" holds "ostiary-domain-verification=tok-acme"' in result.reason


def test_the_right_value_among_several_txt_records_on_one_name_is_verified(resolvers):
    result = check_challenge("homelab.test", TOKENS["homelab.test"], resolvers, timeout=2)
    assert result.verified
    assert len(result.found) == 3
    assert "v=spf1 -all" in result.found


def test_a_record_split_into_several_character_strings_is_joined_and_verified(resolvers):
    result = check_challenge("split.test", TOKENS["split.test"], resolvers, timeout=2)
    assert result.verified, result.reason
    assert result.found == ("ostiary-domain-verification=tok-split-0123456789",)


def test_a_token_from_another_record_on_the_same_name_is_not_accepted(resolvers):
    result = check_challenge("homelab.test", "an-older", resolvers, timeout=2)
    assert (result.status, result.kind) == ("failed", "wrong_value")


def test_wrong_value_fails_and_says_what_was_found_and_what_to_set(resolvers):
    result = check_challenge("wrong.test", TOKENS["wrong.test"], resolvers, timeout=2)
    assert (result.status, result.kind) == ("failed", "wrong_value")
    assert result.conclusive
    assert '"ostiary-domain-verification=someone-elses-token"' in result.reason
    assert 'set the value to "ostiary-domain-verification=tok-wrong"' in result.reason


def test_name_without_txt_record_fails_as_absent_with_the_record_to_add(resolvers):
    result = check_challenge("absent.test", TOKENS["absent.test"], resolvers, timeout=2)
    assert (result.status, result.kind) == ("failed", "absent")
    assert "exists in DNS but has no TXT record" in result.reason
    assert 'add a TXT record named "_ostiary-challenge.absent.test" with the value "ostiary-domain-verification=tok-absent"' in result.reason


def test_name_that_does_not_exist_fails_as_nxdomain(resolvers):
    result = check_challenge("nowhere.test", "tok", resolvers, timeout=2)
    assert (result.status, result.kind) == ("failed", "nxdomain")
    assert result.conclusive
    assert "does not exist in DNS (NXDOMAIN)" in result.reason
    assert 'add a TXT record named "_ostiary-challenge.nowhere.test"' in result.reason


def test_silent_server_fails_as_timeout_within_the_bound_and_names_the_server(silent_dns):
    started = time.monotonic()
    result = check_challenge("acme-corp.test", "tok-acme", [silent_dns.address], timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert (result.status, result.kind) == ("failed", "timeout")
    assert not result.conclusive
    assert f"127.0.0.1:{silent_dns.port}" in result.reason
    assert "OSTIARY_DNS_RESOLVERS" in result.reason
    assert silent_dns.queries >= 1


def test_server_that_refuses_fails_as_server_failure_naming_the_answer(resolvers, dns_server):
    # dnsmasq has no upstream, so it refuses names outside its local zones
    result = check_challenge("acme-corp.example", "tok", resolvers, timeout=2)
    assert (result.status, result.kind) == ("failed", "server_failure")
    assert not result.conclusive
    assert f"{dns_server.resolvers_env} answered REFUSED" in result.reason


def test_a_good_resolver_listed_after_a_silent_one_still_verifies(dns_server, silent_dns):
    result = check_challenge("acme-corp.test", "tok-acme", [silent_dns.address, dns_server.address], timeout=3)
    assert result.verified, result.reason


def test_checks_are_not_cached_between_calls(own_dns):
    assert check_challenge("moving.test", "tok-moving", own_dns.resolvers, timeout=2).verified
    own_dns.restart(txt={})
    assert check_challenge("moving.test", "tok-moving", own_dns.resolvers, timeout=2).kind == "nxdomain"


def test_invalid_domain_fails_without_asking_dns(silent_dns):
    queries_before = silent_dns.queries
    result = check_challenge("a" * 70 + ".test", "tok", [silent_dns.address], timeout=2)
    assert (result.status, result.kind) == ("failed", "invalid_name")
    assert "is not a valid DNS name" in result.message and "correct the name" in result.fix
    assert silent_dns.queries == queries_before
