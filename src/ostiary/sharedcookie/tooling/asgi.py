"""ASGI middleware: the chat's shared cookie signs people in to a Python console."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ostiary.sharedcookie.tooling import notsignedin
from ostiary.sharedcookie.verifier.jwtcookie import SharedCookieIdentity, SharedCookieSource


class SharedCookieASGIMiddleware:
    """Verify the shared cookie on every request before the app sees it.

    Signed in: ``scope["state"]["user_id"]`` (``request.state.user_id`` in
    Starlette and FastAPI), ``scope["ostiary.user_id"]`` and
    ``scope["ostiary.identity"]`` carry who it is. Not signed in: 401 JSON for
    API calls, 303 to ``unauthorized_path`` for pages, which this middleware
    serves itself. ``public_paths`` (exact paths or prefixes ending in "/")
    pass through without a user.
    """

    def __init__(self, app: ASGIApp, source: SharedCookieSource, *, api_prefix: str = "/api/",
                 unauthorized_path: str = "/unauthorized", public_origin: str | None = None,
                 public_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.source = source
        self.api_prefix = api_prefix
        self.unauthorized_path = unauthorized_path
        self.public_origin = public_origin
        self.public_paths = public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = scope["path"]
        scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
        origin = notsignedin.request_origin(scheme, headers.get("host", ""), self.public_origin)
        if scope["type"] == "http" and path == self.unauthorized_path:
            next_value = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("next") or [None])[0]
            page = notsignedin.unauthorized_page(self.source, origin, next_value)
            await Response(page, status_code=200, media_type="text/html",
                           headers={"Cache-Control": "no-store"})(scope, receive, send)
            return
        result = self.source.verify(headers.get("cookie", ""))
        if isinstance(result, SharedCookieIdentity):
            scope.setdefault("state", {})["user_id"] = result.user_id
            scope["ostiary.user_id"] = result.user_id
            scope["ostiary.identity"] = result
            await self.app(scope, receive, send)
            return
        if self._is_public(path):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        query_string = scope.get("query_string", b"").decode("latin-1")
        next_path = path + (f"?{query_string}" if query_string else "")
        if notsignedin.is_api_request(path, headers.get("accept", ""), self.api_prefix):
            body = notsignedin.not_signed_in_json(self.source, origin, next_path)
            response = Response(body, status_code=401, media_type="application/json",
                                headers={"Cache-Control": "no-store"})
        else:
            location = notsignedin.unauthorized_location(self.unauthorized_path, next_path)
            response = Response(status_code=303, headers={"Location": location, "Cache-Control": "no-store"})
        await response(scope, receive, send)

    def _is_public(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.public_paths)

