"""A scripted client for the attack tests: builds authorization requests by
hand (so a test can bend any parameter), and calls the token endpoint."""

from __future__ import annotations

import base64
import hashlib
import secrets

import httpx

from tests.issuer.conftest import IssuerWorld, TENANT_HOST, authorize, redirect_params


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def auth_params(world: IssuerWorld, client: str, **overrides) -> tuple[dict, str]:
    verifier = secrets.token_urlsafe(48)
    params = {"response_type": "code", "client_id": world.clients[client].client_id,
              "redirect_uri": world.clients[client].redirect_uri, "scope": "openid profile email offline_access",
              "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
              "code_challenge": s256(verifier), "code_challenge_method": "S256"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}, verifier


def get_code(world: IssuerWorld, browser: httpx.Client, client: str, **overrides) -> tuple[str, str, dict]:
    """A code for `client` as the signed-in browser: (code, verifier, the params sent)."""
    params, verifier = auth_params(world, client, **overrides)
    answer = redirect_params(authorize(world, browser, params))
    assert "code" in answer, answer
    assert answer["state"] == params["state"]
    return answer["code"], verifier, params


def token_request(world: IssuerWorld, client: str, data: dict, *, secret: str | None = "registered",
                  host: str = TENANT_HOST) -> httpx.Response:
    registered = world.clients[client]
    auth = None
    if registered.secret and secret is not None:
        auth = (registered.client_id, registered.secret if secret == "registered" else secret)
    elif not registered.secret:
        data = {"client_id": registered.client_id, **data}
    with world.browser() as http:
        return http.post(world.url("/oidc/token", host), data=data, auth=auth)


def exchange(world: IssuerWorld, client: str, code: str, verifier: str | None, **extra) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": world.clients[client].redirect_uri,
            **({"code_verifier": verifier} if verifier else {}), **extra}
    return token_request(world, client, data)


def userinfo(world: IssuerWorld, access_token: str) -> httpx.Response:
    with world.browser() as http:
        return http.get(world.url("/oidc/userinfo"), headers={"authorization": f"Bearer {access_token}"})
