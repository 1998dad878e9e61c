"""Cross-site request forgery: the double-submit token every portal form
carries, and the check every form's POST passes first."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

from ostiary.portal.instance import instance, request_host


def csrf_token(request: Request) -> str:
    """Double-submit token: the same random value in a host-only cookie and
    in every form; a new one is set on the response by rendering.render."""
    token = request.cookies.get(instance(request).csrf_cookie)
    if not token or len(token) != 43:
        token = request.state.__dict__.setdefault("new_csrf", secrets.token_urlsafe(32))
    return token


def new_csrf_token(request: Request) -> str | None:
    """The token `csrf_token` made for this request, when the browser had none to send."""
    return request.state.__dict__.get("new_csrf")


def csrf_ok(request: Request, form_value: str | None) -> bool:
    cookie = request.cookies.get(instance(request).csrf_cookie)
    if not cookie or not form_value or not hmac.compare_digest(cookie, form_value):
        return False
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        expected = instance(request).settings.public_url(request_host(request) or "", "").rstrip("/")
        if origin != expected:
            return False
    elif origin == "null":
        return False
    return True
