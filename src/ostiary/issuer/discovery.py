"""What the issuer publishes: OpenID Connect Discovery 1.0 metadata and the
userinfo endpoint's answer. Paths are under /oidc/ on the tenant host."""

from __future__ import annotations

from ostiary.issuer import claims, keys, tokens
from ostiary.issuer.clients import SCOPES
from ostiary.issuer.server import IssuerContext

PATHS = {
    "authorization_endpoint": "/oidc/authorize",
    "token_endpoint": "/oidc/token",
    "userinfo_endpoint": "/oidc/userinfo",
    "jwks_uri": "/oidc/jwks",
    "revocation_endpoint": "/oidc/revoke",
    "introspection_endpoint": "/oidc/introspect",
    "end_session_endpoint": "/oidc/end-session",
}


def configuration(issuer: str) -> dict:
    return {
        "issuer": issuer,
        **{name: issuer + path for name, path in PATHS.items()},
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys.DEFAULT_ALGORITHM],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                             "name", "preferred_username", "email", "email_verified", "groups"],
        "acr_values_supported": [tokens.ACR_ONE_FACTOR, tokens.ACR_TWO_FACTORS],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


def userinfo(ctx: IssuerContext, authorization: str | None) -> tuple[int, dict, dict]:
    """RFC 6750 bearer token in the Authorization header; the claims its scope allows."""
    scheme, _, value = (authorization or "").partition(" ")
    row = tokens.find_token(ctx.store, ctx.tenant_id, value.strip(), "access") if scheme.lower() == "bearer" \
        else None
    person = tokens.token_is_live(ctx.store, ctx.tenant_id, row) if row is not None else None
    if person is None or "openid" not in row.scope.split():
        error = "invalid_token" if value else "invalid_request"
        return 401, {"error": error}, {"WWW-Authenticate": f'Bearer error="{error}"'}
    return 200, dict(claims.user_claims(ctx.store, ctx.tenant_id, row.user_id, row.scope)), {}
