"""The address of the browser a portal request came from, as audit records,
throttling and the sign-in events name it."""

from __future__ import annotations

from starlette.requests import Request

from ostiary.config import in_networks
from ostiary.portal.instance import instance


def client_address(request: Request) -> str:
    """The peer's address; behind trusted proxies, the first untrusted hop of
    X-Forwarded-For read right to left."""
    peer = request.client.host if request.client else ""
    trusted = instance(request).settings.trusted_proxies  # parsed once, when the settings load
    if not trusted or not in_networks(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not in_networks(hop, trusted):
            return hop
    return hops[0] if hops else peer
