"""The browser legs of the forward-auth handshake (docs/contract.md §2):
/start and /callback on the portal host, /authorize on the tenant host,
and the portal host's sign-out."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.access import ADMITTED, SECOND_FACTOR, admission, cookie_identity
from ostiary.observability import events
from ostiary.portal.client_address import client_address
from ostiary.portal.cookies import cookie_flags, forget_cookie
from ostiary.portal.csrf import csrf_ok
from ostiary.portal.instance import instance, portal_domain_for, request_host
from ostiary.portal.i18n import gettext as _
from ostiary.portal.pages import person_actor, portal_page, tenant_page
from ostiary.portal.problem_text import message_text
from ostiary.portal.rendering import error_page, render
from ostiary.portal.redirects import RdRefused, validate_rd
from ostiary.services.base import handshake_tokens
from ostiary.services.rules import sessions as sessions_service
from ostiary.snapshot.model import DomainView, TenantView
from ostiary.tokens import FORWARD_AUTH, HANDSHAKE, sign, verify
from ostiary.wire import (
    AUTHORIZE_PATH, CALLBACK_PATH, FORWARD_AUTH_COOKIE, PORTAL_SIGN_OUT_PATH, STATE_COOKIE_PREFIX,
    STATE_COOKIE_PREFIX_DEV,
)

STATE_TTL = 600


def _state_cookie_name(inst, nonce_hash: str) -> str:
    prefix = STATE_COOKIE_PREFIX_DEV if inst.settings.dev else STATE_COOKIE_PREFIX
    return prefix + nonce_hash[:16]


def _no_store(response: Response) -> Response:
    response.headers["cache-control"] = "no-store"
    return response


def _refused(request: Request, reason: str, detail: str = "") -> None:
    events.handshake_refused(client_address(request), reason, request_host(request) or "", detail)


def _rd_refused(request: Request, exc: RdRefused) -> Response:
    _refused(request, "rd_refused", str(exc))
    return error_page(request, 400, _("This sign-in link is not valid"),
                      _("%(reason)s. Ostiary only returns you to the apps it protects; go back to the app and try "
                        "again.") % {"reason": message_text(exc.message)})


async def start(request: Request) -> Response:
    inst = instance(request)
    # On a host that is no portal, every rd is refused exactly as an rd naming
    # no app of this portal would be: the answer tells no app or portal host.
    domain = portal_domain_for(request) or DomainView(-1, -1, "", request_host(request) or "", False)
    rd = request.query_params.get("rd")
    try:
        validate_rd(rd, inst.holder.snapshot, domain, inst.settings.dev)
    except RdRefused as exc:
        return _rd_refused(request, exc)
    tenant = inst.holder.snapshot.tenants.get(domain.tenant_id)
    if tenant is None or not tenant.host:
        return error_page(request, 503, _("Not ready"), _("This installation has no base domain yet."))
    nonce = secrets.token_urlsafe(32)
    nonce_hash = hashlib.sha256(nonce.encode()).hexdigest()
    target = inst.settings.public_url(tenant.host, AUTHORIZE_PATH) + "?" + urlencode(
        {"portal": domain.portal_host, "rd": rd, "nh": nonce_hash}
    )
    response = _no_store(RedirectResponse(target, status_code=302))
    response.set_cookie(_state_cookie_name(inst, nonce_hash), nonce, max_age=STATE_TTL, **cookie_flags(inst))
    return response


@tenant_page
async def authorize(request: Request, tenant: TenantView) -> Response:
    inst = instance(request)
    snap = inst.holder.snapshot
    params = request.query_params
    domain = snap.portal_hosts.get(params.get("portal", ""))
    nonce_hash = params.get("nh", "")
    if domain is None or domain.tenant_id != tenant.id or len(nonce_hash) != 64 or not all(
        c in "0123456789abcdef" for c in nonce_hash
    ):
        _refused(request, "bad_link", "no protected domain of this organisation")
        return error_page(request, 400, _("This sign-in link is not valid"),
                          _("It does not name a protected domain of this organisation. Go back to the app and try "
                            "again."))
    try:
        app = validate_rd(params.get("rd"), snap, domain, inst.settings.dev)
    except RdRefused as exc:
        return _rd_refused(request, exc)
    token = request.cookies.get(inst.session_cookie)
    session = await run_in_threadpool(sessions_service.session_for_token, inst.store, token, tenant.id)
    if session is None:
        here = request.url.path + "?" + request.url.query
        return _no_store(RedirectResponse("/sign-in?" + urlencode({"next": here}), status_code=303))
    if session.second_factor_due:
        # A user who has a second factor passes it at every sign-in, whatever the app.
        here = request.url.path + "?" + request.url.query
        return _no_store(RedirectResponse("/second-factor?" + urlencode({"next": here}), status_code=303))
    user = snap.users.get(session.user_id) or await _user_once_followed(inst, session.user_id)
    # The same rule as /check's (docs/contract.md §3), so what /authorize lets
    # through the next check lets in.
    verdict = admission(user, tenant.id, app, session.second_factor)
    if verdict == SECOND_FACTOR:
        # The second-factor step (enrolling first if need be), then back here.
        here = request.url.path + "?" + request.url.query
        return _no_store(RedirectResponse("/second-factor?" + urlencode({"next": here}), status_code=303))
    if verdict != ADMITTED:
        _refused(request, "forbidden", f"app {app.name}, user {user.username if user else session.user_id}")
        return render(request, "forbidden.html", status=403, app=app, user=user)
    now = time.time()
    payload = {
        "tn": tenant.id, "d": domain.id, "ph": domain.portal_host, "u": user.id, "s": session.id,
        "sx": session.expires_at, "rd": params["rd"], "nh": nonce_hash, "jti": secrets.token_hex(16),
        "mf": session.second_factor, "am": list(session.methods)[:8], "exp": now + inst.settings.handshake_token_ttl,
    }
    if snap.signing_key is None:
        return error_page(request, 503, _("Not ready"), _("No signing key is loaded yet; try again in a moment."))
    hs = sign(HANDSHAKE, payload, snap.signing_key)
    target = inst.settings.public_url(domain.portal_host, CALLBACK_PATH) + "?" + urlencode({"token": hs})
    return _no_store(RedirectResponse(target, status_code=302))


async def _user_once_followed(inst, user_id: int, timeout: float = 1.5):
    """A user created a moment ago may not be in this worker's snapshot yet,
    though their session is in the database: wake the follower and wait for
    the change (at most `timeout`) rather than refuse them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inst.holder.wake()
        await asyncio.sleep(0.05)
        user = inst.holder.snapshot.users.get(user_id)
        if user is not None:
            return user
    return None


@portal_page
async def callback(request: Request, domain: DomainView) -> Response:
    inst = instance(request)
    snap = inst.holder.snapshot
    now = time.time()
    payload = verify(HANDSHAKE, request.query_params.get("token", ""), snap.keys, now)
    invalid = (_("This sign-in link is not valid"),
               _("It has expired, was already used, or was made for another site. Go back to the app and try "
                 "again."))
    if payload is None or payload.get("ph") != domain.portal_host or payload.get("d") != domain.id \
            or payload.get("tn") != domain.tenant_id:
        _refused(request, "invalid_token", "expired, badly signed or made for another portal")
        return error_page(request, 400, *invalid)
    state_name = _state_cookie_name(inst, payload["nh"])
    nonce = request.cookies.get(state_name, "")
    if not hmac.compare_digest(hashlib.sha256(nonce.encode()).hexdigest(), payload["nh"]):
        _refused(request, "other_browser", "the browser did not start this sign-in")
        return error_page(request, 400, _("Sign-in started in another browser"),
                          _("This browser did not start this sign-in, so it is refused. Open the app again here."))
    try:
        validate_rd(payload["rd"], snap, domain, inst.settings.dev)
    except RdRefused as exc:
        return _rd_refused(request, exc)
    if payload["s"] in snap.ended_sessions:
        _refused(request, "session_ended")
        return error_page(request, 400, *invalid)
    if not await run_in_threadpool(handshake_tokens.consume, inst.store, payload["jti"], payload["exp"]):
        _refused(request, "token_reused")
        return error_page(request, 400, *invalid)
    # Never outlive the central session, nor its idle limit (the portal is
    # where activity is recorded, so a cookie must come back for a fresh one).
    tenant = snap.tenants.get(domain.tenant_id)
    idle = tenant.idle_seconds if tenant is not None else inst.settings.forward_auth_cookie_ttl
    expires = min(now + inst.settings.forward_auth_cookie_ttl, now + idle, payload["sx"])
    cookie = sign(FORWARD_AUTH, {"tn": payload["tn"], "d": payload["d"], "s": payload["s"], "u": payload["u"],
                            "mf": payload["mf"], "am": payload.get("am", []), "exp": expires}, snap.signing_key)
    response = _no_store(RedirectResponse(payload["rd"], status_code=302))
    response.set_cookie(FORWARD_AUTH_COOKIE, cookie, max_age=int(expires - now), domain=domain.name,
                        **cookie_flags(inst))
    forget_cookie(response, inst, state_name)
    events.handshake_completed()
    return response


@portal_page
async def portal_sign_out_page(request: Request, domain: DomainView) -> Response:
    """GET: a page with a sign-out button, so a link or an image on another
    site cannot sign anyone out (the button's POST is CSRF-checked)."""
    inst = instance(request)
    rd = request.query_params.get("rd")
    try:
        validate_rd(rd, inst.holder.snapshot, domain, inst.settings.dev)
    except RdRefused:
        rd = ""  # the POST would refuse it anyway: never carry it
    return _no_store(render(request, "sign_out_confirm.html", action=PORTAL_SIGN_OUT_PATH, rd=rd))


@portal_page
async def portal_sign_out(request: Request, domain: DomainView) -> Response:
    """POST: clears this domain's cookie and ends the central session it came
    from, which the gate then refuses on every domain within a second; then
    back to a safe `rd`, or the signed-out page."""
    inst = instance(request)
    snap = inst.holder.snapshot
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        return _no_store(error_page(request, 403, _("Sign-out refused"),
                                    _("This form expired or came from another site. Open the sign-out page again.")))
    cookies = [v for k, v in _all_cookies(request) if k == FORWARD_AUTH_COOKIE]
    identity = cookie_identity(snap, cookies, domain, time.time())
    if identity is not None:
        actor = person_actor(request, identity["u"])
        await run_in_threadpool(sessions_service.end_session, inst.store, identity["tn"], identity["s"], "sign-out", actor)
    rd = str(form.get("rd", ""))
    try:
        validate_rd(rd, snap, domain, inst.settings.dev)
        response: Response = RedirectResponse(rd, status_code=303)
    except RdRefused:
        tenant = snap.tenants.get(domain.tenant_id)
        again = inst.settings.public_url(tenant.host, "/sign-in") if tenant is not None else ""
        response = render(request, "signed_out.html", sign_in_url=again)
    forget_cookie(response, inst, FORWARD_AUTH_COOKIE, domain=domain.name)
    return _no_store(response)


def _all_cookies(request: Request) -> list[tuple[str, str]]:
    """Every cookie pair, duplicates kept (Starlette's dict keeps only one)."""
    out = []
    for part in request.headers.get("cookie", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out.append((name, value))
    return out
