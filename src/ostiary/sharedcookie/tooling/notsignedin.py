"""What a console answers when the shared cookie does not sign anyone in
(the gate's answer is gate/decide.py's; both link to the chat with
``sign_in_link`` from the verifier).

One rule for both middlewares: API calls get 401 JSON carrying the chat's
sign-in deep link; pages are sent (303) to ``/unauthorized?next=...``, a small
page that links to the chat's sign-in and back.
"""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode, urlsplit

from ostiary.sharedcookie.verifier.jwtcookie import SharedCookieSource, sign_in_link
from ostiary.urlrules import safe_next_path


def is_api_request(path: str, accept: str, api_prefix: str) -> bool:
    """API calls get JSON; anything a browser would render as a page gets a redirect."""
    return path.startswith(api_prefix) or "text/html" not in accept.lower()


def unauthorized_location(unauthorized_path: str, next_path: str) -> str:
    return f"{unauthorized_path}?{urlencode({'next': next_path})}"


def not_signed_in_json(source: SharedCookieSource, origin: str, next_path: str) -> bytes:
    body = {"error": "not_signed_in", "sign_in": sign_in_link(source, origin, next_path)}
    return json.dumps(body).encode("utf-8")


def unauthorized_page(source: SharedCookieSource, origin: str, next_value: str | None) -> bytes:
    next_path = safe_next_path(next_value) or "/"
    sign_in = html.escape(sign_in_link(source, origin, next_path))
    back = html.escape(next_path)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in required</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto;">
<h1>Sign in required</h1>
<p>This page uses your chat sign-in, and you are not signed in (or your session ended).</p>
<p><a id="sign-in" href="{sign_in}">Sign in to the chat</a>, then
<a id="back" href="{back}">come back to this page</a>.</p>
</body></html>
"""
    return page.encode("utf-8")


def request_origin(scheme: str, host: str, public_origin: str | None) -> str:
    return (public_origin or f"{scheme}://{host}").rstrip("/")
