"""Signing in through an upstream OpenID Connect provider: discovery, the
authorization code flow with PKCE (S256), `state` and `nonce` (Authlib), and
the ID token verified with joserfc: issuer, audience, expiry, nonce and a
signature by the provider's JWKS with the algorithm pinned to asymmetric
ones (`none` and HMAC are refused). Keys are cached and fetched again when a
token names a key id the cache does not have (docs/identity-providers.md)."""

from __future__ import annotations

import threading
import time
from urllib.parse import quote_plus, urlencode

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from ostiary.identity.presets import is_multi_tenant
from ostiary.identity.provider import AnswerRefused, ProviderConfig, ProviderUnavailable, UpstreamPerson
from ostiary.identity.secrets import SecretUnavailable, read_secret

TIMEOUT = 10.0
DISCOVERY_TTL = 3600.0
JWKS_TTL = 3600.0
# A token naming an unknown key id fetches the JWKS again, at most this often per provider.
JWKS_REFETCH_INTERVAL = 2.0
LEEWAY = 60  # seconds of clock difference tolerated on exp / iat / nbf
# Only asymmetric signatures: a client secret or a public key must never verify an HMAC.
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})

_lock = threading.Lock()
_discovery: dict[str, tuple[float, dict]] = {}
_jwks: dict[str, tuple[float, KeySet]] = {}


def _get_json(url: str, **kwargs) -> dict:
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            response = client.get(url, headers={"accept": "application/json"}, **kwargs)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"{_origin(url)} did not answer ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise ProviderUnavailable(f"{_origin(url)} answered HTTP {response.status_code}")
    try:
        value = response.json()
    except ValueError:
        raise ProviderUnavailable(f"{_origin(url)} did not answer JSON") from None
    if not isinstance(value, dict):
        raise ProviderUnavailable(f"{_origin(url)} did not answer a JSON object")
    return value


def _origin(url: str) -> str:
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}" + (f":{parts.port}" if parts.port else "")


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def metadata(issuer: str) -> dict:
    """The provider's discovery document (OpenID Connect Discovery 1.0), cached."""
    now = time.monotonic()
    with _lock:
        cached = _discovery.get(issuer)
    if cached and now - cached[0] < DISCOVERY_TTL:
        return cached[1]
    doc = _get_json(discovery_url(issuer))
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(key), str):
            raise ProviderUnavailable(f"the discovery document of {issuer} has no {key}")
    # Discovery §4.3: the document's issuer is exactly the one configured
    # (Entra's multi-tenant endpoints answer a template, checked per token).
    if doc["issuer"].rstrip("/") != issuer.rstrip("/") and not is_multi_tenant(issuer):
        raise ProviderUnavailable(f"the discovery document of {issuer} names another issuer, {doc['issuer']}")
    with _lock:
        _discovery[issuer] = (now, doc)
    return doc


def keys(jwks_uri: str, refresh: bool = False) -> KeySet:
    now = time.monotonic()
    with _lock:
        cached = _jwks.get(jwks_uri)
    if cached and (now - cached[0] < JWKS_TTL) and not (refresh and now - cached[0] >= JWKS_REFETCH_INTERVAL):
        return cached[1]
    document = _get_json(jwks_uri)
    try:
        keyset = KeySet.import_key_set(document)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ProviderUnavailable(f"the provider's keys at {jwks_uri} are not a usable JWKS ({exc})") from None
    with _lock:
        _jwks[jwks_uri] = (now, keyset)
    return keyset


def forget_cached(issuer: str | None = None) -> None:
    """Drop cached discovery documents and keys (all, or one provider's)."""
    with _lock:
        if issuer is None:
            _discovery.clear()
            _jwks.clear()
        else:
            doc = _discovery.pop(issuer, None)
            if doc:
                _jwks.pop(doc[1]["jwks_uri"], None)


def pinned_algorithms(doc: dict) -> list[str]:
    """What the provider says it signs ID tokens with, asymmetric only; RS256 when it says nothing (Discovery §3)."""
    offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
    pinned = sorted(a for a in offered if a in ASYMMETRIC)
    if not pinned:
        raise ProviderUnavailable("the provider signs ID tokens only with algorithms Ostiary refuses (none or HMAC)")
    return pinned


def _secret(config: ProviderConfig) -> str:
    try:
        return read_secret(config.client_secret_ref)
    except SecretUnavailable as exc:
        raise ProviderUnavailable(str(exc)) from None


def grant_url(endpoint: str, config: ProviderConfig, redirect_uri: str, state: str, verifier: str,
              nonce: str | None = None) -> str:
    """The authorization request (RFC 6749 §4.1.1 with RFC 7636 S256), built by Authlib."""
    extra = {"nonce": nonce} if nonce else {}
    return prepare_grant_uri(endpoint, config.client_id, "code", redirect_uri=redirect_uri, scope=config.scopes,
                             state=state, code_challenge=create_s256_code_challenge(verifier),
                             code_challenge_method="S256", **extra)


def authorization_url(config: ProviderConfig, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
    doc = metadata(config.issuer)
    _secret(config)  # a missing secret is a clear page now, not after the person signed in upstream
    return grant_url(doc["authorization_endpoint"], config, redirect_uri, state, verifier, nonce)


def redeem_code(endpoint: str, config: ProviderConfig, redirect_uri: str, code: str, verifier: str,
                auth_methods: list[str] | None = None) -> dict:
    """The token request (RFC 6749 §4.1.3, with the PKCE verifier); a refusal by the token endpoint
    (a replayed or foreign code) is AnswerRefused, an unreachable one ProviderUnavailable."""
    secret = _secret(config)
    body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=verifier)
    basic = "client_secret_basic" in (auth_methods or ["client_secret_basic"])
    if not basic:
        body += "&" + urlencode({"client_id": config.client_id, "client_secret": secret})
    headers = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            response = client.post(endpoint, content=body, headers=headers,
                                   auth=(_form_encode(config.client_id), _form_encode(secret)) if basic else None)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"the token endpoint did not answer ({type(exc).__name__})") from None
    try:
        token = response.json()
    except ValueError:
        token = None
    if not isinstance(token, dict):
        raise ProviderUnavailable(f"the token endpoint answered HTTP {response.status_code} without JSON")
    error = str(token.get("error", ""))[:100]
    if error in ("invalid_client", "unauthorized_client", "incorrect_client_credentials"):
        raise ProviderUnavailable(f"the provider refused Ostiary's client id or secret ({error}): check its settings")
    # RFC 6749 §5.2 answers 400/401; GitHub answers 200 with an error member.
    if error and response.status_code < 500:
        raise AnswerRefused(f"the token endpoint refused the code: {error}")
    if response.status_code != 200 or error:
        raise ProviderUnavailable(f"the token endpoint answered HTTP {response.status_code}")
    return token


def _form_encode(value: str) -> str:
    # RFC 6749 §2.3.1: client id and secret are form-encoded before HTTP Basic.
    return quote_plus(value)


def exchange_code(config: ProviderConfig, redirect_uri: str, code: str, verifier: str) -> tuple[dict, dict]:
    doc = metadata(config.issuer)
    token = redeem_code(doc["token_endpoint"], config, redirect_uri, code, verifier,
                        doc.get("token_endpoint_auth_methods_supported"))
    return token, doc


def expected_issuer(config: ProviderConfig, doc: dict, unverified_tid: str | None) -> str:
    issuer = doc["issuer"]
    if is_multi_tenant(config.issuer):
        # Entra's `common`: the issuer names the person's directory, which must be allowed.
        if not unverified_tid or unverified_tid not in config.allowed_directories:
            raise AnswerRefused(f"the directory {unverified_tid!r} is not one this provider admits")
        issuer = issuer.replace("{tenantid}", unverified_tid)
    return issuer


def verify_id_token(config: ProviderConfig, doc: dict, id_token: str, nonce: str) -> dict:
    algorithms = pinned_algorithms(doc)
    try:
        decoded = _decode(id_token, keys(doc["jwks_uri"]), algorithms)
    except InvalidKeyIdError:
        try:
            decoded = _decode(id_token, keys(doc["jwks_uri"], refresh=True), algorithms)
        except InvalidKeyIdError:
            raise AnswerRefused("the ID token is signed by a key the provider does not publish") from None
    claims = decoded.claims
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY,
        iss={"essential": True, "value": expected_issuer(config, doc, claims.get("tid"))},
        aud={"essential": True, "value": config.client_id},
        exp={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise AnswerRefused(f"the ID token is not valid: {exc}") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    # Core §3.1.3.7: with several audiences, the token must have been issued to us (azp).
    if len(audiences) > 1 and claims.get("azp") != config.client_id:
        raise AnswerRefused("the ID token names several audiences and was not issued to this client (azp)")
    return claims


def _decode(id_token: str, keyset: KeySet, algorithms: list[str]):
    try:
        return jwt.decode(id_token, keyset, algorithms=algorithms)
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError) as exc:
        raise AnswerRefused(f"the ID token's signature does not verify ({type(exc).__name__}: {exc})") from None


def userinfo(doc: dict, access_token: str) -> dict:
    endpoint = doc.get("userinfo_endpoint")
    if not endpoint or not access_token:
        return {}
    return _get_json(endpoint, auth=_Bearer(access_token))


class _Bearer(httpx.Auth):
    def __init__(self, token: str):
        self.token = token

    def auth_flow(self, request):
        request.headers["authorization"] = f"Bearer {self.token}"
        yield request


def claim(claims: dict, name: str):
    """A claim by name; dotted names reach into objects (e.g. realm_access.roles)."""
    value = claims
    for part in (name or "").split("."):
        if not part or not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def person_from_claims(config: ProviderConfig, claims: dict) -> UpstreamPerson:
    names = config.claims
    groups = claim(claims, names.get("groups", "")) if names.get("groups") else None
    if isinstance(groups, str):
        groups = [groups]
    verified = claims.get("email_verified")
    email = claim(claims, names.get("email") or "email")
    username = claim(claims, names.get("username") or "preferred_username")
    display = claim(claims, names.get("display_name") or "name")
    return UpstreamPerson(
        subject=str(claims["sub"]),
        email=email.strip() if isinstance(email, str) else "",
        # Only an explicit true: absent, false or anything else is unverified.
        email_verified=verified is True or verified == "true",
        username=username.strip() if isinstance(username, str) else "",
        display_name=display.strip() if isinstance(display, str) else "",
        groups=tuple(str(g) for g in groups if isinstance(g, (str, int))) if isinstance(groups, list) else (),
    )


def finish(config: ProviderConfig, redirect_uri: str, code: str, verifier: str, nonce: str) -> UpstreamPerson:
    """The callback's work: code for tokens, the ID token verified, the user info added."""
    token, doc = exchange_code(config, redirect_uri, code, verifier)
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise AnswerRefused("the token endpoint answered without an ID token")
    claims = verify_id_token(config, doc, id_token, nonce)
    extra = userinfo(doc, token.get("access_token", ""))
    if extra:
        # Core §5.3.2: user info about anyone else is ignored.
        if str(extra.get("sub")) != str(claims["sub"]):
            raise AnswerRefused("the user info names another subject than the ID token")
        claims = {**extra, **claims}
    return person_from_claims(config, claims)
