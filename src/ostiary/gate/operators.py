"""Who may see what only the operator should (docs/operations.md, "Operator
endpoints"): Caddy's on-demand TLS `ask`, `/metrics` and the details of
`/readyz` answer only requests that come *straight* from a trusted peer —
loopback, `OSTIARY_TRUSTED_PROXIES` or `OSTIARY_OPERATOR_NETWORKS` — and
that no proxy forwarded on someone else's behalf. Every configuration
Ostiary prints for its own hosts sets X-Forwarded-For, so a request from the
internet through the public proxy never counts, even when that proxy runs on
loopback."""

from __future__ import annotations

import functools
import ipaddress

LOOPBACK = "127.0.0.0/8,::1/128"
# Headers a proxy adds when it forwards a request for a client.
_FORWARDED = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip", b"x-forwarded-host"})


@functools.lru_cache(maxsize=16)
def operator_networks(trusted_proxies: str, extra: str = "") -> tuple:
    """Loopback, the trusted proxies and the operator's own networks (comma-separated CIDRs)."""
    parts = ",".join((LOOPBACK, trusted_proxies, extra)).split(",")
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in parts if p.strip())


def asks_directly(scope, networks: tuple) -> bool:
    """The request's TCP peer is in `networks` and no proxy forwarded it."""
    client = scope.get("client")
    if not client or any(name in _FORWARDED for name, _ in scope.get("headers", ())):
        return False
    try:
        ip = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)
