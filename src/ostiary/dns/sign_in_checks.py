"""The checks behind `ostiary doctor` (services/queries/sign_in_doctor.py runs them): each returns a
Finding in plain words, with the fix.

A finding with severity ERROR means sign-in would break; the doctor exits non-zero on any.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence
from urllib.parse import urlsplit

from ostiary.dns import lookup as dnslookup
from ostiary.dns.names import is_ip_address, is_public_suffix, normalise_domain, portal_host_problem
from ostiary.dns.resolvers import Resolvers
from ostiary.dns.status import DomainStatus
from ostiary.dns.verification import DEFAULT_TIMEOUT, check_challenge

OK = "ok"
INFO = "info"  # nothing to check, or checked and fine but worth knowing
WARNING = "warning"  # works now, may not later
ERROR = "error"  # sign-in breaks

DEFAULT_MAX_CLOCK_OFFSET = 30.0  # seconds; signed tokens and TOTP codes tolerate about this much


@dataclass(frozen=True)
class Finding:
    check: str  # a short stable name, e.g. "portal-host-resolves"
    ok: bool
    severity: str
    message: str
    fix: str = ""

    @property
    def breaks_sign_in(self) -> bool:
        return self.severity == ERROR


def _ok(check: str, message: str, severity: str = OK) -> Finding:
    return Finding(check, True, severity, message)


def _bad(check: str, severity: str, message: str, fix: str) -> Finding:
    return Finding(check, False, severity, message, fix)


def check_portal_host_under_domain(portal_host: str, domain: str) -> Finding:
    problem = portal_host_problem(portal_host, domain)
    if problem:
        message, _, fix = problem.partition(": ")
        return _bad("portal-host-under-domain", ERROR, message, fix or "choose another portal host")
    return _ok("portal-host-under-domain", f'portal host "{portal_host}" is under "{normalise_domain(domain)}"')


def check_domain_verified(domain: str, state: str, verified_at: datetime | float | None, reason: str = "") -> Finding:
    """Reports the stored verification state; the doctor reads it from the store (times as datetime or epoch seconds)."""
    check = "domain-verified"
    if state == DomainStatus.VERIFIED:
        if verified_at is not None and not isinstance(verified_at, datetime):
            verified_at = datetime.fromtimestamp(verified_at, tz=timezone.utc)
        when = f" on {verified_at.isoformat(timespec='seconds')}" if verified_at else ""
        return _ok(check, f'domain "{domain}" is verified{when}')
    fix = f"publish the TXT record shown for the domain, then run `ostiary domain verify {domain}`"
    detail = f": {reason}" if reason else ""
    if state == DomainStatus.FLAGGED:
        return _bad(check, WARNING, f'domain "{domain}" is flagged: its TXT record went missing at the last re-check{detail}', fix)
    return _bad(check, ERROR, f'domain "{domain}" is {state}, not verified{detail}', fix)


@dataclass(frozen=True)
class Resolution:
    host: str
    addresses: tuple[str, ...]
    problem: str = ""  # empty when at least one address was found
    fix: str = ""  # for a resolver that did not answer; empty for an answer without addresses


def resolve_host(host: str, resolvers: Resolvers | None, timeout: float = DEFAULT_TIMEOUT) -> Resolution:
    """A and AAAA addresses of `host`; both are asked for, and either is enough."""
    found: list[str] = []
    failures: list[dnslookup.Lookup] = []
    for rdtype in ("A", "AAAA"):
        answer = dnslookup.lookup(host, rdtype, resolvers, timeout)
        if answer.outcome == dnslookup.ANSWER:
            found.extend(rdata.address for rdata in answer.records)
        else:
            failures.append(answer)
            if not answer.definitive:
                break  # the server did not answer A; asking for AAAA would only double the wait
    if found:
        return Resolution(host, tuple(found))
    # Prefer the most telling failure: a server error over "no AAAA record".
    worst = next((f for f in failures if not f.definitive), failures[0])
    reason = dnslookup.describe_failure(worst)
    if worst.outcome == dnslookup.NO_DATA:
        reason = f'"{host}" has no A or AAAA record'
    elif worst.outcome == dnslookup.NXDOMAIN:
        reason = f'"{host}" does not exist in DNS (NXDOMAIN)'
    return Resolution(host, (), reason, dnslookup.resolver_fix(worst))


def check_host_resolves(host: str, resolvers: Resolvers | None, timeout: float = DEFAULT_TIMEOUT, *, role: str = "host") -> Finding:
    resolution = resolve_host(host, resolvers, timeout)
    check = f"{role.replace(' ', '-')}-resolves"
    if resolution.addresses:
        return _ok(check, f'{role} "{host}" resolves to {", ".join(resolution.addresses)}')
    fix = resolution.fix or f'add an A or AAAA record for "{host}" pointing at your reverse proxy'
    return _bad(check, ERROR, f'{role} "{host}" does not resolve: {resolution.problem}', fix)


def check_resolves_to_instance(host: str, resolved: Sequence[str], public_addresses: Sequence[str]) -> Finding:
    """Compare a host's addresses with this instance's configured public addresses."""
    check = "portal-host-points-here"
    if not public_addresses:
        return _ok(check, f'no public addresses configured for this instance; not checked where "{host}" points', INFO)
    bad = [a for a in public_addresses if not is_ip_address(a)]
    if bad:
        return _bad(check, ERROR, f'configured public address "{bad[0]}" is not an IP address', "list this instance's public IPv4/IPv6 addresses")
    ours = {ipaddress.ip_address(a.strip("[]")) for a in public_addresses}
    theirs = {ipaddress.ip_address(a) for a in resolved}
    listed = ", ".join(public_addresses)
    if not theirs:
        return _bad(check, ERROR, f'"{host}" has no addresses, so it cannot reach this instance ({listed})', f'point "{host}" at {listed}')
    matching, stray = theirs & ours, theirs - ours
    if not matching:
        return _bad(
            check,
            ERROR,
            f'"{host}" resolves to {_join(theirs)}, none of which is this instance ({listed})',
            f'change the A/AAAA records of "{host}" to {listed}, or correct the configured public addresses',
        )
    if stray:
        return _bad(
            check,
            WARNING,
            f'"{host}" resolves to {_join(theirs)}; {_join(stray)} is not this instance ({listed}), so some sign-ins may go elsewhere',
            f'remove {_join(stray)} from the records of "{host}", or add it to the configured public addresses',
        )
    return _ok(check, f'"{host}" resolves to this instance ({_join(matching)})')


def _join(addresses) -> str:
    return ", ".join(sorted(str(a) for a in addresses))


def check_record_present(domain: str, token: str, resolvers: Resolvers | None, timeout: float = DEFAULT_TIMEOUT) -> Finding:
    result = check_challenge(domain, token, resolvers, timeout)
    if result.verified:
        return _ok("challenge-record-present", f'the TXT record "{result.record_name}" is still in place')
    message, fix = result.message, result.fix
    # The domain keeps working until re-verification disables it, so a missing record is an error:
    # left alone, sign-in will break.
    severity = ERROR if result.conclusive else WARNING
    return _bad("challenge-record-present", severity, message, fix or f'add a TXT record named "{result.record_name}" with the value "{result.expected}"')


def cookie_domain_problem(cookie_domain: str, host: str) -> str | None:
    """Why a browser at `host` would refuse a cookie with `Domain=cookie_domain` (RFC 6265 5.3), or None."""
    domain = normalise_domain(cookie_domain.lstrip("."))
    host = normalise_domain(host)
    if is_ip_address(host):
        return f'the page is served from the IP address "{host}", and browsers ignore a cookie Domain there'
    if host != domain and not host.endswith("." + domain):
        return f'"{host}" is not "{domain}" or under it, so the browser drops a cookie with Domain={domain}'
    if is_public_suffix(domain) and host != domain:
        return f'"{domain}" is a public suffix, so browsers refuse a cookie with Domain={domain}'
    return None


def check_cookie_domain(cookie_domain: str, host: str) -> Finding:
    problem = cookie_domain_problem(cookie_domain, host)
    if problem:
        return _bad(
            "cookie-domain-accepted",
            ERROR,
            problem,
            f'set the cookie domain to a registrable domain that "{host}" is under, such as the protected domain',
        )
    return _ok("cookie-domain-accepted", f'browsers accept a cookie with Domain={normalise_domain(cookie_domain.lstrip("."))} from "{host}"')


def check_https(url: str, *, role: str = "app URL") -> Finding:
    parts = urlsplit(url)
    check = "url-is-https"
    if parts.scheme.lower() == "https" and parts.hostname:
        return _ok(check, f'{role} "{url}" uses https')
    if parts.scheme.lower() == "http":
        return _bad(
            check,
            ERROR,
            f'{role} "{url}" uses http, so the browser never sends the Secure sign-in cookie to it',
            f'serve it over https and change the URL to "https://{url.split("://", 1)[1]}"',
        )
    return _bad(check, ERROR, f'{role} "{url}" is not an https URL with a host name', 'write it as "https://host/path"')


def check_clock(
    ntp_server: str | None,
    timeout: float = 2.0,
    max_offset: float = DEFAULT_MAX_CLOCK_OFFSET,
) -> Finding:
    """Compare this machine's clock with `ntp_server` ("host" or "host:port"); no network call when None."""
    check = "clock-offset"
    if not ntp_server:
        return _ok(check, "no NTP server configured; clock not checked", INFO)
    import ntplib  # only when asked: most doctor runs have no NTP server configured

    host, port = _split_host_port(ntp_server, default_port=123)
    try:
        response = ntplib.NTPClient().request(host, port=port, version=3, timeout=timeout)
    except (ntplib.NTPException, OSError) as exc:
        return _bad(
            check,
            WARNING,
            f'could not ask the NTP server "{ntp_server}" for the time ({exc}); clock not checked',
            "check that the NTP server is reachable over UDP, or remove it from the configuration",
        )
    offset = response.offset
    direction = "ahead of" if offset < 0 else "behind"
    if abs(offset) > max_offset:
        return _bad(
            check,
            ERROR,
            f'this machine\'s clock is {abs(offset):.1f} s {direction} "{ntp_server}" (more than {max_offset:g} s), so tokens and codes expire wrongly',
            "synchronise the clock (for example enable systemd-timesyncd or chrony)",
        )
    return _ok(check, f'clock is within {abs(offset):.2f} s of "{ntp_server}"')


def _split_host_port(value: str, default_port: int) -> tuple[str, int]:
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, int(port)
    return value, default_port
