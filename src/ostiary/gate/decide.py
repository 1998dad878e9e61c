"""The /check decision: one function whose branches follow docs/contract.md §3
in order. Pure: a snapshot and a parsed request in, a decision out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from ostiary.access import ADMITTED, admission, cookie_identity, match_app, owes_second_factor
from ostiary.gate.forwarded import ForwardedRequest
from ostiary.snapshot.model import AppView, Snapshot, UserView
from ostiary.tokens import good_until
from ostiary.urlrules import is_public, normalise_request_path
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
    app = match_app(snap, req.proto, req.host, req.port, path)
    if app is None or app.domain_id != domain.id or app.tenant_id != domain.tenant_id:
        return Decision(403, NO_APP, until=FOREVER)
    if is_public(path, app.public_exact, app.public_prefixes):
        return Decision(200, PUBLIC, app=app, until=FOREVER)
    shared_cookie = app.shared_cookie or domain.shared_cookie
    if shared_cookie is not None:
        return decide_shared_cookie(shared_cookie, req, app)

    if not req.cookies:  # nothing the clock could make verify later
        refused = _not_signed_in(req, app, domain.portal_host, portal_url)
        refused.until = FOREVER
        return refused
    identity = cookie_identity(snap, req.cookies, domain, now)
    if identity is None or identity.get("s") in snap.ended_sessions:
        return _not_signed_in(req, app, domain.portal_host, portal_url)
    user = snap.users.get(identity.get("u"))
    if identity.get("mf"):
        verdict = admission(user, domain.tenant_id, app, True)
    else:
        # Only a session that did not pass a second factor asks whether its person owes one
        # (they have one, or the tenant's policy requires it of them): the same rule as the portal's.
        verdict = admission(user, domain.tenant_id, app, False, user is not None and owes_second_factor(snap, user))
    if verdict is not ADMITTED and verdict is not FORBIDDEN:
        # Not a user who may sign in here, or no second factor yet.
        return _not_signed_in(req, app, domain.portal_host, portal_url)
    # With one cookie the answer below depends on the time only through that
    # cookie and its key; with more, a cookie refused now might verify later.
    until = good_until(req.cookies[0], identity, snap.keys) if len(req.cookies) == 1 else None
    if verdict is FORBIDDEN:
        return Decision(403, FORBIDDEN, app, user, None, None, until)
    return Decision(200, ALLOWED, app, user, None, None, until)


def _not_signed_in(req: ForwardedRequest, app: AppView, portal_host: str,
                   portal_url: Callable[[str, str], str]) -> Decision:
    """Back to the portal's /start with the original URL (the allowed path never quotes one)."""
    return Decision(
        302 if req.navigation and not req.answer_401 else 401,
        NOT_SIGNED_IN,
        app=app,
        location=portal_url(portal_host, START_PATH + "?rd=" + quote_all(f"{req.proto}://{req.raw_host}{req.uri}")),
    )


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
