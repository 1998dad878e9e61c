"""WSGI middleware: the chat's shared cookie signs people in to a Python console."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from ostiary.sharedcookie.tooling import notsignedin
from ostiary.sharedcookie.verifier.jwtcookie import SharedCookieIdentity, SharedCookieSource

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SharedCookieWSGIMiddleware:
    """Verify the shared cookie on every request before the app sees it.

    Signed in: ``environ["ostiary.user_id"]``, ``environ["REMOTE_USER"]`` and
    ``environ["ostiary.identity"]`` carry who it is. Not signed in: 401 JSON
    for API calls, 303 to ``unauthorized_path`` for pages, which this
    middleware serves itself. ``public_paths`` (exact paths or prefixes ending
    in "/") pass through without a user.
    """

    def __init__(self, app: WSGIApp, source: SharedCookieSource, *, api_prefix: str = "/api/",
                 unauthorized_path: str = "/unauthorized", public_origin: str | None = None,
                 public_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.source = source
        self.api_prefix = api_prefix
        self.unauthorized_path = unauthorized_path
        self.public_origin = public_origin
        self.public_paths = public_paths

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # A client must never choose the user by sending its own copy.
        environ.pop("REMOTE_USER", None)
        path = _decoded(environ.get("SCRIPT_NAME", "")) + _decoded(environ.get("PATH_INFO", ""))
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
        origin = notsignedin.request_origin(environ.get("wsgi.url_scheme", "http"), host, self.public_origin)
        query_string = environ.get("QUERY_STRING", "")
        if path == self.unauthorized_path:
            next_value = (parse_qs(query_string).get("next") or [None])[0]
            page = notsignedin.unauthorized_page(self.source, origin, next_value)
            return _answer(start_response, "200 OK", "text/html; charset=utf-8", page)
        result = self.source.verify(environ.get("HTTP_COOKIE", ""))
        if isinstance(result, SharedCookieIdentity):
            environ["ostiary.user_id"] = result.user_id
            environ["REMOTE_USER"] = result.user_id
            environ["ostiary.identity"] = result
            return self.app(environ, start_response)
        if any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.public_paths):
            return self.app(environ, start_response)
        next_path = path + (f"?{query_string}" if query_string else "")
        if notsignedin.is_api_request(path, environ.get("HTTP_ACCEPT", ""), self.api_prefix):
            body = notsignedin.not_signed_in_json(self.source, origin, next_path)
            return _answer(start_response, "401 Unauthorized", "application/json", body)
        location = notsignedin.unauthorized_location(self.unauthorized_path, next_path)
        return _answer(start_response, "303 See Other", "text/plain; charset=utf-8", b"", [("Location", location)])


def _decoded(wsgi_text: str) -> str:
    # PEP 3333 hands paths over as latin-1 decoded bytes.
    return wsgi_text.encode("latin-1").decode("utf-8", "replace")


def _answer(start_response: Callable[..., Any], status: str, content_type: str, body: bytes,
            extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               ("Cache-Control", "no-store"), *(extra or [])]
    start_response(status, headers)
    return [body]
