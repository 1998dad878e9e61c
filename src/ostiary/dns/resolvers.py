"""Which DNS servers Ostiary asks (Settings.dns_resolvers), and a fresh dnspython resolver for each check."""

from __future__ import annotations

import dns.nameserver
import dns.resolver

from ostiary.config import Resolvers

# Parsed once, when the settings load (config.parse_resolvers, Settings.dns_resolvers).
__all__ = ["Resolvers", "format_resolvers", "make_resolver"]


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
