"""Real relying parties against the issuer: panva's certified `openid-client`
(Node) and Authlib's OAuth 2 client (Python), through the code flow with
PKCE, ID token, userinfo, refresh with rotation and revocation."""

from __future__ import annotations

import ssl

from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from tests.issuer.conftest import GRAFANA_CALLBACK, TENANT_HOST, authorize, follow_to_client, sign_in
from tests.support.server import LoopbackTransport


def test_openid_client_signs_in_with_code_and_pkce_and_reads_userinfo(issuer_world):
    world = issuer_world
    started = world.relying_party("start", "grafana", scope="openid profile email groups offline_access")
    assert started["ok"], started
    assert started["server"]["issuer"] == world.issuer
    with world.browser() as browser:
        sign_in(world, browser, "alice")
        callback = follow_to_client(browser, authorize(world, browser, started["url"].split("?", 1)[1]),
                                    GRAFANA_CALLBACK)
    done = world.relying_party("callback", "grafana", callback_url=callback, verifier=started["verifier"],
                               state=started["state"], nonce=started["nonce"])
    assert done["ok"], done
    claims = done["claims"]
    assert claims["iss"] == world.issuer and claims["aud"] == [world.clients["grafana"].client_id]
    assert claims["nonce"] == started["nonce"]
    assert claims["email"] == "alice@acme.test" and claims["preferred_username"] == "alice"
    # The group tree flattened as X-Forwarded-Groups is: engineering sits under staff.
    assert claims["groups"] == ["engineering", "staff"]
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:ostiary:acr:1fa"
    tokens = done["tokens"]
    assert tokens["refresh_token"] and tokens["token_type"].lower() == "bearer"
    info = world.relying_party("userinfo", "grafana", token=tokens["access_token"], sub=claims["sub"])
    assert info["ok"], info
    assert info["userinfo"]["sub"] == claims["sub"] and info["userinfo"]["groups"] == ["engineering", "staff"]

    refreshed = world.relying_party("refresh", "grafana", token=tokens["refresh_token"])
    assert refreshed["ok"], refreshed
    assert refreshed["tokens"]["refresh_token"] != tokens["refresh_token"]  # rotated
    introspected = world.relying_party("introspect", "grafana", token=refreshed["tokens"]["access_token"])
    assert introspected["introspection"]["active"] is True
    assert introspected["introspection"]["sub"] == claims["sub"]

    assert world.relying_party("revoke", "grafana", token=refreshed["tokens"]["refresh_token"])["ok"]
    after = world.relying_party("userinfo", "grafana", token=refreshed["tokens"]["access_token"], sub=claims["sub"])
    assert not after["ok"] and after["status"] == 401, after
    again = world.relying_party("refresh", "grafana", token=refreshed["tokens"]["refresh_token"])
    assert not again["ok"] and again["error"] == "invalid_grant", again


def test_openid_client_as_a_public_client_uses_pkce_without_a_secret(issuer_world):
    world = issuer_world
    started = world.relying_party("start", "spa", scope="openid profile")
    with world.browser() as browser:
        sign_in(world, browser, "bob")
        callback = follow_to_client(browser, authorize(world, browser, started["url"].split("?", 1)[1]),
                                    world.clients["spa"].redirect_uri)
    done = world.relying_party("callback", "spa", callback_url=callback, verifier=started["verifier"],
                               state=started["state"], nonce=started["nonce"])
    assert done["ok"], done
    assert done["claims"]["preferred_username"] == "bob" and "email" not in done["claims"]


def test_authlib_client_signs_in_and_its_id_token_verifies_against_the_jwks(issuer_world):
    world = issuer_world
    registered = world.clients["grafana"]
    transport = LoopbackTransport(verify=ssl.create_default_context(cafile=str(world.tls.ca_cert)))
    with OAuth2Client(registered.client_id, registered.secret, scope="openid email groups",
                      redirect_uri=registered.redirect_uri, code_challenge_method="S256", transport=transport,
                      token_endpoint_auth_method="client_secret_post") as oauth:
        metadata = oauth.request("GET", world.issuer + "/.well-known/openid-configuration", withhold_token=True).json()
        verifier = "v" * 64
        url, state = oauth.create_authorization_url(metadata["authorization_endpoint"], nonce="n-0123456789",
                                                    code_verifier=verifier)
        with world.browser() as browser:
            sign_in(world, browser, "dave")
            callback = follow_to_client(browser, authorize(world, browser, url.split("?", 1)[1]), GRAFANA_CALLBACK)
        token = oauth.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)
        jwks = KeySet.import_key_set(oauth.request("GET", metadata["jwks_uri"], withhold_token=True).json())
    decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
    JWTClaimsRegistry(iss={"essential": True, "value": world.issuer}, nonce={"essential": True, "value": "n-0123456789"},
                      aud={"essential": True, "value": registered.client_id}).validate(decoded.claims)
    assert decoded.claims["email"] == "dave@acme.test" and decoded.claims["groups"] == ["staff"]
    assert decoded.header["kid"] in {k.kid for k in jwks.keys}
    assert "refresh_token" not in token  # no offline_access asked
    assert TENANT_HOST in decoded.claims["iss"]
