"""The /check decision: one function whose branches follow docs/contract.md §3
in order. Pure: a snapshot and a parsed request in, a decision out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from ostiary.access import may_enter
from ostiary.gate.forwarded import ForwardedRequest
from ostiary.gate.paths import is_public, normalise_request_path, under_prefix
from ostiary.snapshot.model import AppView, DomainView, Snapshot, UserView
from ostiary.tokens import FORWARD_AUTH, good_until, verify
from ostiary.wire import ALLOWED, FORBIDDEN, NO_APP, NOT_SIGNED_IN, PUBLIC, START_PATH, UNAVAILABLE

FOREVER = float("inf")
# quote(text, safe="") for ASCII text, as one str.translate: every character but
# letters, digits and "_.-~" becomes %XX (the forwarded URL is ASCII: forwarded.py
# decodes its headers as ASCII; anything else takes quote itself).
_QUOTE_ASCII = {c: f"%{c:02X}" for c in range(128)
                if not (chr(c).isascii() and (chr(c).isalnum() or chr(c) in "_.-~"))}


def quote_all(text: str) -> str:
    return text.translate(_QUOTE_ASCII) if text.isascii() else quote(text, safe="")



# Not frozen: a frozen dataclass's __init__ costs a microsecond more per /check. Never
# changed after it is made all the same.
@dataclass(slots=True)
class Decision:
    status: int
    outcome: str  # one of wire.CHECK_OUTCOMES
    app: AppView | None = None
    user: UserView | None = None
    location: str | None = None
    shared_cookie_user: str | None = None  # the user id the chat's shared cookie carries
    # Set when the same request would get the same answer until then, unless the
    # snapshot changes: one forward-auth cookie decided it (allowed or forbidden:
    # its expiry), or the request and the snapshot alone did (no app, a public
    # path, no forward-auth cookie at all: FOREVER).
    until: float | None = None


def match_app(snap: Snapshot, req: ForwardedRequest, path: str | None) -> AppView | None:
    """The enabled app the original request names: same scheme, host and port,
    longest path prefix first. When the path cannot be normalised, only an
    app that owns the whole host can be meant."""
    candidates = snap.apps_by_host.get(req.host or "")
    if not candidates:
        return None
    default_port = 443 if req.proto == "https" else 80
    for app in candidates:
        if not app.url.startswith(req.proto + "://"):
            continue
        if (app.port or default_port) != (req.port or default_port):
            continue
        if path is None:
            return app if app.path_prefix == "/" and len(candidates) == 1 else None
        if under_prefix(path, app.path_prefix):
            return app
    return None


def identity_from_cookies(snap: Snapshot, req: ForwardedRequest, domain: DomainView, now: float) -> dict | None:
    """The first forward-auth cookie that verifies for this domain and tenant."""
    for value in req.cookies:
        payload = verify(FORWARD_AUTH, value, snap.keys, now)
        if payload is not None and payload.get("d") == domain.id and payload.get("tn") == domain.tenant_id:
            return payload
    return None


def decide(
    snap: Snapshot, req: ForwardedRequest, now: float, portal_url: Callable[[str, str], str], allow_http: bool
) -> Decision:
    if not snap.loaded:
        return Decision(503, UNAVAILABLE)
    domain = snap.portal_hosts.get(req.portal_host or "")
    if domain is None or req.host is None or req.uri is None or req.proto is None:
        return Decision(403, NO_APP, until=FOREVER)
    if req.proto == "http" and not allow_http:
        return Decision(403, NO_APP, until=FOREVER)
    path = normalise_request_path(req.uri)
    app = match_app(snap, req, path)
    if app is None or app.domain_id != domain.id or app.tenant_id != domain.tenant_id:
        return Decision(403, NO_APP, until=FOREVER)
    if is_public(path, app.public_exact, app.public_prefixes):
        return Decision(200, PUBLIC, app=app, until=FOREVER)
    shared_cookie = app.shared_cookie or domain.shared_cookie
    if shared_cookie is not None:
        return decide_shared_cookie(shared_cookie, req, app)

    def not_signed_in() -> Decision:  # built only when needed: the allowed path never quotes a URL
        return Decision(
            302 if req.navigation and not req.answer_401 else 401,
            NOT_SIGNED_IN,
            app=app,
            location=portal_url(domain.portal_host,
                                START_PATH + "?rd=" + quote_all(f"{req.proto}://{req.raw_host}{req.uri}")),
        )

    if not req.cookies:  # nothing the clock could make verify later
        refused = not_signed_in()
        refused.until = FOREVER
        return refused
    identity = identity_from_cookies(snap, req, domain, now)
    if identity is None:
        return not_signed_in()
    user = snap.users.get(identity.get("u"))
    if (
        identity.get("s") in snap.ended_sessions
        or user is None
        or not user.active
        or user.tenant_id != domain.tenant_id
    ):
        return not_signed_in()
    if app.require_2fa and not identity.get("mf"):
        return not_signed_in()
    # With one cookie the answer below depends on the time only through that
    # cookie and its key; with more, a cookie refused now might verify later.
    until = good_until(req.cookies[0], identity, snap.keys) if len(req.cookies) == 1 else None
    if not may_enter(user.groups, app.all_users, app.granted):
        return Decision(403, FORBIDDEN, app=app, user=user, until=until)
    return Decision(200, ALLOWED, app=app, user=user, until=until)


def decide_shared_cookie(source, req: ForwardedRequest, app: AppView) -> Decision:
    """Identity from the chat's JWT cookie (docs/contract.md §9): whoever the chat has
    signed in may enter an app available to all; not signed in goes to the
    chat's sign-in page with a link back. Such an identity has no groups and
    no second factor, so an app with group grants or require_2fa refuses it."""
    from ostiary.sharedcookie.verifier.jwtcookie import SharedCookieIdentity, sign_in_link
    from ostiary.sharedcookie.verifier.source_config import BrokenSource

    if isinstance(source, BrokenSource):
        return Decision(503, UNAVAILABLE, app=app)
    result = source.verify(req.cookie_header)
    if isinstance(result, SharedCookieIdentity):
        if not app.all_users or app.require_2fa:
            return Decision(403, FORBIDDEN, app=app)
        return Decision(200, ALLOWED, app=app, shared_cookie_user=result.user_id)
    location = sign_in_link(source, f"{req.proto}://{req.raw_host}", req.uri)
    return Decision(302 if req.navigation and not req.answer_401 else 401, NOT_SIGNED_IN, app=app, location=location)
