"""What a console answers when the shared cookie does not sign anyone in.

One rule for both middlewares: API calls get 401 JSON carrying the chat's
sign-in deep link; pages are sent (303) to ``/unauthorized?next=...``, a small
page that links to the chat's sign-in and back.
"""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode, urlsplit

from ostiary.sharedcookie.jwtcookie import ExternalJwtSource
from ostiary.urlrules import safe_next_path


def is_api_request(path: str, accept: str, api_prefix: str) -> bool:
    """API calls get JSON; anything a browser would render as a page gets a redirect."""
    return path.startswith(api_prefix) or "text/html" not in accept.lower()


def unauthorized_location(unauthorized_path: str, next_path: str) -> str:
    return f"{unauthorized_path}?{urlencode({'next': next_path})}"


def sign_in_link(source: ExternalJwtSource, origin: str, next_path: str) -> str:
    """The chat's sign-in URL with a way back to ``next_path`` on this console.

    The return target is a relative path when the console shares the chat's
    origin (LibreChat accepts only relative redirect_to targets); otherwise it
    is absolute, which LibreChat ignores, so the /unauthorized page also links back.
    """
    sign_in = urlsplit(source.sign_in_url)
    same_origin = f"{sign_in.scheme}://{sign_in.netloc}".lower() == origin.lower()
    target = next_path if same_origin else origin + next_path
    separator = "&" if sign_in.query else "?"
    return f"{source.sign_in_url}{separator}{urlencode({source.return_to_param: target})}"


def not_signed_in_json(source: ExternalJwtSource, origin: str, next_path: str) -> bytes:
    body = {"error": "not_signed_in", "sign_in": sign_in_link(source, origin, next_path)}
    return json.dumps(body).encode("utf-8")


def unauthorized_page(source: ExternalJwtSource, origin: str, next_value: str | None) -> bytes:
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
