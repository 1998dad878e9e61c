"""The TXT challenge that proves a tenant controls a domain (docs/contract.md §6)."""

from __future__ import annotations

from dataclasses import dataclass

from ostiary.dns import lookup as dnslookup
from ostiary.dns.names import normalise_domain
from ostiary.dns.resolvers import Resolvers
from ostiary.dns.status import DomainStatus

CHALLENGE_LABEL = "_ostiary-challenge"
VALUE_PREFIX = "ostiary-domain-verification="
DEFAULT_TIMEOUT = 5.0

# Why a check failed. ABSENT, NXDOMAIN and WRONG_VALUE are answers from DNS: the record is really
# not there. The others mean DNS could not be asked, which says nothing about the record.
ABSENT = "absent"
NXDOMAIN = "nxdomain"
WRONG_VALUE = "wrong_value"
TIMEOUT = "timeout"
SERVER_FAILURE = "server_failure"
NO_RESOLVER = "no_resolver"
INVALID_NAME = "invalid_name"


@dataclass(frozen=True)
class ChallengeResult:
    domain: str
    record_name: str
    expected: str
    status: str  # DomainStatus.VERIFIED or DomainStatus.FAILED
    kind: str  # DomainStatus.VERIFIED, or why it failed
    message: str  # what DNS said, in plain words
    fix: str = ""  # what to do about it; empty when verified
    found: tuple[str, ...] = ()  # the TXT values at the record name, each joined from its strings

    @property
    def reason(self) -> str:
        """The message and the fix in one sentence, as stored and shown."""
        return f"{self.message}: {self.fix}" if self.fix else self.message

    @property
    def verified(self) -> bool:
        return self.status == DomainStatus.VERIFIED

    @property
    def conclusive(self) -> bool:
        """True when DNS answered; False for timeouts and server errors, which prove nothing."""
        return self.kind in (DomainStatus.VERIFIED, ABSENT, NXDOMAIN, WRONG_VALUE)


def challenge_name(domain: str) -> str:
    return f"{CHALLENGE_LABEL}.{normalise_domain(domain)}"


def expected_value(token: str) -> str:
    return f"{VALUE_PREFIX}{token}"


def check_challenge(
    domain: str,
    token: str,
    resolvers: Resolvers | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ChallengeResult:
    """Query the challenge record now (no cache) and say whether it holds this token."""
    name, expected = challenge_name(domain), expected_value(token)
    answer = dnslookup.lookup(name, "TXT", resolvers, timeout)

    def result(status: str, kind: str, message: str, fix: str = "", found: tuple[str, ...] = ()) -> ChallengeResult:
        return ChallengeResult(normalise_domain(domain), name, expected, status, kind, message, fix, found)

    add_record = f'add a TXT record named "{name}" with the value "{expected}"'
    if answer.outcome == dnslookup.ANSWER:
        found = tuple(_txt_value(rdata) for rdata in answer.records)
        if expected in found:
            return result(DomainStatus.VERIFIED, DomainStatus.VERIFIED, f'the TXT record "{name}" holds "{expected}"',
                          found=found)
        return result(DomainStatus.FAILED, WRONG_VALUE, *_wrong_value_reason(name, expected, found), found=found)
    if answer.outcome == dnslookup.NO_DATA:
        return result(DomainStatus.FAILED, ABSENT, dnslookup.describe_failure(answer), add_record)
    if answer.outcome == dnslookup.NXDOMAIN:
        return result(DomainStatus.FAILED, NXDOMAIN, dnslookup.describe_failure(answer), add_record)
    kind = {
        dnslookup.TIMEOUT: TIMEOUT,
        dnslookup.SERVER_FAILURE: SERVER_FAILURE,
        dnslookup.NO_RESOLVER: NO_RESOLVER,
        dnslookup.INVALID_NAME: INVALID_NAME,
    }[answer.outcome]
    return result(DomainStatus.FAILED, kind, dnslookup.describe_failure(answer), dnslookup.resolver_fix(answer))


def _txt_value(rdata) -> str:
    # A TXT record longer than 255 bytes arrives as several strings; they form one value.
    return b"".join(rdata.strings).decode("utf-8", errors="replace")


def _wrong_value_reason(name: str, expected: str, found: tuple[str, ...]) -> tuple[str, str]:
    shown = ", ".join(f'"{value}"' for value in found[:5]) + (", …" if len(found) > 5 else "")
    if any(value.strip().strip('"').strip() == expected for value in found):
        fix = f'remove the quotation marks or spaces around the value so it reads exactly "{expected}"'
    elif any(value.startswith(VALUE_PREFIX) for value in found):
        fix = f'the token is not this domain\'s current one: set the value to "{expected}"'
    else:
        fix = f'add a TXT record named "{name}" with the value "{expected}"'
    noun = "record holds" if len(found) == 1 else "records hold"
    return f'the TXT {noun} {shown} at "{name}", not "{expected}"', fix
