"""Notices after a change ("User created."), carried from the POST to the
page it redirects to in a short-lived cookie the server signed, and shown
once. Never read from the query string: a crafted link cannot put words in
Ostiary's mouth (docs/admin.md, "Notices")."""

from __future__ import annotations

import base64
import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.portal.cookies import cookie_flags, forget_cookie
from ostiary.portal.instance import instance

NOTICE_COOKIE = "__Host-ostiary_notice"
NOTICE_COOKIE_DEV = "ostiary_notice"
# A cookie holds about 4 KB: at most this many bytes of UTF-8 (about 2 KB once base64-encoded).
MAX_NOTICE_BYTES = 1500
LIFETIME_SECONDS = 120


def _cookie_name(request: Request) -> str:
    return NOTICE_COOKIE_DEV if instance(request).settings.dev else NOTICE_COOKIE


def _mac(secret: bytes, request: Request, text: bytes, session_token: str | None = None) -> str:
    # Bound to this browser's session cookie: a notice minted for one person
    # (say, naming an app another admin chose) does not show for another.
    # `session_token` names the session the redirect itself sets, when it sets a new one.
    session = (request.cookies.get(instance(request).session_cookie, "") if session_token is None
               else session_token).encode()
    digest = hmac.new(secret, b"ostiary-notice\0" + hashlib.sha256(session).digest() + text, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def redirect_with_notice(request: Request, path: str, notice: str | None,
                         session_token: str | None = None) -> Response:
    """A 303 to `path`, the page there showing `notice` once (`session_token`:
    the new session cookie this redirect sets, if it sets one)."""
    response = RedirectResponse(path, status_code=303)
    key = instance(request).holder.snapshot.signing_key
    if notice and key is not None:
        text = notice.encode()[:MAX_NOTICE_BYTES].decode("utf-8", "ignore").encode()
        value = f"{key.kid}.{base64.urlsafe_b64encode(text).decode().rstrip('=')}.{_mac(key.secret, request, text, session_token)}"
        response.set_cookie(_cookie_name(request), value, max_age=LIFETIME_SECONDS, **cookie_flags(instance(request)))
    return response


def pending_notice(request: Request) -> str:
    """The notice this browser carries, when the server signed it for this session; else ""."""
    value = request.cookies.get(_cookie_name(request), "")
    kid, _, rest = value.partition(".")
    encoded, _, mac = rest.partition(".")
    key = instance(request).holder.snapshot.keys.get(kid)
    if key is None or not encoded or not mac:
        return ""
    try:
        text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        return ""
    if not hmac.compare_digest(mac, _mac(key.secret, request, text)):
        return ""
    return text.decode("utf-8", "replace")


def shown(request: Request, response: Response) -> Response:
    """Forget the notice once a page has shown it."""
    if _cookie_name(request) in request.cookies:
        forget_cookie(response, instance(request), _cookie_name(request))
    return response
