"""The OpenID Connect issuer's routes on the tenant host (docs/oidc-provider.md).
Thin: each reads the request, asks ostiary.issuer, and writes the answer."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ostiary.issuer import authorization, discovery, keys, tokens
from ostiary.issuer.server import IssuerContext
from ostiary.portal.cookies import forget_cookie
from ostiary.portal.instance import instance, tenant_for
from ostiary.portal.rendering import error_page, render
from ostiary.portal.i18n import N_, gettext as _
from ostiary.portal.problem_text import message_text
from ostiary.portal.pages import checked_form, person_actor, session_from_cookie, unknown_host
from ostiary.portal.signin import second_factor_step
from ostiary.services.rules import sessions as sessions_service

SCOPE_WORDS = {
    "openid": N_("who you are (an identifier that never changes)"),
    "profile": N_("your name and user name"),
    "email": N_("your email address"),
    "groups": N_("the groups you are in"),
    "offline_access": N_("to stay signed in while you are away"),
}


def _context(request: Request) -> IssuerContext | None:
    tenant = tenant_for(request)
    if tenant is None or not tenant.host:
        return None
    inst = instance(request)
    return IssuerContext(inst.store, tenant.id, inst.settings.public_url(tenant.host, "").rstrip("/"))


def _uri(ctx: IssuerContext, request: Request) -> str:
    # Authlib refuses http:// URIs; the issuer's own URL says how browsers reach it.
    return "https://" + ctx.issuer.partition("://")[2] + request.url.path




def _json(result: tuple) -> Response:
    status, body, headers = result
    response = JSONResponse(body, status_code=status, headers={k: v for k, v in dict(headers).items()
                                                               if k.lower() != "content-type"})
    response.headers["cache-control"] = "no-store"
    return response


async def configuration(request: Request) -> Response:
    ctx = _context(request)
    if ctx is None:
        return unknown_host(request)
    response = JSONResponse(discovery.configuration(ctx.issuer))
    response.headers["cache-control"] = "public, max-age=300"
    response.headers["access-control-allow-origin"] = "*"
    return response


async def jwks(request: Request) -> Response:
    ctx = _context(request)
    if ctx is None:
        return unknown_host(request)
    response = JSONResponse(await run_in_threadpool(keys.public_jwks, ctx.store))
    response.headers["cache-control"] = "public, max-age=300"
    response.headers["access-control-allow-origin"] = "*"
    return response


async def _person(request: Request):
    """The signed-in person and the session's state: (person, session)."""
    session = await session_from_cookie(request)
    if session is None or not session.complete:
        return None, session
    ctx = _context(request)
    person = await run_in_threadpool(tokens.live_person, ctx.store, ctx.tenant_id, session.id, session.user_id)
    return person, session


async def _decide(request: Request, pairs: list[tuple[str, str]], decision: str | None) -> Response:
    ctx = _context(request)
    if ctx is None:
        return unknown_host(request)
    person, session = await _person(request)
    outcome = await run_in_threadpool(authorization.decide, ctx, _uri(ctx, request), request.headers, pairs,
                                      person, decision)
    here = "/oidc/authorize?" + urlencode(pairs)
    if outcome.kind == "redirect":
        return RedirectResponse(outcome.location, status_code=302 if decision is None else 303)
    if outcome.kind == "error":
        return error_page(request, 400, _("This sign-in request is not valid"),
                          _("%(problem)s Go back to the app and try again, or tell its administrator.")
                          % {"problem": outcome.message})
    if outcome.kind == "sign_in":
        if session is not None and not session.complete:
            return RedirectResponse(second_factor_step(here), status_code=303)
        return RedirectResponse("/sign-in?" + urlencode({"next": here}), status_code=303)
    if outcome.kind == "second_factor":
        return RedirectResponse(second_factor_step(here), status_code=303)
    return render(request, "oidc_consent.html", client_name=outcome.client_name, scopes=outcome.scopes,
                  described=SCOPE_WORDS, query=urlencode(pairs), tenant=tenant_for(request))


async def authorize(request: Request) -> Response:
    return await _decide(request, list(request.query_params.multi_items()), None)


async def authorize_decision(request: Request) -> Response:
    form = await checked_form(request, _("This form expired or came from another site. Go back to the app and sign in "
                                         "again."), _("Refused"))
    if isinstance(form, Response):
        return form
    decision = form.get("decision")
    if decision not in (authorization.ALLOW, authorization.DENY):
        return error_page(request, 400, _("Refused"), _("Choose Allow or Deny."))
    return await _decide(request, parse_qsl(str(form.get("request", "")), keep_blank_values=True), decision)


async def token(request: Request) -> Response:
    ctx = _context(request)
    if ctx is None:
        return JSONResponse({"error": "invalid_request", "error_description": "not an issuer host"}, 404)
    form = await request.form()
    result = await run_in_threadpool(authorization.token_response, ctx, _uri(ctx, request), request.headers,
                                     list(form.multi_items()))
    return _json(result)


async def _endpoint(request: Request, name: str) -> Response:
    ctx = _context(request)
    if ctx is None:
        return JSONResponse({"error": "invalid_request", "error_description": "not an issuer host"}, 404)
    form = await request.form()
    result = await run_in_threadpool(authorization.endpoint_response, ctx, name, _uri(ctx, request),
                                     request.headers, list(form.multi_items()))
    return _json(result)


async def revoke(request: Request) -> Response:
    return await _endpoint(request, "revocation")


async def introspect(request: Request) -> Response:
    return await _endpoint(request, "introspection")


async def userinfo(request: Request) -> Response:
    ctx = _context(request)
    if ctx is None:
        return JSONResponse({"error": "invalid_request", "error_description": "not an issuer host"}, 404)
    result = await run_in_threadpool(discovery.userinfo, ctx, request.headers.get("authorization"))
    response = _json(result)
    response.headers["access-control-allow-origin"] = "*"
    return response


async def _end_session_request(request: Request, pairs: list[tuple[str, str]]):
    ctx = _context(request)
    return await run_in_threadpool(authorization.end_session_request, ctx, _uri(ctx, request), request.headers, pairs)


async def end_session_page(request: Request) -> Response:
    """RP-initiated logout: a page with a button, so no link or image elsewhere signs anyone out."""
    if _context(request) is None:
        return unknown_host(request)
    pairs = list(request.query_params.multi_items())
    validated, problem = await _end_session_request(request, pairs)
    if validated is None:
        return error_page(request, 400, _("This sign-out request is not valid"), message_text(problem))
    name = validated.client.row.name if validated.client is not None else ""
    return render(request, "oidc_end_session.html", client_name=name, query=urlencode(pairs),
                  tenant=tenant_for(request))


async def end_session_submit(request: Request) -> Response:
    inst = instance(request)
    if _context(request) is None:
        return unknown_host(request)
    form = await checked_form(request, _("This form expired or came from another site."), _("Sign-out refused"))
    if isinstance(form, Response):
        return form
    validated, problem = await _end_session_request(request, parse_qsl(str(form.get("request", "")),
                                                                       keep_blank_values=True))
    if validated is None:
        return error_page(request, 400, _("This sign-out request is not valid"), message_text(problem))
    session = await session_from_cookie(request)
    if session is not None:
        await run_in_threadpool(sessions_service.end_session, inst.store, session.tenant_id, session.id,
                                "sign-out at an app", person_actor(request, session.user_id))
    response = RedirectResponse(validated.redirect_uri, status_code=303) if validated.redirect_uri \
        else render(request, "signed_out.html")
    forget_cookie(response, inst, inst.session_cookie)
    return response
