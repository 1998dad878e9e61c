"""The authorization endpoint's decision, in order (docs/oidc-provider.md,
"Authorization"): a request that names no registered client or an
unregistered redirect URI ends on an error page here (never redirected);
every other problem goes back to the client's redirect URI as an OAuth
error. Then the person: signed in (any method), second factor passed if
they have one or the client requires one, granted the client (else
`access_denied`), and consent given unless an administrator skipped it."""

from __future__ import annotations

from dataclasses import dataclass, field

from authlib.oauth2.rfc6749.errors import AccessDeniedError, OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError

from ostiary.issuer import tokens
from ostiary.issuer import clients as clients_service
from ostiary.issuer.server import IssuerContext, IssuerRequest, IssuerServer

ALLOW, DENY = "allow", "deny"


@dataclass(frozen=True)
class Outcome:
    kind: str  # redirect | sign_in | second_factor | consent | error
    location: str = ""
    message: str = ""
    client_name: str = ""
    scopes: tuple[str, ...] = field(default_factory=tuple)


def _location(response: tuple) -> str:
    status, _, headers = response
    return dict(headers)["Location"]


def _error(err: OAuth2Error, state: str | None) -> Outcome:
    if err.redirect_uri:
        err.state = state
        return Outcome("redirect", _location(err()))
    return Outcome("error", message=err.description or err.error)


def decide(ctx: IssuerContext, uri: str, headers, pairs: list[tuple[str, str]], person: tokens.Person | None,
           decision: str | None = None) -> Outcome:
    server = IssuerServer(ctx)
    request = IssuerRequest("GET", uri, headers, pairs)
    state = request.payload.state
    try:
        grant = server.get_consent_grant(request, end_user=person)
    except OAuth2Error as err:
        return _error(err, state)
    if person is None:
        return Outcome("sign_in")
    client = request.client
    if not clients_service.may_use(ctx.store, ctx.tenant_id, client.row.id, person.id):
        return _error(AccessDeniedError("you are not granted this app", redirect_uri=grant.redirect_uri), state)
    if client.row.require_2fa and not person.second_factor:
        return Outcome("second_factor")
    scope = request.scope or ""
    prompt = (request.payload.data.get("prompt") or "").split()
    if decision == DENY:
        return _error(AccessDeniedError("the person declined", redirect_uri=grant.redirect_uri), state)
    if decision == ALLOW:
        tokens.record_consent(ctx.store, ctx.tenant_id, client.row.id, person.id, scope)
    elif not client.row.skip_consent and ("consent" in prompt or not tokens.consented(
            ctx.store, ctx.tenant_id, client.row.id, person.id, scope)):
        if "none" in prompt:
            return _error(ConsentRequiredError(redirect_uri=grant.redirect_uri), state)
        return Outcome("consent", client_name=client.row.name, scopes=tuple(scope.split()))
    response = server.create_authorization_response(request, grant_user=person, grant=grant)
    return Outcome("redirect", _location(response))


def token_response(ctx: IssuerContext, uri: str, headers, pairs: list[tuple[str, str]]) -> tuple:
    return IssuerServer(ctx).create_token_response(IssuerRequest("POST", uri, headers, pairs))


def endpoint_response(ctx: IssuerContext, name: str, uri: str, headers, pairs: list[tuple[str, str]]) -> tuple:
    return IssuerServer(ctx).create_endpoint_response(name, IssuerRequest("POST", uri, headers, pairs))


def end_session_request(ctx: IssuerContext, uri: str, headers, pairs: list[tuple[str, str]]):
    """The validated end-session request (Authlib's), or an error message for our own page."""
    server = IssuerServer(ctx)
    try:
        return server.validate_endpoint_request("end_session", IssuerRequest("GET", uri, headers, pairs)), None
    except OAuth2Error as err:
        return None, err.description or err.error
