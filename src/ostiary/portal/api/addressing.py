"""How the API's paths name a thing (docs/api.md#addressing): by name, by
`id:<number>`, or by `name:<name>` when a name itself looks like an id;
and names holding `/`, sent as `%2F`, kept whole.

An ASGI server decodes `%2F` into `/` before routing, so `Ops%2FÆrø` would
become two path segments. `SegmentsFromRawPath` rebuilds the path from the
raw request line with each segment decoded on its own, escaping only `%`
and `/` inside it; `KeepsSlashesInNames` (the routers' route class) undoes
that escape in the path parameters it hands to an endpoint."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ostiary.services.queries import pages as admin_views
from ostiary.services.base.errors import InvalidInput, Problem

_ESCAPED = re.compile(r"%(25|2F)")
_ID = re.compile(r"id:([0-9]{1,18})")


def _segment(raw: str) -> str:
    return unquote(raw, errors="replace").replace("%", "%25").replace("/", "%2F")


class SegmentsFromRawPath:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and raw:
            path = raw.split(b"?", 1)[0].decode("latin-1")
            scope = {**scope, "path": "/".join(_segment(s) for s in path.split("/"))}
        await self.app(scope, receive, send)


class KeepsSlashesInNames(APIRoute):
    def matches(self, scope: Scope):
        match, child = super().matches(scope)
        params = child.get("path_params")
        if params:
            child["path_params"] = {k: _ESCAPED.sub(lambda m: "%" if m.group(1) == "25" else "/", v)
                                    if isinstance(v, str) else v for k, v in params.items()}
        return match, child


def _key(key: str) -> int | str:
    """An id (`id:42`) or a name (`staff`, or `name:id:42` for a name that looks like an id)."""
    if key.startswith("name:"):
        return key[len("name:"):]
    found = _ID.fullmatch(key)
    if found:
        return int(found.group(1))
    if key.startswith("id:"):
        raise InvalidInput([Problem("path", f'"{key}" is not an id: use id:<number>, or name:{key} for a name')])
    return key


def group_name(c, key: str) -> str:
    k = _key(key)
    return admin_views.group_detail(c.store, c.tenant_id, k).group.name if isinstance(k, int) else k


def app_name(c, key: str) -> str:
    k = _key(key)
    return admin_views.app_summary(c.store, c.tenant_id, k).app.name if isinstance(k, int) else k


def user_login(c, key: str) -> str:
    k = _key(key)
    return admin_views.user_by_id(c.store, c.tenant_id, k).email if isinstance(k, int) else k


def domain_name(c, key: str) -> str:
    k = _key(key)
    return admin_views.domain_by_id(c.store, c.tenant_id, k).name if isinstance(k, int) else k
