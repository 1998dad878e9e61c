"""A signed-in person's own page on the tenant host: the apps they may
enter, their sessions (and signing out everywhere), their password."""

from __future__ import annotations

import math
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.identity.method import PASSWORD
from ostiary.portal import notices
from ostiary.portal.admin.guard import when
from ostiary.portal.client_address import client_address
from ostiary.portal.cookies import cookie_flags, forget_cookie
from ostiary.portal.instance import instance
from ostiary.portal.pages import SignedIn, signed_in_form, signed_in_page, visible_apps
from ostiary.portal.rendering import error_page, render
from ostiary.portal.signin import check_password, throttled_message
from ostiary.portal import i18n
from ostiary.portal.i18n import gettext as _
from ostiary.services.queries import pages as admin_views
from ostiary.services.rules import email_change, languages, sessions, users
from ostiary.services.base.errors import MailUnavailable, Problem, ServiceError, problems_of


async def _page(request: Request, tenant, session, status: int = 200, errors=(), notice: str = "") -> Response:
    inst = instance(request)
    user = await run_in_threadpool(admin_views.user_by_id, inst.store, tenant.id, session.user_id)
    live = await run_in_threadpool(admin_views.sessions_page, inst.store, tenant.id, user_id=user.id, limit=100)
    # Notices come only from the server-signed cookie (portal/notices.py), never from ?notice=.
    response = render(request, "account.html", status=status, tenant=tenant, me=user,
                      apps=visible_apps(request, tenant.id, user.id), live=live, current=session.id, when=when,
                      errors=list(errors), notice=notice or notices.pending_notice(request))
    return notices.shown(request, response)


@signed_in_page
async def account_page(request: Request, me: SignedIn) -> Response:
    return await _page(request, me.tenant, me.session)


@signed_in_form
async def end_everywhere(request: Request, me: SignedIn, form) -> Response:
    inst = me.inst
    await run_in_threadpool(sessions.end_user_sessions, inst.store, me.tenant.id, me.session.user_id,
                            "signed out everywhere", me.actor)
    response = render(request, "signed_out.html", tenant=me.tenant)
    forget_cookie(response, inst, inst.session_cookie)
    return response


@signed_in_form
async def end_one(request: Request, me: SignedIn, form) -> Response:
    inst, tenant = me.inst, me.tenant
    sid = request.path_params["session_id"]
    try:
        row = await run_in_threadpool(sessions.get_session, inst.store, tenant.id, sid)
    except ServiceError:
        row = None
    if row is None or row.user_id != me.session.user_id:
        return error_page(request, 404, _("Not found"), _("That is not one of your sessions."), tenant=tenant)
    await run_in_threadpool(sessions.end_session, inst.store, tenant.id, sid, "signed out by its user", me.actor)
    return notices.redirect_with_notice(request, "/account", _("Session ended."))


@signed_in_form
async def change_password(request: Request, me: SignedIn, form) -> Response:
    inst, tenant, session = me.inst, me.tenant, me.session
    user = await run_in_threadpool(admin_views.user_by_id, inst.store, tenant.id, session.user_id)
    current, new, again = (str(form.get(k, ""))[:1024] for k in ("current_password", "new_password", "new_password_again"))
    checked = await check_password(request, tenant.id, user.email, current, me.started)
    if checked.retry_after is not None:
        response = await _page(request, tenant, session, 429, [Problem("current_password", throttled_message(checked.retry_after))])
        response.headers["retry-after"] = str(math.ceil(checked.retry_after))
        return response
    if checked.user is None or checked.user.id != user.id:
        return await _page(request, tenant, session, 422, [Problem("current_password", _("is not your current password"))])
    if new != again:
        return await _page(request, tenant, session, 422, [Problem("new_password_again", _("does not match the new password"))])
    try:
        await run_in_threadpool(users.set_password, inst.store, tenant.id, me.actor, user.email, new)
    except ServiceError as exc:
        return await _page(request, tenant, session, 422, problems_of(exc))
    # The change ended every session, this one too: start a fresh one for this browser, signed in the
    # same ways as the old one (its second factor kept, in the flag and in the methods).
    fresh = await run_in_threadpool(sessions.create_session, inst.store, tenant.id, user.id,
                                    client_addr=client_address(request), user_agent=request.headers.get("user-agent", ""),
                                    second_factor=session.second_factor, method=PASSWORD,
                                    also=tuple(m for m in session.methods if m != PASSWORD))
    response = notices.redirect_with_notice(request, "/account", _("Password changed: every other session has ended."),
                                            session_token=fresh.token)
    response.set_cookie(inst.session_cookie, fresh.token, max_age=int(fresh.expires_at - time.time()), **cookie_flags(inst))
    return response


@signed_in_form
async def change_email(request: Request, me: SignedIn, form) -> Response:
    """Sends a confirmation link to the new address (docs/email.md); the
    current password is asked first, so a borrowed session cannot move the
    account's recovery address."""
    inst, tenant, session = me.inst, me.tenant, me.session
    if not inst.settings.email_enabled:
        return await _page(request, tenant, session, 409, [Problem("new_email", _("email is not set up here: ask your "
                                                                       "administrator to change your address"))])
    user = await run_in_threadpool(admin_views.user_by_id, inst.store, tenant.id, session.user_id)
    checked = await check_password(request, tenant.id, user.email, str(form.get("password", ""))[:1024], me.started)
    if checked.retry_after is not None:
        response = await _page(request, tenant, session, 429, [Problem("password", throttled_message(checked.retry_after))])
        response.headers["retry-after"] = str(math.ceil(checked.retry_after))
        return response
    if checked.user is None or checked.user.id != user.id:
        return await _page(request, tenant, session, 422, [Problem("password", _("is not your current password"))])
    try:
        new = await run_in_threadpool(email_change.request_change, inst.store, inst.settings, tenant.id, me.actor, user.id,
                                      str(form.get("new_email", ""))[:320], i18n.current())
    except ServiceError as exc:
        return await _page(request, tenant, session, 503 if isinstance(exc, MailUnavailable) else 422,
                           [p if p.field != "smtp" else Problem("new_email", _("the confirmation email could not be sent; "
                                                                    "try again later")) for p in problems_of(exc)])
    return notices.redirect_with_notice(request, "/account", _("We sent a link to %(address)s: follow it to confirm the change.") % {"address": new})


@signed_in_form
async def change_language(request: Request, me: SignedIn, form) -> Response:
    """The language of the pages for this person, on every browser: one of
    the shipped ones, or "auto" to follow the browser (docs/translations.md)."""
    choice = str(form.get("language", ""))[:16]
    try:
        await run_in_threadpool(languages.set_language, me.inst.store, me.tenant.id, me.session.user_id,
                                None if choice == "auto" else choice, i18n.LANGUAGES)
    except ServiceError as exc:
        return await _page(request, me.tenant, me.session, 422, problems_of(exc))
    return RedirectResponse("/account#language-title", status_code=303)
