"""Authlib's authorization server, wired to Ostiary: the authorization code
grant only (no implicit, no password grant), PKCE with S256 only and
required of public clients, OpenID Connect ID tokens signed by joserfc,
refresh tokens with rotation, revocation (RFC 7009) and introspection for
confidential clients (RFC 7662). One server per request: it carries the
tenant and its issuer URL, so nothing of one tenant reaches another."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import OpenIDCode

from ostiary.issuer import claims, keys, tokens
from ostiary.issuer import clients as clients_service
from ostiary.issuer.logout import EndSession
from ostiary.store import Store

CONFIDENTIAL = ["client_secret_basic", "client_secret_post"]
ANY_CLIENT = [*CONFIDENTIAL, "none"]


@dataclass(frozen=True)
class IssuerContext:
    store: Store
    tenant_id: int
    issuer: str  # https://<tenant host>[:port], no trailing slash


class Payload(OAuth2Payload):
    def __init__(self, pairs: list[tuple[str, str]]):
        self._datalist = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self):
        return self._data

    @property
    def datalist(self):
        return self._datalist


class IssuerRequest(OAuth2Request):
    """A request as Authlib reads it: method, headers and the parameters (the
    query of an authorization request, the form of a token request)."""

    def __init__(self, method: str, uri: str, headers, pairs: list[tuple[str, str]]):
        super().__init__(method, uri, headers=headers)
        self.payload = Payload(pairs)

    @property
    def args(self):
        return self.payload.data

    @property
    def form(self):
        return self.payload.data


def _ctx(grant_or_endpoint) -> IssuerContext:
    return grant_or_endpoint.server.ctx


class S256Only(CodeChallenge):
    """RFC 7636 with S256 only (RFC 9700 §2.1.1), and required of public clients."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if challenge and method != "S256":
            raise InvalidRequestError("code_challenge_method must be S256: plain PKCE is not accepted")
        if not challenge and grant.request.client.public:
            raise InvalidRequestError("a public client must use PKCE: send code_challenge with "
                                      "code_challenge_method=S256")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.row.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.row.code_challenge_method


class IdTokens(OpenIDCode):
    def __init__(self, ctx: IssuerContext):
        super().__init__(require_nonce=False)
        self.ctx = ctx
        self._key = None

    def _signing_key(self):
        if self._key is None:
            self._key = keys.signing_key(self.ctx.store, keys.DEFAULT_ALGORITHM)
        return self._key

    def exists_nonce(self, nonce, request):
        return tokens.nonce_used(self.ctx.store, self.ctx.tenant_id, request.client, nonce)

    def resolve_client_private_key(self, client):
        return self._signing_key()

    def get_client_algorithm(self, client):
        return keys.DEFAULT_ALGORITHM

    def get_encode_header(self, client):
        return {"alg": keys.DEFAULT_ALGORITHM, "kid": self._signing_key().kid, "typ": "JWT"}

    def get_client_claims(self, client):
        now = int(time.time())
        return {"iss": self.ctx.issuer, "aud": [client.get_client_id()], "iat": now,
                "exp": now + client.row.access_token_seconds}

    def generate_user_info(self, user, scope):
        info = claims.user_claims(self.ctx.store, self.ctx.tenant_id, user.id, scope)
        info["sid"] = user.session_id  # for back-channel logout (OpenID Connect Back-Channel Logout §2.4)
        return info


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_CLIENT

    def save_authorization_code(self, code, request):
        data = request.payload.data
        tokens.save_code(_ctx(self).store, _ctx(self).tenant_id, request.client, request.user, code,
                         redirect_uri=data["redirect_uri"], scope=request.scope or "", nonce=data.get("nonce"),
                         challenge=data.get("code_challenge"), challenge_method=data.get("code_challenge_method"))

    def query_authorization_code(self, code, client):
        return tokens.claim_code(_ctx(self).store, _ctx(self).tenant_id, client, code)

    def delete_authorization_code(self, authorization_code):
        pass  # claimed (marked used) when it was queried

    def authenticate_user(self, authorization_code):
        ctx, row = _ctx(self), authorization_code.row
        person = tokens.live_person(ctx.store, ctx.tenant_id, row.session_id, row.user_id)
        if person is None or not clients_service.may_use(ctx.store, ctx.tenant_id, row.client_id, row.user_id):
            return None
        authorization_code.person = person
        return person


class RotatingRefresh(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_CLIENT
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        ctx = _ctx(self)
        row = tokens.claim_refresh_token(ctx.store, ctx.tenant_id, self.request.client, refresh_token)
        if row is None:
            return None
        person = tokens.token_is_live(ctx.store, ctx.tenant_id, row)
        if person is None:
            return None
        token = tokens.Token(row, self.request.client.get_client_id())
        token.person = person
        return token

    def authenticate_user(self, refresh_token):
        return refresh_token.person

    def revoke_old_credential(self, refresh_token):
        pass  # claimed (marked used) when it was authenticated


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ANY_CLIENT

    def query_token(self, token_string, token_type_hint):
        row = tokens.find_token(_ctx(self).store, _ctx(self).tenant_id, token_string)
        return tokens.Token(row, "") if row is not None else None

    def revoke_token(self, token, request):
        tokens.revoke(_ctx(self).store, _ctx(self).tenant_id, token.row)


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CONFIDENTIAL

    def query_token(self, token_string, token_type_hint):
        row = tokens.find_token(_ctx(self).store, _ctx(self).tenant_id, token_string)
        return tokens.Token(row, "") if row is not None else None

    def check_permission(self, token, client, request):
        return token.row.client_id == client.row.id

    def introspect_token(self, token):
        ctx, row = _ctx(self), token.row
        if tokens.token_is_live(ctx.store, ctx.tenant_id, row) is None:
            return {"active": False}
        return {"active": True, "scope": row.scope, "client_id": self._client_id, "sub": claims.subject(row.user_id),
                "exp": int(row.expires_at), "iat": int(row.created_at), "iss": ctx.issuer,
                "token_type": "Bearer" if row.kind == "access" else "refresh_token"}

    def authenticate_token(self, request, client):
        self._client_id = client.get_client_id()
        return super().authenticate_token(request, client)


class IssuerServer(AuthorizationServer):
    def __init__(self, ctx: IssuerContext):
        super().__init__(scopes_supported=list(clients_service.SCOPES))
        self.ctx = ctx
        self.register_token_generator("default", self._generate)
        self.register_grant(CodeGrant, [S256Only(required=True), IdTokens(ctx)])
        self.register_grant(RotatingRefresh)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        self.register_endpoint(EndSession)

    def validate_requested_scope(self, scope):
        pass  # scopes a client may not ask for are dropped, as OpenID Connect Core §3.1.2.1 allows

    def query_client(self, client_id):
        row = clients_service.client_by_client_id(self.ctx.store, self.ctx.tenant_id, client_id)
        return tokens.Client(row) if row is not None else None

    def _generate(self, grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True):
        scope = scope or ""
        issued = tokens.new_token_values(include_refresh_token and "offline_access" in scope.split())
        token = {"token_type": "Bearer", "access_token": issued.access_token,
                 "expires_in": client.row.access_token_seconds, "scope": scope}
        if issued.refresh_token:
            token["refresh_token"] = issued.refresh_token
        return token

    def save_token(self, token, request):
        if request.authorization_code is not None:
            code_hash = request.authorization_code.row.code_hash
            family = code_hash[:32]
        else:
            code_hash, family = request.refresh_token.row.code_hash, request.refresh_token.row.family
        tokens.save_tokens(self.ctx.store, self.ctx.tenant_id, request.client, request.user, token, family=family,
                           code_hash=code_hash)

    def create_oauth2_request(self, request):
        return request

    def create_json_request(self, request):
        raise NotImplementedError("the issuer takes no JSON requests")

    def handle_response(self, status, body, headers):
        return status, body, headers

    def send_signal(self, name, *args, **kwargs):
        pass
