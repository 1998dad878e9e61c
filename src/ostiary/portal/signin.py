"""Sign-in, sign-out and the signed-in person's home page, on the tenant host."""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.identity.method import PASSWORD
from ostiary.observability import events
from ostiary.portal.i18n import N_, gettext as _, ngettext
from ostiary.portal.client_address import client_address
from ostiary.portal.cookies import cookie_flags, forget_cookie
from ostiary.portal.csrf import csrf_ok
from ostiary.portal.instance import instance
from ostiary.portal.pages import (
    checked_form, current_session, person_actor, session_from_cookie, tenant_page, visible_apps,
)
from ostiary.portal.rendering import render
from ostiary.services.queries import pages as admin_views
from ostiary.services.rules import providers as providers_service
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.rules import throttle
from ostiary.services.rules import users as users_service
from ostiary.snapshot.model import TenantView
from ostiary.urlrules import safe_next_path

FAILED = N_("The email or password is not right.")
# Every refused sign-in takes at least this long, measured from the request's
# start: unknown user, wrong password, disabled user and throttled look alike.
MIN_FAILED_SECONDS = 0.4


async def fail_slowly(started: float) -> None:
    """Sleep until MIN_FAILED_SECONDS after `started` (time.monotonic()), with
    a little jitter, without holding a worker thread."""
    remaining = MIN_FAILED_SECONDS - (time.monotonic() - started)
    await asyncio.sleep(max(0.0, remaining) + random.uniform(0, 0.02))


def throttled_message(retry_after: float) -> str:
    minutes = max(1, math.ceil(retry_after / 60))
    return ngettext("Too many failed sign-ins. Wait %(num)d minute, then try again.",
                    "Too many failed sign-ins. Wait %(num)d minutes, then try again.", minutes) % {"num": minutes}


def safe_next(value: str | None) -> str:
    """Only paths on this host (urlrules.safe_next_path), else the start page."""
    return safe_next_path(value) or "/"


def second_factor_step(next_url: str) -> str:
    return "/second-factor?" + urlencode({"next": next_url})


def tenant_slug(request: Request, tenant_id: int) -> str:
    tenant = instance(request).holder.snapshot.tenants.get(tenant_id)
    return tenant.slug if tenant is not None else str(tenant_id)


@dataclass(frozen=True)
class PasswordCheck:
    user: Any = None  # the users row when the password was right
    retry_after: float | None = None  # seconds to wait when throttled


async def check_password(request: Request, tenant_id: int, login: str, password: str,
                         started: float) -> PasswordCheck:
    """The one way a portal page checks a password (sign-in, password
    change, second-factor enrolment): throttled per account and address, and
    every refusal takes at least MIN_FAILED_SECONDS from `started`."""
    inst = instance(request)
    addr = client_address(request)
    verdict = await run_in_threadpool(throttle.begin_sign_in, inst.store, tenant_id, login, addr)
    if not verdict.allowed:
        events.sign_in_throttled(tenant_slug(request, tenant_id), login, addr, "password", verdict.retry_after)
        await fail_slowly(started)
        return PasswordCheck(retry_after=verdict.retry_after)
    user = await run_in_threadpool(users_service.authenticate, inst.store, tenant_id, login, password)
    if user is None:
        events.sign_in_failed(tenant_slug(request, tenant_id), login, addr, "password", "wrong login or password")
        if random.random() < 0.01:
            await run_in_threadpool(throttle.prune, inst.store)
        await fail_slowly(started)
        return PasswordCheck()
    await run_in_threadpool(throttle.sign_in_succeeded, inst.store, tenant_id, login, addr)
    return PasswordCheck(user=user)


@tenant_page
async def sign_in_page(request: Request, tenant: TenantView) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    session = await session_from_cookie(request)
    if session is not None:
        return RedirectResponse(next_url if session.complete else second_factor_step(next_url), status_code=303)
    return render(request, "sign_in.html", next=next_url, tenant=tenant, error=None)


@tenant_page
async def sign_in_submit(request: Request, tenant: TenantView) -> Response:
    started = time.monotonic()
    inst = instance(request)
    form = await request.form()
    next_url = safe_next(form.get("next"))
    if not csrf_ok(request, form.get("csrf")):
        return render(request, "sign_in.html", status=403, next=next_url, tenant=tenant,
                      error=_("This form expired or came from another site. Please sign in again."))
    login, password = str(form.get("login", ""))[:320], str(form.get("password", ""))[:1024]
    addr = client_address(request)
    checked = await check_password(request, tenant.id, login, password, started)
    if checked.retry_after is not None:
        response = render(request, "sign_in.html", status=429, next=next_url, tenant=tenant,
                          error=throttled_message(checked.retry_after), login=login)
        response.headers["retry-after"] = str(math.ceil(checked.retry_after))
        return response
    user = checked.user
    if user is not None and await run_in_threadpool(providers_service.password_refused, inst.store, tenant.id, user):
        user = None  # password sign-in is off here, and this is no administrator (docs/identity-providers.md)
        events.sign_in_failed(tenant.slug, login, addr, "password", "password sign-in is off for this user")
    if user is None:
        return render(request, "sign_in.html", status=401, next=next_url, tenant=tenant, error=_(FAILED), login=login)
    # A fresh session id at every sign-in; the one this browser had before ends.
    old = await session_from_cookie(request)
    if old is not None:
        await run_in_threadpool(sessions_service.end_session, inst.store, tenant.id, old.id, "replaced at sign-in",
                                person_actor(request, user.id))
    session = await run_in_threadpool(
        sessions_service.create_session, inst.store, tenant.id, user.id,
        client_addr=addr, user_agent=request.headers.get("user-agent", ""), method=PASSWORD,
    )
    events.sign_in_succeeded(tenant.slug, login, addr, "password")
    # A user who has a second factor passes it at every sign-in, before
    # anything else; one the tenant's policy requires it of sets one up first.
    live = await run_in_threadpool(sessions_service.session_for_token, inst.store, session.token, tenant.id)
    due = live is None or live.second_factor_due
    response = RedirectResponse(second_factor_step(next_url) if due else next_url, status_code=303)
    response.set_cookie(inst.session_cookie, session.token, max_age=int(session.expires_at - time.time()),
                        **cookie_flags(inst))
    return response


@tenant_page
async def sign_out_submit(request: Request, tenant: TenantView) -> Response:
    inst = instance(request)
    form = await checked_form(request, _("This form expired or came from another site."), _("Sign-out refused"))
    if isinstance(form, Response):
        return form
    session = await session_from_cookie(request)
    if session is not None:
        await run_in_threadpool(sessions_service.end_session, inst.store, tenant.id, session.id, "sign-out",
                                person_actor(request, session.user_id))
    response = render(request, "signed_out.html", tenant=tenant)
    forget_cookie(response, inst, inst.session_cookie)
    return response


@tenant_page
async def home(request: Request, tenant: TenantView) -> Response:
    inst = instance(request)
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/sign-in", status_code=303)
    user = inst.holder.snapshot.users.get(session.user_id)
    apps = visible_apps(request, tenant.id, session.user_id)
    me = await run_in_threadpool(admin_views.user_by_id, inst.store, tenant.id, session.user_id)
    return render(request, "home.html", user=user, apps=apps, tenant=tenant, is_admin=bool(me.is_admin))
