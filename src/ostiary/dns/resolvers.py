"""Which DNS servers Ostiary asks, and a fresh dnspython resolver for each check."""

from __future__ import annotations

import ipaddress

import dns.nameserver
import dns.resolver

Resolvers = list[tuple[str, int]]

DEFAULT_PORT = 53


class ResolverConfigError(ValueError):
    """`OSTIARY_DNS_RESOLVERS` (or a value shaped like it) cannot be used."""


def parse_resolvers(value: str | None) -> Resolvers | None:
    """Parse "host[:port],host[:port]" into [(ip, port)]; empty or None means the system's.

    IPv6 addresses take a port only in brackets: "[::1]:5353"; a bare "::1" uses port 53.
    """
    if value is None or not value.strip():
        return None
    resolvers: Resolvers = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        resolvers.append(_parse_one(item))
    return resolvers or None


def _parse_one(item: str) -> tuple[str, int]:
    host, port_text = item, ""
    if item.startswith("["):
        host, sep, rest = item[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ResolverConfigError(
                f'DNS resolver "{item}" is not "[IPv6]:port": write it like "[::1]:5353"'
            )
        port_text = rest[1:] if rest else ""
        if rest and not port_text:
            raise ResolverConfigError(f'DNS resolver "{item}" has an empty port: write "[::1]:5353"')
    elif item.count(":") == 1:
        host, port_text = item.split(":")
        if not port_text:
            raise ResolverConfigError(f'DNS resolver "{item}" has an empty port: write "{host}:53"')
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ResolverConfigError(
            f'DNS resolver "{item}" is not an IP address: give the server\'s address, '
            'such as "192.0.2.53" or "[2001:db8::53]:5353"'
        ) from None
    port = DEFAULT_PORT
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ResolverConfigError(
                f'DNS resolver "{item}" has port "{port_text}": use a number from 1 to 65535'
            )
        port = int(port_text)
    return str(address), port


def format_resolvers(resolvers: Resolvers | None) -> str:
    """The servers a message should name: "127.0.0.1:5353, [::1]:53" or "the system's resolvers"."""
    if not resolvers:
        return "the system's resolvers"
    return ", ".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in resolvers)


def make_resolver(resolvers: Resolvers | None, timeout: float) -> dns.resolver.Resolver:
    """A new resolver with no cache, asking `resolvers` (or the system's), bounded by `timeout` seconds.

    Raises dns.resolver.NoResolverConfiguration when the system has no resolvers configured.
    """
    if resolvers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in resolvers]
    else:
        resolver = dns.resolver.Resolver(configure=True)
    resolver.cache = None
    # A silent first server must leave time to ask the others within the overall bound.
    resolver.timeout = min(2.0, timeout / max(1, len(resolver.nameservers)))
    resolver.lifetime = timeout
    resolver.retry_servfail = False
    return resolver
