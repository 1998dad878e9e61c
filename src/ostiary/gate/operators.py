"""Who may see what only the operator should (docs/operations.md, "Operator
endpoints"): Caddy's on-demand TLS `ask`, `/metrics` and the details of
`/readyz` answer only requests that come *straight* from a trusted peer —
loopback, `OSTIARY_TRUSTED_PROXIES` or `OSTIARY_OPERATOR_NETWORKS` — and
that no proxy forwarded on someone else's behalf. Every configuration
Ostiary prints for its own hosts sets X-Forwarded-For, so a request from the
internet through the public proxy never counts, even when that proxy runs on
loopback."""

from __future__ import annotations

import ipaddress

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# Headers a proxy adds when it forwards a request for a client.
_FORWARDED = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip", b"x-forwarded-host"})


def operator_networks(trusted_proxies: tuple = (), extra: tuple = ()) -> tuple:
    """Loopback, the trusted proxies and the operator's own networks
    (Settings.trusted_proxies and Settings.operator_networks, parsed at load)."""
    return LOOPBACK + tuple(trusted_proxies) + tuple(extra)


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
