"""The second factor in the browser, on the tenant host: enrolling an
authenticator (a QR code drawn on the server as inline SVG, the otpauth
link and the key as text) or a passkey (portal/passkeys.py), the recovery
codes shown once, and the step that asks for a code at every sign-in of a
user who has one (and when an app requires it)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.observability import events
from ostiary.portal.i18n import N_, gettext as _
from ostiary.portal.client_address import client_address
from ostiary.portal.csrf import csrf_ok
from ostiary.portal.instance import instance
from ostiary.portal.pages import person_actor, session_from_cookie, tenant_page
from ostiary.portal.rendering import error_page, render
from ostiary.portal.signin import check_password, fail_slowly, safe_next, throttled_message
from ostiary.services.rules import passkeys as passkeys_service
from ostiary.services.rules import second_factor as second_factor_service
from ostiary.services.rules import throttle
from ostiary.services.rules import users as users_service
from ostiary.services.base.errors import InvalidInput
from ostiary.snapshot.model import TenantView
from ostiary.tokens import PENDING_TOTP, sign, verify

PENDING_TTL = 900
WRONG_CODE = N_("That code is not right, or was already used.")


def _sign_in_first(request: Request) -> Response:
    here = request.url.path + ("?" + request.url.query if request.url.query else "")
    return RedirectResponse("/sign-in?" + urlencode({"next": here}), status_code=303)


async def _context(request: Request, tenant: TenantView):
    """(instance, tenant, session, user row) or a response to send instead."""
    inst = instance(request)
    # A session that still owes its second factor is welcome here: this is where it pays.
    session = await session_from_cookie(request)
    if session is None:
        return _sign_in_first(request)
    user = await run_in_threadpool(users_service.get_user_by_id, inst.store, tenant.id, session.user_id)
    if user is None or not user.active:
        return _sign_in_first(request)
    return inst, tenant, session, user


@tenant_page
async def verify_page(request: Request, tenant: TenantView) -> Response:
    ctx = await _context(request, tenant)
    if isinstance(ctx, Response):
        return ctx
    inst, tenant, session, user = ctx
    next_url = safe_next(request.query_params.get("next"))
    if not session.enrolled:
        return RedirectResponse("/second-factor/enrol?" + _next_query(next_url), status_code=303)
    if session.second_factor:
        return RedirectResponse(next_url, status_code=303)
    return _verify_page(request, tenant, session, user, next_url)


def _verify_page(request: Request, tenant, session, user, next_url: str, status: int = 200,
                 error: str | None = None) -> Response:
    has_totp = second_factor_service.is_enrolled(user)
    return render(request, "second_factor_verify.html", status=status, next=next_url, tenant=tenant, error=error,
                  has_totp=has_totp, has_passkey=_has_passkey(request, tenant, user), session_id=session.id,
                  user_id=user.id)


def verify_again(request: Request, tenant, session, user, next_url: str, status: int, error: str) -> Response:
    """The second-factor page again, with what went wrong (portal/passkeys.py)."""
    return _verify_page(request, tenant, session, user, next_url, status, error)


async def enrol_again(request: Request, inst, tenant, session, user, next_url: str, status: int,
                      error: str) -> Response:
    """The set-up page again, with what went wrong (portal/passkeys.py)."""
    return _enrol_page(request, inst, tenant, session, user, next_url, second_factor_service.new_secret(),
                       status, error)


def _has_passkey(request: Request, tenant, user) -> bool:
    return passkeys_service.count_passkeys(instance(request).store, tenant.id, user.id) > 0


@tenant_page
async def verify_submit(request: Request, tenant: TenantView) -> Response:
    started = time.monotonic()
    ctx = await _context(request, tenant)
    if isinstance(ctx, Response):
        return ctx
    inst, tenant, session, user = ctx
    form = await request.form()
    next_url = safe_next(form.get("next"))
    if not csrf_ok(request, form.get("csrf")):
        return _verify_page(request, tenant, session, user, next_url, 403,
                            _("This form expired or came from another site. Please try again."))
    if not session.enrolled:
        return RedirectResponse("/second-factor/enrol?" + _next_query(next_url), status_code=303)
    verdict = await run_in_threadpool(throttle.begin_second_factor, inst.store, tenant.id, user.id)
    if not verdict.allowed:
        events.second_factor_failed(tenant.slug, user.email, client_address(request), throttled=True)
        await fail_slowly(started)
        return _verify_page(request, tenant, session, user, next_url, 429, throttled_message(verdict.retry_after))
    code = str(form.get("code", ""))[:64]
    actor = person_actor(request, user.id)
    ok = await run_in_threadpool(second_factor_service.verify_second_factor, inst.store, tenant.id, user, code, actor)
    if not ok:
        events.second_factor_failed(tenant.slug, user.email, client_address(request))
        await fail_slowly(started)
        return _verify_page(request, tenant, session, user, next_url, 401, _(WRONG_CODE))
    await run_in_threadpool(throttle.second_factor_succeeded, inst.store, tenant.id, user.id)
    events.second_factor_passed()
    await run_in_threadpool(second_factor_service.mark_session, inst.store, tenant.id, session.id, actor)
    return RedirectResponse(next_url, status_code=303)


def _next_query(next_url: str) -> str:
    return urlencode({"next": next_url})


def _pending_token(inst, tenant_id: int, user_id: int, session_id: str, secret: str) -> str | None:
    key = inst.holder.snapshot.signing_key
    if key is None:
        return None
    payload = {"tn": tenant_id, "u": user_id, "s": session_id, "sec": secret, "exp": time.time() + PENDING_TTL}
    return sign(PENDING_TOTP, payload, key)


def _enrol_page(request: Request, inst, tenant, session, user, next_url: str, secret: str,
                status: int = 200, error: str | None = None) -> Response:
    pending = _pending_token(inst, tenant.id, user.id, session.id, secret)
    if pending is None:
        return error_page(request, 503, _("Not ready"), _("No signing key is loaded yet; try again in a moment."))
    uri = second_factor_service.provisioning_uri(secret, user.email, f"Ostiary {tenant.slug}")
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render(request, "second_factor_enrol.html", status=status, next=next_url, tenant=tenant, error=error,
                  me=user, secret_grouped=grouped, uri=uri, pending=pending, needs_password=bool(user.password_hash),
                  qr_svg=qr_svg(uri), required=session.second_factor_due and not session.enrolled)


def qr_svg(uri: str) -> str:
    """The otpauth link as a QR code in inline SVG: drawn here, so the page
    loads nothing from elsewhere and the CSP stays as it is. segno is imported
    here, with the first enrolment, not in every worker at start (memory per
    worker, BENCHMARKS.md target 5)."""
    import segno

    return segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff",
                                                  title="QR code of the authenticator link")


def _may_enrol(session, user) -> bool:
    # Replacing a working second factor needs that factor first: a stolen
    # password alone must not swap the authenticator.
    return not session.enrolled or session.second_factor


@tenant_page
async def enrol_page(request: Request, tenant: TenantView) -> Response:
    ctx = await _context(request, tenant)
    if isinstance(ctx, Response):
        return ctx
    inst, tenant, session, user = ctx
    next_url = safe_next(request.query_params.get("next"))
    if not _may_enrol(session, user):
        return RedirectResponse("/second-factor?" + _next_query("/second-factor/enrol?" + _next_query(next_url)),
                                status_code=303)
    return _enrol_page(request, inst, tenant, session, user, next_url, second_factor_service.new_secret())


@tenant_page
async def enrol_submit(request: Request, tenant: TenantView) -> Response:
    started = time.monotonic()
    ctx = await _context(request, tenant)
    if isinstance(ctx, Response):
        return ctx
    inst, tenant, session, user = ctx
    form = await request.form()
    next_url = safe_next(form.get("next"))
    pending = verify(PENDING_TOTP, str(form.get("pending", "")), inst.holder.snapshot.keys, time.time())
    if pending is None or pending.get("u") != user.id or pending.get("s") != session.id \
            or pending.get("tn") != tenant.id or not isinstance(pending.get("sec"), str):
        return error_page(request, 400, _("This set-up form expired"),
                          _("Open the second-factor set-up again; it makes a new key."))
    secret = pending["sec"]
    if not csrf_ok(request, form.get("csrf")):
        return _enrol_page(request, inst, tenant, session, user, next_url, secret, 403,
                           _("This form expired or came from another site. Please try again."))
    if not _may_enrol(session, user):
        return error_page(request, 403, _("Second factor needed"),
                          _("Confirm your current second factor before replacing it."))
    # The password again: a session left open on a shared computer must not
    # enrol a stranger's phone (people signed in only through a provider have none).
    if user.password_hash:
        password = str(form.get("password", ""))[:1024]
        checked = await check_password(request, tenant.id, user.email, password, started)
        if checked.retry_after is not None:
            return _enrol_page(request, inst, tenant, session, user, next_url, secret, 429,
                               throttled_message(checked.retry_after))
        if checked.user is None or checked.user.id != user.id:
            return _enrol_page(request, inst, tenant, session, user, next_url, secret, 401,
                               _("That password is not right."))
    actor = person_actor(request, user.id)
    try:
        enrolment = await run_in_threadpool(second_factor_service.enrol, inst.store, tenant.id, user.id, actor,
                                            secret, str(form.get("code", ""))[:64])
    except InvalidInput:
        await fail_slowly(started)
        return _enrol_page(request, inst, tenant, session, user, next_url, secret, 400,
                           _("That code is not the one the app shows now. Check the device's clock and try again."))
    # The code just proved the authenticator: this session has passed the second factor.
    await run_in_threadpool(second_factor_service.mark_session, inst.store, tenant.id, session.id, actor)
    return render(request, "second_factor_confirm.html", next=next_url, tenant=tenant, codes=enrolment.recovery_codes)
