"""The flags of every cookie the portal sets, and the one way it forgets one."""

from __future__ import annotations

from starlette.responses import Response

from ostiary.portal.instance import Instance


def cookie_flags(inst: Instance) -> dict:
    return {"secure": not inst.settings.dev, "httponly": True, "samesite": "lax", "path": "/"}


def forget_cookie(response: Response, inst: Instance, name: str, domain: str | None = None) -> Response:
    """Tell the browser to drop cookie `name` (set with `cookie_flags`, on `domain` when it was)."""
    response.delete_cookie(name, path="/", domain=domain, secure=not inst.settings.dev, httponly=True,
                           samesite="lax")
    return response
