"""One DNS query, with every way it can go wrong turned into a named outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name
import dns.resolver

from ostiary.dns.resolvers import Resolvers, format_resolvers, make_resolver

# Outcomes: the first three are answers from a server; the rest mean no server answered usefully.
ANSWER = "answer"
NO_DATA = "no_data"  # the name exists, but holds no record of this type
NXDOMAIN = "nxdomain"  # the name does not exist
TIMEOUT = "timeout"
SERVER_FAILURE = "server_failure"  # SERVFAIL, REFUSED or another error from every server
NO_RESOLVER = "no_resolver"  # nothing configured to ask
INVALID_NAME = "invalid_name"

DEFINITIVE_OUTCOMES = frozenset({ANSWER, NO_DATA, NXDOMAIN})


@dataclass(frozen=True)
class Lookup:
    name: str
    rdtype: str
    outcome: str
    records: tuple[Any, ...] = ()
    detail: str = ""  # what the servers said, for messages
    servers: str = ""

    @property
    def definitive(self) -> bool:
        """True when a server gave an authoritative-looking answer, not an error or silence."""
        return self.outcome in DEFINITIVE_OUTCOMES


def lookup(name: str, rdtype: str, resolvers: Resolvers | None, timeout: float) -> Lookup:
    """Ask `resolvers` (or the system's) for `rdtype` records at `name`, never raising for DNS trouble."""
    servers = format_resolvers(resolvers)
    try:
        qname = dns.name.from_text(name)
    except dns.exception.DNSException as exc:
        return Lookup(name, rdtype, INVALID_NAME, detail=str(exc), servers=servers)
    try:
        resolver = make_resolver(resolvers, timeout)
    except dns.resolver.NoResolverConfiguration:
        return Lookup(name, rdtype, NO_RESOLVER, detail="no nameservers in the system configuration", servers=servers)
    try:
        answer = resolver.resolve(qname, rdtype, search=False, lifetime=timeout)
    except dns.resolver.NXDOMAIN:
        return Lookup(name, rdtype, NXDOMAIN, servers=servers)
    except dns.resolver.NoAnswer:
        return Lookup(name, rdtype, NO_DATA, servers=servers)
    except dns.resolver.NoNameservers as exc:
        return Lookup(name, rdtype, SERVER_FAILURE, detail=_server_errors(exc), servers=servers)
    except dns.exception.Timeout:
        return Lookup(name, rdtype, TIMEOUT, detail=f"no answer within {timeout:g} s", servers=servers)
    except dns.exception.DNSException as exc:
        return Lookup(name, rdtype, SERVER_FAILURE, detail=str(exc), servers=servers)
    return Lookup(name, rdtype, ANSWER, records=tuple(answer), servers=servers)


def _server_errors(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    parts = []
    for error in errors:
        server, port, what = str(error[0]), error[2], error[3]
        address = server.split(":", 1)[1].rsplit("@", 1)[0] if server.startswith("Do53:") else server
        address = f"[{address}]" if ":" in address else address
        parts.append(f"{address}:{port} answered {what}")
    return "; ".join(parts) or "every server failed"


def describe_failure(result: Lookup) -> str:
    """Plain words for a lookup that did not produce records."""
    query = f'{result.rdtype} query for "{result.name}"'
    if result.outcome == NXDOMAIN:
        return f'"{result.name}" does not exist in DNS (NXDOMAIN)'
    if result.outcome == NO_DATA:
        return f'"{result.name}" exists in DNS but has no {result.rdtype} record'
    if result.outcome == TIMEOUT:
        return f"no answer to the {query} from {result.servers} ({result.detail})"
    if result.outcome == SERVER_FAILURE:
        return f"the DNS server could not answer the {query} ({result.detail})"
    if result.outcome == NO_RESOLVER:
        return f"cannot send the {query}: {result.detail}"
    if result.outcome == INVALID_NAME:
        return f'"{result.name}" is not a valid DNS name ({result.detail})'
    return f"the {query} was answered"


def resolver_fix(result: Lookup) -> str:
    """What an operator does about a lookup that got no usable answer from the servers."""
    if result.outcome == TIMEOUT:
        return (
            f"check that {result.servers} can be reached from this machine and answers DNS "
            "(OSTIARY_DNS_RESOLVERS chooses the servers), then try again"
        )
    if result.outcome == SERVER_FAILURE:
        return (
            "check that the domain's DNS servers are up and that the resolver in "
            "OSTIARY_DNS_RESOLVERS may answer queries for it, then try again"
        )
    if result.outcome == NO_RESOLVER:
        return 'set OSTIARY_DNS_RESOLVERS to a DNS server, such as "192.0.2.53"'
    if result.outcome == INVALID_NAME:
        return "correct the name: labels of at most 63 characters, 253 in all"
    return ""


__all__ = [
    "ANSWER",
    "NO_DATA",
    "NXDOMAIN",
    "TIMEOUT",
    "SERVER_FAILURE",
    "NO_RESOLVER",
    "INVALID_NAME",
    "Lookup",
    "lookup",
    "describe_failure",
    "resolver_fix",
]
