"""Protected domains in DNS: the TXT challenge, registration name rules, re-verification and doctor checks."""

from ostiary.dns.names import (
    domain_problem,
    host_name_problem,
    is_public_suffix,
    normalise_domain,
    portal_host_problem,
    registration_problems,
)
from ostiary.dns.reverification import (
    TrackedDomain,
    Transition,
    check_many,
    next_state,
    recheck_domains,
)
from ostiary.dns.verification import (
    ChallengeResult,
    challenge_name,
    check_challenge,
    expected_value,
)

__all__ = [
    "ChallengeResult",
    "TrackedDomain",
    "Transition",
    "challenge_name",
    "check_challenge",
    "check_many",
    "domain_problem",
    "expected_value",
    "host_name_problem",
    "is_public_suffix",
    "next_state",
    "normalise_domain",
    "portal_host_problem",
    "recheck_domains",
    "registration_problems",
]
