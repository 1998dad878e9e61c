"""What the portal's pages share, written once: the page for a host Ostiary
does not serve; the decorators that find the tenant (or the portal domain) a
public page is on, as portal/admin/guard.py does for the admin pages; and the
browser's session."""

from __future__ import annotations

import functools
from typing import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ostiary.portal.i18n import gettext as _
from ostiary.portal.instance import instance, portal_domain_for, request_host, tenant_for
from ostiary.portal.rendering import error_page
from ostiary.services.rules import sessions as sessions_service
from ostiary.snapshot.model import DomainView, TenantView

Endpoint = Callable[[Request], Awaitable[Response]]


# --- the host ------------------------------------------------------------------------------------

def unknown_host(request: Request, portal: bool = False) -> Response:
    """The one page for a host Ostiary does not serve (no tenant, or no verified portal domain)."""
    host = request_host(request)
    if portal:
        message = (_("%(host)s is not a verified Ostiary portal host.") % {"host": host} if host
                   else _("This host is not a verified Ostiary portal host."))
    else:
        message = (_("%(host)s is not an Ostiary tenant host.") % {"host": host} if host
                   else _("This host is not an Ostiary tenant host."))
    return error_page(request, 404, _("Unknown host"), message, unknown_host=True)


def tenant_page(handler: Callable[[Request, TenantView], Awaitable[Response]]) -> Endpoint:
    """A page or form of the tenant host: the handler gets the tenant; any other host gets `unknown_host`."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        tenant = tenant_for(request)
        if tenant is None:
            return unknown_host(request)
        return await handler(request, tenant)

    return endpoint


def portal_page(handler: Callable[[Request, DomainView], Awaitable[Response]]) -> Endpoint:
    """A page or form of a protected domain's portal host: the handler gets the domain; any other
    host gets `unknown_host` (portal=True)."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        domain = portal_domain_for(request)
        if domain is None:
            return unknown_host(request, portal=True)
        return await handler(request, domain)

    return endpoint


# --- the browser's session -------------------------------------------------------------------------

async def session_from_cookie(request: Request):
    """The browser's live session, including one that still owes its second
    factor: only the second-factor step and sign-out may use such a one."""
    inst = instance(request)
    tenant = tenant_for(request)
    if tenant is None:
        return None
    token = request.cookies.get(inst.session_cookie)
    return await run_in_threadpool(sessions_service.session_for_token, inst.store, token, tenant.id)


async def current_session(request: Request):
    """The browser's signed-in session: None until a user who has a second
    factor has passed it, so every page and action behind this needs it."""
    session = await session_from_cookie(request)
    return session if session is not None and session.complete else None
