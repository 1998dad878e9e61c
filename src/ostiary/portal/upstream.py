"""Signing in through an upstream provider, on the tenant host:

- GET  /sign-in/with/<name>            starts the flow (state, nonce and the
  PKCE verifier in a signed, short-lived, host-only cookie) and redirects to
  the provider;
- GET  /sign-in/with/<name>/callback   the redirect URI: the state matched
  and used once, the code redeemed, the ID token verified, the person admitted
  by the provider's account policy, then the same central session as a
  password sign-in, recorded as `fed`;
- POST /account/identities/link        the same flow, linking the provider to
  the signed-in person; POST /account/identities/<id>/remove unlinks.

A provider that is down or answers an error gets a page naming it, with a
retry and the other ways in: never a 500, and nothing changes
(docs/identity-providers.md)."""

from __future__ import annotations

import hmac
import secrets
import time
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.identity import linking, oauth_github, oidc
from ostiary.identity.method import FEDERATED
from ostiary.identity.provider import AnswerRefused, ProviderConfig, ProviderUnavailable
from ostiary.portal.i18n import gettext as _
from ostiary.portal.client_address import client_address
from ostiary.portal.cookies import cookie_flags, forget_cookie
from ostiary.portal.instance import instance, request_host, tenant_for
from ostiary.portal.pages import SignedIn, current_session, person_actor, signed_in_form, tenant_page
from ostiary.portal.rendering import TEMPLATES, error_page, render
from ostiary.portal.problem_text import message_text
from ostiary.observability import events
from ostiary.portal import notices
from ostiary.portal.signin import safe_next
from ostiary.services.base import handshake_tokens
from ostiary.services.rules import providers
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.base.errors import ServiceError, problems_of
from ostiary.snapshot.model import TenantView
from ostiary.store import TenantScope
from ostiary.tokens import UPSTREAM_SIGN_IN, sign, verify

PENDING_TTL = 600  # seconds from leaving for the provider to coming back
UPSTREAM_COOKIE = "__Host-ostiary_upstream"
UPSTREAM_COOKIE_DEV = "ostiary_upstream"


def _cookie_name(inst) -> str:
    return UPSTREAM_COOKIE_DEV if inst.settings.dev else UPSTREAM_COOKIE


def redirect_uri(inst, request: Request, name: str) -> str:
    return inst.settings.public_url(request_host(request) or "", providers.redirect_path(name))


# --- the sign-in page's buttons and the password switch ----------------------------------------

def sign_in_options(request: Request):
    """For sign_in.html: whether the password form shows, and one button per enabled provider."""
    tenant = tenant_for(request)
    if tenant is None:
        return providers.SignInOptions(True, [])
    options = providers.sign_in_options(instance(request).store, tenant.id)
    if not options.password and request.query_params.get("with") == "password":
        # The documented break-glass way in: the form, for administrators only.
        return providers.SignInOptions(True, options.providers, options.directories)
    return options


TEMPLATES.globals["sign_in_options"] = sign_in_options


# --- pages ---------------------------------------------------------------------------------------

def problem_page(request: Request, status: int, config: ProviderConfig | None, title: str, message: str,
                 next_url: str = "/") -> Response:
    retry = f"/sign-in/with/{config.name}?{urlencode({'next': next_url})}" if config else None
    return render(request, "upstream_problem.html", status=status, tenant=tenant_for(request), title=title,
                  message=message, provider=config, retry=retry,
                  other=f"/sign-in?{urlencode({'next': next_url})}")


def _unavailable(request, config, exc, next_url) -> Response:
    names = {"provider": config.display_name, "problem": exc}
    return problem_page(request, 502, config, _("%(provider)s is not answering") % names,
                        _("Signing in with %(provider)s did not work just now (%(problem)s). "
                          "Nothing has changed. Try again in a moment, or sign in another way.") % names, next_url)


# --- starting ----------------------------------------------------------------------------------

@tenant_page
async def start(request: Request, tenant: TenantView) -> Response:
    inst = instance(request)
    next_url = safe_next(request.query_params.get("next"))
    return await _leave_for_provider(request, inst, tenant, request.path_params["name"], next_url, None)


@signed_in_form
async def link_start(request: Request, me: SignedIn, form) -> Response:
    return await _leave_for_provider(request, me.inst, me.tenant, str(form.get("provider", "")), "/account",
                                     me.session.user_id)


async def _leave_for_provider(request, inst, tenant, name: str, next_url: str, link_to: int | None) -> Response:
    config = await run_in_threadpool(providers.config_for, inst.store, tenant.id, name[:63])
    if config is None or config.protocol == "ldap":
        return problem_page(request, 404, None, _("No such way to sign in"),
                            _('This organisation has no provider "%(name)s".') % {"name": name[:63]}, next_url)
    key = inst.holder.snapshot.signing_key
    if key is None:
        return error_page(request, 503, _("Not ready"), _("No signing key is loaded yet; try again in a moment."))
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    uri = redirect_uri(inst, request, config.name)
    try:
        if config.protocol == "github":
            url = await run_in_threadpool(oauth_github.authorization_url, config, uri, state, verifier)
        else:
            url = await run_in_threadpool(oidc.authorization_url, config, uri, state, nonce, verifier)
    except ProviderUnavailable as exc:
        return _unavailable(request, config, exc, next_url)
    expires = time.time() + PENDING_TTL
    pending = {"tn": tenant.id, "p": config.id, "st": state, "n": nonce, "v": verifier, "next": next_url,
               "j": secrets.token_hex(16), "exp": expires, "link": link_to}
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(_cookie_name(inst), sign(UPSTREAM_SIGN_IN, pending, key), max_age=PENDING_TTL,
                        **cookie_flags(inst))
    return response


# --- coming back ---------------------------------------------------------------------------------

@tenant_page
async def callback(request: Request, tenant: TenantView) -> Response:
    inst = instance(request)
    name = request.path_params["name"][:63]
    config = await run_in_threadpool(providers.config_for, inst.store, tenant.id, name)
    config = None if config is not None and config.protocol == "ldap" else config
    pending = verify(UPSTREAM_SIGN_IN, request.cookies.get(_cookie_name(inst), ""), inst.holder.snapshot.keys, time.time())
    next_url = safe_next(pending.get("next")) if pending else "/"
    if config is None:
        return problem_page(request, 404, None, _("No such way to sign in"),
                            _('This organisation has no provider "%(name)s".') % {"name": name})
    q = request.query_params
    if pending is None or pending.get("tn") != tenant.id or pending.get("p") != config.id \
            or not hmac.compare_digest(str(pending.get("st", "")), q.get("state", "")):
        return await _refused(request, inst, config, "state", "the answer does not belong to a sign-in this browser "
                              "started (no, an expired or another state)", next_url)
    # The state is good for one answer: a replayed callback is refused even with the right cookie.
    if not await run_in_threadpool(handshake_tokens.consume, inst.store, pending["j"], pending["exp"]):
        return await _refused(request, inst, config, "state", "this answer was already used", next_url)
    if q.get("error"):
        return problem_page(request, 400, config, f"{config.display_name} did not sign you in",
                            f"{config.display_name} answered: {q.get('error')[:100]}"
                            + (f" ({q.get('error_description')[:200]})" if q.get("error_description") else "")
                            + ". Nothing has changed.", next_url)
    uri = redirect_uri(inst, request, config.name)
    try:
        if config.protocol == "github":
            person = await run_in_threadpool(oauth_github.finish, config, uri, q.get("code", ""), pending["v"])
        else:
            person = await run_in_threadpool(oidc.finish, config, uri, q.get("code", ""), pending["v"], pending["n"])
    except ProviderUnavailable as exc:
        return _unavailable(request, config, exc, next_url)
    except AnswerRefused as exc:
        return await _refused(request, inst, config, "answer", str(exc), next_url)
    link_to = pending.get("link")
    if link_to is not None:
        session = await current_session(request)
        if session is None or session.user_id != link_to:
            return await _refused(request, inst, config, "link", "the account that asked to link is not signed in "
                                  "in this browser", "/account")
    try:
        admitted = await run_in_threadpool(linking.admit, inst.store, config, person, client_address(request), link_to)
    except linking.NotAdmitted as refusal:
        events.sign_in_failed(tenant.slug, str(getattr(person, "email", "") or ""), client_address(request),
                              "provider", f"not admitted: {refusal.message}", via=config.name)
        return problem_page(request, 403, config, _("Not signed in"), refusal.message, next_url)
    if link_to is not None:
        response = notices.redirect_with_notice(request, "/account",
                                                _("%(provider)s is linked.") % {"provider": config.display_name})
    else:
        response = await signed_in_response(request, inst, tenant, config, admitted.user_id, next_url)
    forget_cookie(response, inst, _cookie_name(inst))
    return response


async def _refused(request, inst, config, what: str, why: str, next_url: str) -> Response:
    tenant = inst.holder.snapshot.tenants.get(config.tenant_id)
    events.sign_in_failed(tenant.slug if tenant else str(config.tenant_id), "", client_address(request), "provider",
                          f"answer refused ({what}): {why}", via=config.name)
    def audit():
        with inst.store.write() as conn:
            TenantScope(conn, config.tenant_id).audit(f"provider:{config.name}", "identity.answer_refused", "provider",
                                                      config.id, client_address(request), check=what, reason=why[:300])

    await run_in_threadpool(audit)
    return problem_page(request, 400, config, _("Sign-in refused"),
                        _("The answer from %(provider)s was refused: %(problem)s. Nothing has changed; "
                          "start again from the sign-in page.") % {"provider": config.display_name, "problem": why},
                        next_url)


async def signed_in_response(request, inst, tenant, config, user_id: int, next_url: str, method: str = FEDERATED,
                             login: str = "") -> Response:
    """The same ending as a password sign-in: a fresh central session, the old one ended."""
    addr = client_address(request)
    if not login:
        user = inst.holder.snapshot.users.get(user_id)
        login = user.email if user is not None else f"user:{user_id}"
    events.sign_in_succeeded(tenant.slug, login, addr, "ldap" if config.protocol == "ldap" else "provider",
                             via=config.name)
    old = await current_session(request)
    if old is not None:
        await run_in_threadpool(sessions_service.end_session, inst.store, tenant.id, old.id, "replaced at sign-in",
                                person_actor(request, user_id))
    session = await run_in_threadpool(
        sessions_service.create_session, inst.store, tenant.id, user_id, client_addr=addr,
        user_agent=request.headers.get("user-agent", ""), method=method, via=config.name)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(inst.session_cookie, session.token, max_age=int(session.expires_at - time.time()),
                        **cookie_flags(inst))
    return response


# --- the account page: linked identities ----------------------------------------------------------

def account_identities(request: Request, user_id: int):
    """For account.html: the person's linked identities and the providers they could link."""
    tenant = tenant_for(request)
    store = instance(request).store
    linked = linking.linked_for_user(store, tenant.id, user_id)
    options = providers.sign_in_options(store, tenant.id)
    return linked, options.providers


TEMPLATES.globals["account_identities"] = account_identities


@signed_in_form
async def unlink(request: Request, me: SignedIn, form) -> Response:
    try:
        await run_in_threadpool(linking.unlink, me.inst.store, me.tenant.id, me.actor, me.session.user_id,
                                int(request.path_params["link_id"]))
    except ServiceError as exc:
        message = "; ".join(message_text(p.message) for p in problems_of(exc))
        return notices.redirect_with_notice(request, "/account", message)
    return notices.redirect_with_notice(request, "/account", _("The identity is no longer linked."))
