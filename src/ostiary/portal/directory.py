"""Signing in with a directory (LDAP / Active Directory) account, on the
tenant host: /sign-in/directory/<name> shows a form; its POST searches for
the person, binds as them, and ends in the same central session as every
other method (recorded as `pwd` via the directory). The same throttle and
slow-fail timing as Ostiary's own passwords; a directory that is down gets
a clear message, never a 500 (docs/identity-providers.md)."""

from __future__ import annotations

import math
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ostiary.identity import linking
from ostiary.identity.method import PASSWORD
from ostiary.identity.provider import ProviderUnavailable
from ostiary.observability import events
from ostiary.portal.i18n import N_, gettext as _
from ostiary.portal.client_address import client_address
from ostiary.portal.csrf import csrf_ok
from ostiary.portal.instance import instance
from ostiary.portal.pages import tenant_page
from ostiary.portal.rendering import error_page, render
from ostiary.portal.signin import fail_slowly, safe_next, throttled_message
from ostiary.portal.upstream import signed_in_response
from ostiary.services.rules import providers, throttle
from ostiary.snapshot.model import TenantView

FAILED = N_("The username or password is not right.")


async def _directory(request: Request, tenant: TenantView):
    """The directory the path names, or the page to send instead."""
    name = request.path_params["name"][:63]
    config = await run_in_threadpool(providers.config_for, instance(request).store, tenant.id, name)
    if config is None or config.protocol != "ldap":
        return None, error_page(request, 404, _("No such way to sign in"),
                                _('This organisation has no directory "%(name)s".') % {"name": name}, tenant=tenant)
    return config, None


def _form(request, tenant, config, next_url: str, status: int = 200, error: str | None = None, login: str = ""):
    return render(request, "directory_sign_in.html", status=status, tenant=tenant, directory=config, next=next_url,
                  error=error, login=login)


@tenant_page
async def form_page(request: Request, tenant: TenantView) -> Response:
    config, refusal = await _directory(request, tenant)
    if refusal:
        return refusal
    return _form(request, tenant, config, safe_next(request.query_params.get("next")))


@tenant_page
async def form_submit(request: Request, tenant: TenantView) -> Response:
    started = time.monotonic()
    config, refusal = await _directory(request, tenant)
    if refusal:
        return refusal
    inst = instance(request)
    form = await request.form()
    next_url = safe_next(form.get("next"))
    if not csrf_ok(request, form.get("csrf")):
        return _form(request, tenant, config, next_url, 403,
                     _("This form expired or came from another site. Please sign in again."))
    login, password = str(form.get("login", ""))[:320].strip(), str(form.get("password", ""))[:1024]
    addr = client_address(request)
    verdict = await run_in_threadpool(throttle.begin_sign_in, inst.store, tenant.id, login, addr)
    if not verdict.allowed:
        events.sign_in_throttled(tenant.slug, login, addr, "ldap", verdict.retry_after)
        await fail_slowly(started)
        response = _form(request, tenant, config, next_url, 429, throttled_message(verdict.retry_after), login)
        response.headers["retry-after"] = str(math.ceil(verdict.retry_after))
        return response
    # ldap3 is imported with the first directory sign-in, not in every worker at start (memory per worker,
    # BENCHMARKS.md target 5).
    from ostiary.identity import ldap

    try:
        person = await run_in_threadpool(ldap.authenticate, config, login, password)
    except ldap.WrongCredentials:
        events.sign_in_failed(tenant.slug, login, addr, "ldap", "wrong login or password", via=config.name)
        await fail_slowly(started)
        return _form(request, tenant, config, next_url, 401, _(FAILED), login)
    except ProviderUnavailable as exc:
        events.sign_in_failed(tenant.slug, login, addr, "ldap", f"directory unavailable: {exc}", via=config.name)
        await fail_slowly(started)
        return _form(request, tenant, config, next_url, 503,
                     f"{config.display_name} is not answering just now ({exc}). Nothing has changed: try again in a "
                     "moment, or sign in another way.", login)
    try:
        admitted = await run_in_threadpool(linking.admit, inst.store, config, person, addr)
    except linking.NotAdmitted as refusal:
        events.sign_in_failed(tenant.slug, login, addr, "ldap", f"not admitted: {refusal.message}", via=config.name)
        await fail_slowly(started)
        return _form(request, tenant, config, next_url, 403, refusal.message, login)
    await run_in_threadpool(throttle.sign_in_succeeded, inst.store, tenant.id, login, addr)
    return await signed_in_response(request, inst, tenant, config, admitted.user_id, next_url, method=PASSWORD,
                                    login=login)
