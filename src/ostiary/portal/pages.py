"""What the portal's pages share, written once: the page for a host Ostiary
does not serve; the decorators that find the tenant (or the portal domain) a
public page is on; the browser's session; the signed-in person with a
CSRF-checked form (the account pages' decorators, as portal/admin/guard.py's
are the admin pages', which build on `signed_in` and `checked_form`); and
the apps a person may enter."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.access import may_enter
from ostiary.portal.client_address import client_address
from ostiary.portal.csrf import csrf_ok
from ostiary.portal.i18n import gettext as _
from ostiary.portal.instance import Instance, instance, portal_domain_for, request_host, tenant_for
from ostiary.portal.rendering import error_page
from ostiary.services.base.actor import Actor
from ostiary.services.rules import sessions as sessions_service
from ostiary.snapshot.model import AppView, DomainView, TenantView

Endpoint = Callable[[Request], Awaitable[Response]]
# Where the account pages send a browser that is not signed in, to come back to.
ACCOUNT = "/account"


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


def person_actor(request: Request, user_id: int) -> Actor:
    """A person acting on their own account, as audit records name them."""
    return Actor(f"user:{user_id}", client_address(request), user_id)


@dataclass(frozen=True)
class SignedIn:
    """A signed-in person on their tenant host."""

    inst: Instance
    tenant: TenantView
    session: Any  # the live session (services/rules/sessions.py)
    actor: Actor  # the person, as audit records name them
    started: float  # time.monotonic() when the request came in: refusals take as long (signin.fail_slowly)


async def signed_in(request: Request, next_path: str | None) -> SignedIn | Response:
    """The signed-in person of this tenant host, or the answer to send instead:
    `unknown_host` on another host, else the sign-in page, back to `next_path` after."""
    started = time.monotonic()
    tenant = tenant_for(request)
    if tenant is None:
        return unknown_host(request)
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/sign-in" if next_path is None else f"/sign-in?next={quote(next_path)}",
                                status_code=303)
    return SignedIn(instance(request), tenant, session, person_actor(request, session.user_id), started)


# --- forms ---------------------------------------------------------------------------------------------

def form_refused(request: Request, message: str | None = None, title: str | None = None, **values) -> Response:
    """The 403 page for a form whose CSRF check failed (portal/csrf.py)."""
    return error_page(request, 403, title or _("Form refused"),
                      message or _("This form expired or came from another site. Reload the page and try again."),
                      **values)


async def checked_form(request: Request, message: str | None = None, title: str | None = None,
                       **values) -> FormData | Response:
    """The posted form when its CSRF check passes, else `form_refused` (with `message`, `title`, `values`)."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        return form_refused(request, message, title, **values)
    return form


def signed_in_page(handler: Callable[[Request, SignedIn], Awaitable[Response]]) -> Endpoint:
    """An account page: signed in on this tenant host (else `signed_in`'s answer)."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        me = await signed_in(request, ACCOUNT)
        if isinstance(me, Response):
            return me
        return await handler(request, me)

    return endpoint


def signed_in_form(handler: Callable[[Request, SignedIn, FormData], Awaitable[Response]]) -> Endpoint:
    """An account form's POST: signed in on this tenant host, with a valid CSRF token; the handler gets the form."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        me = await signed_in(request, ACCOUNT)
        if isinstance(me, Response):
            return me
        form = await checked_form(request)
        if isinstance(form, Response):
            return form
        return await handler(request, me, form)

    return endpoint


# --- what a person may enter -------------------------------------------------------------------------

def visible_apps(request: Request, tenant_id: int, user_id: int) -> list[AppView]:
    """The enabled apps of the tenant this person may enter, by the one access rule
    (access.may_enter), from the snapshot, by name: the start page's and the account page's list."""
    snap = instance(request).holder.snapshot
    user = snap.users.get(user_id)
    if user is None:
        return []
    return sorted((a for a in snap.apps.values()
                   if a.tenant_id == tenant_id and a.enabled and may_enter(user.groups, a.all_users, a.granted)),
                  key=lambda a: a.name.lower())
