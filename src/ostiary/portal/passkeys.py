"""Passkeys in the browser, on the tenant host (docs/sign-in.md): adding and
removing them on the account page (or as the second factor a policy asks
for), signing in with one (no name typed, or through the browser's
autofill), and passing the second factor with one.

Each page carries the WebAuthn options made for it, with their signed,
single-use state, in a JSON block; static/passkeys.js hands them to the
browser and posts the answer in an ordinary CSRF-checked form. No fetch, so
the portal's CSP (default-src 'none') is unchanged."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.identity.method import MULTI_FACTOR, PASSKEY
from ostiary.portal.client_address import client_address
from ostiary.portal.cookies import cookie_flags
from ostiary.portal.csrf import csrf_ok, csrf_token
from ostiary.portal.instance import instance, tenant_for
from ostiary.portal.pages import SignedIn, person_actor, session_from_cookie, signed_in_form, tenant_page
from ostiary.portal.rendering import TEMPLATES, error_page, render
from ostiary.portal.i18n import gettext as _
from ostiary.portal.signin import check_password, safe_next, throttled_message
from ostiary.portal.problem_text import message_text, problem_text
from ostiary.services.rules import passkeys as passkeys_service
from ostiary.services.rules import second_factor as second_factor_service
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.rules import users as users_service
from ostiary.services.base.errors import Conflict, Problem, ServiceError, problems_of
from ostiary.snapshot.model import TenantView

MAX_CREDENTIAL = 16 * 1024  # an answer without attestation is well under 2 KB


def _rp(request: Request, tenant):
    return passkeys_service.relying_party(instance(request).settings, tenant)


def _binding_for_page(request: Request) -> str:
    """The CSRF token this page's forms carry (new or from the cookie)."""
    return passkeys_service.browser_binding(csrf_token(request))


def _binding_of_post(request: Request) -> str:
    return passkeys_service.browser_binding(request.cookies.get(instance(request).csrf_cookie, ""))


def relying_party_of(request: Request, tenant):
    return _rp(request, tenant)


def binding_of_post(request: Request) -> str:
    return _binding_of_post(request)


def credential_of(form) -> dict | None:
    """The browser's answer posted in the form, or None when missing or not JSON."""
    return _credential(form)


def _credential(form) -> dict | None:
    raw = str(form.get("credential", ""))
    if not raw or len(raw) > MAX_CREDENTIAL:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes: refused, never a 500
        return None
    return value if isinstance(value, dict) else None


# --- options the pages carry (template globals) -----------------------------------------------------

def registration_options(request: Request, user) -> dict | None:
    inst = instance(request)
    tenant = tenant_for(request)
    key = inst.holder.snapshot.signing_key
    if tenant is None or key is None:
        return None
    return passkeys_service.registration_options(inst.store, key, _rp(request, tenant), tenant.id, user,
                                                 _binding_for_page(request))


def invitation_options(request: Request, person, link_id: int) -> dict | None:
    """For the page an invitation link opens (portal/by_email.py): options
    bound to that person and that link; None when no key is loaded yet."""
    inst = instance(request)
    tenant = tenant_for(request)
    key = inst.holder.snapshot.signing_key
    if tenant is None or key is None:
        return None
    return passkeys_service.registration_options(inst.store, key, _rp(request, tenant), tenant.id, person,
                                                 _binding_for_page(request), link_id=link_id)


def sign_in_options(request: Request) -> dict | None:
    inst = instance(request)
    tenant = tenant_for(request)
    key = inst.holder.snapshot.signing_key
    if tenant is None or key is None:
        return None
    return passkeys_service.authentication_options(inst.store, key, _rp(request, tenant), tenant.id,
                                                   passkeys_service.SIGN_IN, _binding_for_page(request))


def second_factor_options(request: Request, user_id: int, session_id: str) -> dict | None:
    inst = instance(request)
    tenant = tenant_for(request)
    key = inst.holder.snapshot.signing_key
    if tenant is None or key is None:
        return None
    return passkeys_service.authentication_options(inst.store, key, _rp(request, tenant), tenant.id,
                                                   passkeys_service.SECOND_FACTOR, _binding_for_page(request),
                                                   user_id, session_id)


def account_passkeys(request: Request, user_id: int):
    """For account.html: the person's passkeys."""
    tenant = tenant_for(request)
    return passkeys_service.list_passkeys(instance(request).store, tenant.id, user_id)


TEMPLATES.globals.update(passkey_registration_options=registration_options,
                         passkey_sign_in_options=sign_in_options,
                         passkey_second_factor_options=second_factor_options,
                         account_passkeys=account_passkeys)


# --- adding and removing ----------------------------------------------------------------------------

@tenant_page
async def register_submit(request: Request, tenant: TenantView) -> Response:
    """The answer to the registration options, from the account page or the
    second-factor set-up. A session that still owes its second factor may
    add one only when the person has none yet: that is the set-up a policy
    sends them to (docs/sign-in.md)."""
    from ostiary.portal import account
    from ostiary.portal import second_factor as second_factor_pages

    started = time.monotonic()
    inst = instance(request)
    session = await session_from_cookie(request)
    if session is None or (not session.complete and session.enrolled):
        return RedirectResponse("/sign-in?next=/account", status_code=303)
    user = await run_in_threadpool(users_service.get_user_by_id, inst.store, tenant.id, session.user_id)
    if user is None or not user.active:
        return RedirectResponse("/sign-in?next=/account", status_code=303)
    form = await request.form()
    setting_up = form.get("from") == "set-up"
    next_url = safe_next(form.get("next"))

    async def refuse(status: int, problem: Problem) -> Response:
        if setting_up:
            return await second_factor_pages.enrol_again(request, inst, tenant, session, user, next_url, status,
                                                         problem_text(problem))
        return await account._page(request, tenant, session, status, [problem])

    if not csrf_ok(request, form.get("csrf")):
        return await refuse(403, Problem("passkey", _("this form expired or came from another site: try again")))
    try:
        name = passkeys_service.validate_name(str(form.get("name", "")))
    except ServiceError as exc:
        return await refuse(422, problems_of(exc)[0])
    # The password again, as for a TOTP: a session left open on a shared
    # computer must not add a stranger's passkey (people signed in only
    # through a provider have no password to give).
    if user.password_hash:
        checked = await check_password(request, tenant.id, user.email, str(form.get("password", ""))[:1024], started)
        if checked.retry_after is not None:
            return await refuse(429, Problem("password", throttled_message(checked.retry_after)))
        if checked.user is None or checked.user.id != user.id:
            return await refuse(401, Problem("password", _("is not your password")))
    credential = _credential(form)
    if credential is None:
        return await refuse(400, Problem("passkey", _("the browser's answer is missing: this page needs JavaScript")))
    actor = person_actor(request, user.id)
    try:
        await run_in_threadpool(passkeys_service.register, inst.store, inst.holder.snapshot.keys,
                                _rp(request, tenant), tenant.id, user.id, _binding_of_post(request),
                                str(form.get("state", "")), credential, name, actor)
    except passkeys_service.PasskeyRefused as exc:
        return await refuse(400, Problem("passkey", exc.message))
    except ServiceError as exc:
        return await refuse(422, problems_of(exc)[0])
    if not session.second_factor:
        # Registering it just proved the passkey: this session has passed the second factor.
        await run_in_threadpool(second_factor_service.mark_session, inst.store, tenant.id, session.id, actor, PASSKEY)
    if setting_up:
        return RedirectResponse(next_url, status_code=303)
    from ostiary.portal.notices import redirect_with_notice  # /account ignores ?notice= (server-side notices)

    return redirect_with_notice(request, "/account", _("Passkey \u201c%(name)s\u201d added.") % {"name": name})


@signed_in_form
async def remove(request: Request, me: SignedIn, form) -> Response:
    tenant, session = me.tenant, me.session
    try:
        await run_in_threadpool(passkeys_service.remove, me.inst.store, tenant.id, session.user_id,
                                request.path_params["passkey_id"], me.actor, keep_a_way_in=True)
    except Conflict as exc:
        from ostiary.portal import account

        return await account._page(request, tenant, session, 409, problems_of(exc))
    except ServiceError:
        return error_page(request, 404, _("Not found"), _("That is not one of your passkeys."), tenant=tenant)
    from ostiary.portal.notices import redirect_with_notice  # /account ignores ?notice= (server-side notices)

    return redirect_with_notice(request, "/account", _("Passkey removed."))


# --- signing in ---------------------------------------------------------------------------------------

@tenant_page
async def sign_in_submit(request: Request, tenant: TenantView) -> Response:
    inst = instance(request)
    form = await request.form()
    next_url = safe_next(form.get("next"))

    def refuse(status: int, message: str) -> Response:
        return render(request, "sign_in.html", status=status, next=next_url, tenant=tenant, error=message)

    if not csrf_ok(request, form.get("csrf")):
        return refuse(403, _("This form expired or came from another site. Please sign in again."))
    credential = _credential(form)
    if credential is None:
        return refuse(400, _("The browser sent no passkey. Try again, or sign in another way."))
    addr = client_address(request)
    try:
        proven = await run_in_threadpool(
            passkeys_service.authenticate, inst.store, inst.holder.snapshot.keys, _rp(request, tenant), tenant.id,
            passkeys_service.SIGN_IN, _binding_of_post(request), str(form.get("state", "")), credential, addr)
    except passkeys_service.PasskeyRefused as exc:
        return refuse(401, message_text(exc.message))
    typed = str(form.get("login", ""))[:320].strip()
    if typed:
        # A name was typed before choosing the passkey: it must be that person's.
        named = await run_in_threadpool(users_service.find_user, inst.store, tenant.id, typed)
        if named is None or named.id != proven.user_id:
            return refuse(401, _("That passkey is not the one of the account you typed. Clear the name, "
                                 "or choose that account's passkey."))
    old = await session_from_cookie(request)
    if old is not None:
        await run_in_threadpool(sessions_service.end_session, inst.store, tenant.id, old.id, "replaced at sign-in",
                                person_actor(request, proven.user_id))
    # A passkey that verified the person (PIN, biometrics) is two factors in
    # one: something held and something known or been (docs/sign-in.md).
    session = await run_in_threadpool(
        sessions_service.create_session, inst.store, tenant.id, proven.user_id, client_addr=addr,
        user_agent=request.headers.get("user-agent", ""), method=PASSKEY,
        second_factor=proven.user_verified, also=(MULTI_FACTOR,) if proven.user_verified else ())
    live = await run_in_threadpool(sessions_service.session_for_token, inst.store, session.token, tenant.id)
    due = live is None or live.second_factor_due
    target = "/second-factor?" + urlencode({"next": next_url}) if due else next_url
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(inst.session_cookie, session.token, max_age=int(session.expires_at - time.time()),
                        **cookie_flags(inst))
    return response


# --- the second factor --------------------------------------------------------------------------------

@tenant_page
async def second_factor_submit(request: Request, tenant: TenantView) -> Response:
    from ostiary.portal import second_factor as second_factor_pages

    inst = instance(request)
    session = await session_from_cookie(request)
    if session is None:
        return RedirectResponse("/sign-in", status_code=303)
    user = await run_in_threadpool(users_service.get_user_by_id, inst.store, tenant.id, session.user_id)
    if user is None or not user.active:
        return RedirectResponse("/sign-in", status_code=303)
    form = await request.form()
    next_url = safe_next(form.get("next"))

    def refuse(status: int, message: str) -> Response:
        return second_factor_pages.verify_again(request, tenant, session, user, next_url, status, message)

    if not csrf_ok(request, form.get("csrf")):
        return refuse(403, _("This form expired or came from another site. Please try again."))
    if PASSKEY in session.methods:
        # Signed in with a passkey that did not verify the person: the same
        # device again is not a second factor (docs/sign-in.md).
        return refuse(409, _("You signed in with a passkey that did not check it is you: use your authenticator "
                             "app's code, or sign out and sign in with your password, then the passkey."))
    credential = _credential(form)
    if credential is None:
        return refuse(400, _("The browser sent no passkey. Try again, or use a code."))
    addr = client_address(request)
    try:
        await run_in_threadpool(
            passkeys_service.authenticate, inst.store, inst.holder.snapshot.keys, _rp(request, tenant), tenant.id,
            passkeys_service.SECOND_FACTOR, _binding_of_post(request), str(form.get("state", "")), credential, addr,
            session.user_id, session.id)
    except passkeys_service.PasskeyRefused as exc:
        return refuse(401, message_text(exc.message))
    actor = person_actor(request, session.user_id)
    await run_in_threadpool(second_factor_service.mark_session, inst.store, tenant.id, session.id, actor, PASSKEY)
    return RedirectResponse(next_url, status_code=303)
