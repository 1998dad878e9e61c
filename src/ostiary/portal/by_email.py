"""Pages reached by email (docs/email.md): "Forgot your password?", the
links that set a password (a reset or an invitation, which may register a
passkey instead) and the link that confirms a new email address. Opening a
link uses nothing up (mail scanners open links too); only submitting its
form does. SMTP and the database are used in worker threads, never on the
event loop."""

from __future__ import annotations

import logging
import math
import random
import time
from types import SimpleNamespace
from urllib.parse import urlencode

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ostiary.identity.method import MULTI_FACTOR, PASSKEY
from ostiary.portal import i18n, notices
from ostiary.portal import passkeys as passkey_pages
from ostiary.portal.client_address import client_address
from ostiary.portal.cookies import cookie_flags, forget_cookie
from ostiary.portal.csrf import csrf_ok
from ostiary.portal.instance import instance
from ostiary.portal.rendering import TEMPLATES, error_page, render
from ostiary.portal.pages import checked_form, person_actor, session_from_cookie, tenant_page
from ostiary.portal.signin import fail_slowly
from ostiary.portal.i18n import N_, gettext as _
from ostiary.portal.problem_text import message_text, problem_text
from ostiary.portal.user_agents import describe
from ostiary.services.rules import email_change, email_links, invitations, mail, password_reset
from ostiary.services.base import passwords
from ostiary.services.rules import passkeys as passkeys_service
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.base.errors import MailUnavailable, NotFound, Problem, ServiceError, Throttled, problems_of
from ostiary.snapshot.model import TenantView

log = logging.getLogger("ostiary.email")

SENT = N_("If an account uses that address, we have sent it a link to choose a new password. "
          "The link works for 30 minutes. Check your inbox, and your spam folder.")
SET_PASSWORD = {
    email_links.RESET: {"title": N_("Choose a new password"), "button": N_("Set the new password"),
                        "intro": N_("Choosing a new password signs you out everywhere.")},
    email_links.INVITATION: {"title": N_("Welcome"), "button": N_("Set my password"),
                             "intro": N_("Choose a password, or register a passkey, to finish setting up your account.")},
}
TEMPLATE = {email_links.RESET: "set_password.html", email_links.INVITATION: "accept_invitation.html"}
FROM_EMAIL_AGAIN = N_("This form expired or came from another site. Open the link from your email again.")
NOT_USABLE = N_("This link cannot be used: it was used already, it expired, or a newer one replaced it. "
                "Ask for a new one.")


def email_enabled(request: Request) -> bool:
    return instance(request).settings.email_enabled


TEMPLATES.globals["email_enabled"] = email_enabled


def _send_after_answer(settings, msg, what: str) -> None:
    """Sent after the page has answered, so its timing tells nobody whether
    the account exists; a failure is logged for the operator."""
    try:
        mail.send(settings, msg)
    except MailUnavailable as exc:
        log.warning("%s email could not be sent: %s", what, exc)


@tenant_page
async def forgot_page(request: Request, tenant: TenantView) -> Response:
    if not email_enabled(request):
        return error_page(request, 404, _("Not available"), _("Password reset by email is not set up here: ask your "
                                                              "administrator to reset your password."), tenant=tenant)
    return render(request, "forgot_password.html", tenant=tenant)


@tenant_page
async def forgot_submit(request: Request, tenant: TenantView) -> Response:
    started = time.monotonic()
    inst = instance(request)
    if not email_enabled(request):
        return await forgot_page(request)
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        return render(request, "forgot_password.html", status=403, tenant=tenant,
                      error=_("This form expired or came from another site. Please try again."))
    login = str(form.get("email", ""))[:320]
    try:
        # The message follows the person's saved language, else this page's (docs/email.md).
        msg = await run_in_threadpool(password_reset.request_reset, inst.store, inst.settings, tenant.id, login,
                                      client_address(request), i18n.current())
    except Throttled as exc:
        response = render(request, "forgot_password.html", status=429, tenant=tenant, error=message_text(exc.problem.message))
        response.headers["retry-after"] = str(math.ceil(exc.retry_after))
        return response
    if random.random() < 0.01:
        await run_in_threadpool(email_links.prune, inst.store)
    await fail_slowly(started)  # known and unknown addresses answer after the same delay
    response = render(request, "notice.html", tenant=tenant, title=_("Check your email"), message=_(SENT))
    if msg is not None:
        response.background = BackgroundTask(_send_after_answer, inst.settings, msg, "password reset")
    return response


def _purpose(request: Request) -> str:
    return email_links.INVITATION if request.url.path.startswith("/invitation") else email_links.RESET


def _default_passkey_name(request: Request) -> str:
    """What the device probably is ("Chrome on Linux"): the person may change it."""
    said = describe(request.headers.get("user-agent", ""))
    return said if said and len(said) <= passkeys_service.NAME_MAX and "unknown" not in said.lower() else _("My passkey")


async def _link_page(request: Request, tenant, purpose: str, token: str, link, status: int = 200,
                     errors=(), passkey_error: str = "", passkey_name: str | None = None) -> Response:
    """The page a reset or an invitation link opens. An invitation's also
    carries registration options made for this link (docs/email.md)."""
    values = {}
    if purpose == email_links.INVITATION:
        person = SimpleNamespace(id=link.user_id, email=link.email, display_name=link.display_name)
        values = {"passkey_options": await run_in_threadpool(passkey_pages.invitation_options, request, person,
                                                             link.id),
                  "passkey_error": passkey_error,
                  "passkey_name": _default_passkey_name(request) if passkey_name is None else passkey_name}
    return render(request, TEMPLATE[purpose], status=status, tenant=tenant, token=token, email=link.email,
                  action=email_links.PATHS[purpose], errors=list(errors), **{k: _(v) for k, v in SET_PASSWORD[purpose].items()}, **values)


@tenant_page
async def set_password_page(request: Request, tenant: TenantView) -> Response:
    purpose, token = _purpose(request), request.query_params.get("token", "")[:100]
    link = await run_in_threadpool(email_links.peek, instance(request).store, tenant.id, purpose, token)
    if link is None:
        return error_page(request, 410, _("Link not usable"), _(NOT_USABLE), tenant=tenant)
    return await _link_page(request, tenant, purpose, token, link)


@tenant_page
async def set_password_submit(request: Request, tenant: TenantView) -> Response:
    inst = instance(request)
    purpose = _purpose(request)
    form = await checked_form(request, _(FROM_EMAIL_AGAIN), tenant=tenant)
    if isinstance(form, Response):
        return form
    token = str(form.get("token", ""))[:100]
    link = await run_in_threadpool(email_links.peek, inst.store, tenant.id, purpose, token)
    if link is None:
        return error_page(request, 410, _("Link not usable"), _(NOT_USABLE), tenant=tenant)
    # One past the longest password allowed, so an oversize one is refused by its rule, never cut short.
    longest = passwords.MAX_LENGTH + 1
    new, again = str(form.get("new_password", ""))[:longest], str(form.get("new_password_again", ""))[:longest]

    if new != again:
        return await _link_page(request, tenant, purpose, token, link, 422,
                                [Problem("new_password_again", _("does not match the new password"))])
    try:
        await run_in_threadpool(password_reset.set_password_with_link, inst.store, tenant.id, purpose, token, new,
                                client_address(request))
    except ServiceError as exc:
        if "token" in {p.field for p in problems_of(exc)}:
            return error_page(request, 410, _("Link not usable"), _(NOT_USABLE), tenant=tenant)
        return await _link_page(request, tenant, purpose, token, link, 422, problems_of(exc))
    done = (_("Your password is set, and every session of your account has ended. Sign in with it now.")
            if purpose == email_links.RESET else _("Your password is set. Sign in with it now."))
    response = render(request, "notice.html", tenant=tenant, title=_("Password set"), message=done, sign_in=True)
    # Whatever session this browser had belonged to a session that has just ended.
    forget_cookie(response, inst, inst.session_cookie)
    return response


@tenant_page
async def invitation_passkey_submit(request: Request, tenant: TenantView) -> Response:
    """An invitation accepted with a passkey instead of a password: the link
    is used up with the passkey stored (services/rules/invitations.py), and the
    person is signed in with it at once, as a passkey sign-in would (the
    second factor counts as passed only when the device verified them; a
    policy or app asking more is honoured as at any sign-in, docs/sign-in.md)."""
    inst = instance(request)
    form = await checked_form(request, _(FROM_EMAIL_AGAIN), tenant=tenant)
    if isinstance(form, Response):
        return form
    token = str(form.get("token", ""))[:100]
    link = await run_in_threadpool(email_links.peek, inst.store, tenant.id, email_links.INVITATION, token)
    if link is None:
        return error_page(request, 410, _("Link not usable"), _(NOT_USABLE), tenant=tenant)
    name = str(form.get("name", ""))[:1024]

    async def again(status: int, message: str) -> Response:
        return await _link_page(request, tenant, email_links.INVITATION, token, link, status,
                                passkey_error=message, passkey_name=name[:passkeys_service.NAME_MAX])

    credential = passkey_pages.credential_of(form)
    if credential is None:
        return await again(400, "passkey: " + _("The browser's answer is missing: this needs JavaScript and a browser "
                                  "that supports passkeys. Choose a password instead."))
    addr = client_address(request)
    try:
        accepted = await run_in_threadpool(
            invitations.accept_with_passkey, inst.store, inst.holder.snapshot.keys,
            passkey_pages.relying_party_of(request, tenant), tenant.id, token,
            passkey_pages.binding_of_post(request), str(form.get("state", "")), credential, name, addr)
    except NotFound:
        return error_page(request, 410, _("Link not usable"), _(NOT_USABLE), tenant=tenant)
    except passkeys_service.PasskeyRefused as exc:
        return await again(400, problem_text(Problem("passkey", exc.message)))
    except ServiceError as exc:
        return await again(422, problem_text(problems_of(exc)[0]))
    actor = person_actor(request, accepted.user_id)
    old = await session_from_cookie(request)
    if old is not None:  # someone else's session in this browser (an admin trying the link, say)
        await run_in_threadpool(sessions_service.end_session, inst.store, tenant.id, old.id, "replaced at sign-in",
                                actor)
    # As a passkey sign-in (portal/passkeys.py): a passkey that verified the person is both factors.
    session = await run_in_threadpool(
        sessions_service.create_session, inst.store, tenant.id, accepted.user_id, client_addr=addr,
        user_agent=request.headers.get("user-agent", ""), method=PASSKEY,
        second_factor=accepted.user_verified, also=(MULTI_FACTOR,) if accepted.user_verified else ())
    live = await run_in_threadpool(sessions_service.session_for_token, inst.store, session.token, tenant.id)
    due = live is None or live.second_factor_due
    target = "/second-factor?" + urlencode({"next": "/account"}) if due else "/account"
    # The welcome comes from the server (portal/notices.py): /account shows no ?notice=.
    response = notices.redirect_with_notice(request, target, _("Welcome! Your passkey is registered and you are "
                                                               "signed in."), session_token=session.token)
    response.set_cookie(inst.session_cookie, session.token, max_age=int(session.expires_at - time.time()),
                        **cookie_flags(inst))
    return response


@tenant_page
async def confirm_email_page(request: Request, tenant: TenantView) -> Response:
    token = request.query_params.get("token", "")[:100]
    link = await run_in_threadpool(email_links.peek, instance(request).store, tenant.id, email_links.EMAIL_CHANGE,
                                   token)
    if link is None:
        return error_page(request, 410, _("Link not usable"), _(NOT_USABLE), tenant=tenant)
    return render(request, "confirm_email.html", tenant=tenant, token=token, old_email=link.email,
                  new_email=link.new_email)


@tenant_page
async def confirm_email_submit(request: Request, tenant: TenantView) -> Response:
    inst = instance(request)
    form = await checked_form(request, _(FROM_EMAIL_AGAIN), tenant=tenant)
    if isinstance(form, Response):
        return form
    try:
        old, new = await run_in_threadpool(email_change.confirm_change, inst.store, tenant.id,
                                           str(form.get("token", ""))[:100], client_address(request))
    except ServiceError as exc:
        problem = problems_of(exc)[0]
        if problem.field == "token":
            return error_page(request, 410, _("Link not usable"), _(NOT_USABLE), tenant=tenant)
        return error_page(request, 409, _("Address not changed"), message_text(problem.message), tenant=tenant)
    response = render(request, "notice.html", tenant=tenant, title=_("Email address changed"),
                      message=_("Your account's address is now %(new)s (it was %(old)s).") % {"new": new, "old": old},
                      account=True)
    notice = await run_in_threadpool(email_change.changed_notice, inst.store, inst.settings, tenant.id, old, new,
                                     language=i18n.current())
    response.background = BackgroundTask(_send_after_answer, inst.settings, notice, "email changed")
    return response
