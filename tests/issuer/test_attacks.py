"""The issuer under attack: each negative case of docs/oidc-provider.md as
its own test, against the real server."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import update

from ostiary.issuer.tokens import digest
from ostiary.services.rules import users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.store.tables import oidc_codes
from tests.issuer.conftest import GRAFANA_CALLBACK, OTHER_HOST, authorize, csrf_of, redirect_params, same_origin, sign_in
from tests.issuer.flows import auth_params, exchange, get_code, token_request, userinfo


@pytest.fixture
def alice(issuer_world):
    with issuer_world.browser() as browser:
        sign_in(issuer_world, browser, "alice")
        yield browser


@pytest.mark.parametrize("bent", [
    pytest.param(GRAFANA_CALLBACK + "/extra", id="longer-path"),
    pytest.param(GRAFANA_CALLBACK[:-1], id="prefix"),
    pytest.param(GRAFANA_CALLBACK.replace("generic_oauth", "Generic_OAuth"), id="case"),
    pytest.param(GRAFANA_CALLBACK.replace("grafana.", "GRAFANA."), id="host-case"),
    pytest.param(GRAFANA_CALLBACK + "/", id="trailing-slash"),
    pytest.param(GRAFANA_CALLBACK + "?next=/admin", id="extra-query"),
    pytest.param(GRAFANA_CALLBACK + "#x", id="fragment"),
    pytest.param(GRAFANA_CALLBACK.replace("https://", "http://"), id="scheme"),
    pytest.param("https://grafana.acme-corp.test.evil.test/login/generic_oauth", id="suffix-host"),
])
def test_a_redirect_uri_that_is_not_exactly_registered_is_refused_on_our_own_page(issuer_world, alice, bent):
    params, _ = auth_params(issuer_world, "grafana", redirect_uri=bent)
    r = authorize(issuer_world, alice, params)
    assert r.status_code == 400 and "location" not in r.headers, (r.status_code, r.headers.get("location"))
    assert "not supported by client" in r.text or "Redirect URI" in r.text


def test_a_code_used_twice_is_refused_and_revokes_the_tokens_it_issued(issuer_world, alice):
    code, verifier, _ = get_code(issuer_world, alice, "grafana")
    first = exchange(issuer_world, "grafana", code, verifier)
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert userinfo(issuer_world, tokens["access_token"]).status_code == 200
    replay = exchange(issuer_world, "grafana", code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert userinfo(issuer_world, tokens["access_token"]).status_code == 401
    refreshed = token_request(issuer_world, "grafana", {"grant_type": "refresh_token",
                                                        "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def test_pkce_downgrade_leaving_out_the_verifier_is_refused(issuer_world, alice):
    code, _, _ = get_code(issuer_world, alice, "grafana")
    r = exchange(issuer_world, "grafana", code, None)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
    assert "code_verifier" in r.json()["error_description"]


def test_pkce_downgrade_to_the_plain_method_is_refused(issuer_world, alice):
    params, verifier = auth_params(issuer_world, "grafana", code_challenge="p" * 50, code_challenge_method="plain")
    answer = redirect_params(authorize(issuer_world, alice, params))
    assert answer["error"] == "invalid_request" and "S256" in answer["error_description"]
    assert answer["state"] == params["state"] and "code" not in answer


def test_a_pkce_challenge_without_its_method_is_not_taken_as_plain(issuer_world, alice):
    params, _ = auth_params(issuer_world, "grafana", code_challenge_method=None)
    answer = redirect_params(authorize(issuer_world, alice, params))
    assert answer["error"] == "invalid_request" and "code" not in answer


def test_a_wrong_pkce_verifier_is_refused(issuer_world, alice):
    code, verifier, _ = get_code(issuer_world, alice, "grafana")
    r = exchange(issuer_world, "grafana", code, verifier[:-4] + "abcd")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text


def test_an_expired_code_is_refused(issuer_world, alice):
    code, verifier, _ = get_code(issuer_world, alice, "grafana")
    with issuer_world.store.write() as conn:  # as if its 60 seconds had passed
        conn.execute(update(oidc_codes).where(oidc_codes.c.code_hash == digest(code))
                     .values(expires_at=time.time() - 1))
    r = exchange(issuer_world, "grafana", code, verifier)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text


def test_codes_live_sixty_seconds_at_most(issuer_world, alice):
    code, _, _ = get_code(issuer_world, alice, "grafana")
    with issuer_world.store.read() as conn:
        row = conn.execute(oidc_codes.select().where(oidc_codes.c.code_hash == digest(code))).one()
    assert 0 < row.expires_at - row.created_at <= 60


def test_a_wrong_client_secret_is_refused(issuer_world, alice):
    code, verifier, _ = get_code(issuer_world, alice, "grafana")
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": GRAFANA_CALLBACK}
    r = token_request(issuer_world, "grafana", data, secret="osc_not-the-secret")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
    # And the code is not spent by the failed attempt's client: the right secret still works.
    assert token_request(issuer_world, "grafana", data).status_code == 200


def test_a_confidential_client_without_its_secret_is_refused(issuer_world, alice):
    code, verifier, _ = get_code(issuer_world, alice, "grafana")
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": GRAFANA_CALLBACK, "client_id": issuer_world.clients["grafana"].client_id}
    r = token_request(issuer_world, "grafana", data, secret=None)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text


def test_a_public_client_without_pkce_is_refused(issuer_world, alice):
    params, _ = auth_params(issuer_world, "spa", code_challenge=None, code_challenge_method=None)
    answer = redirect_params(authorize(issuer_world, alice, params))
    assert answer["error"] == "invalid_request" and "PKCE" in answer["error_description"]
    assert "code" not in answer


def test_a_client_of_another_tenant_is_unknown_here(issuer_world, alice):
    params, _ = auth_params(issuer_world, "wiki")
    r = authorize(issuer_world, alice, params)
    assert r.status_code == 400 and "location" not in r.headers
    assert "does not exist" in r.text


def test_a_code_cannot_be_exchanged_at_another_tenants_issuer(issuer_world, alice):
    code, verifier, _ = get_code(issuer_world, alice, "grafana")
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": GRAFANA_CALLBACK}
    r = token_request(issuer_world, "grafana", data, host=OTHER_HOST)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text


def test_the_nonce_is_echoed_exactly_in_the_id_token(issuer_world, alice):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    nonce = "n0nce-with.odd~chars_ÿ"
    code, verifier, _ = get_code(issuer_world, alice, "grafana", nonce=nonce)
    tokens = exchange(issuer_world, "grafana", code, verifier).json()
    with issuer_world.browser() as http:
        jwks = KeySet.import_key_set(http.get(issuer_world.url("/oidc/jwks")).json())
    assert jwt.decode(tokens["id_token"], jwks, algorithms=["RS256"]).claims["nonce"] == nonce


def test_a_user_without_a_grant_gets_access_denied_and_no_code(issuer_world):
    with issuer_world.browser() as bob:
        sign_in(issuer_world, bob, "bob")  # in no group; grafana is for staff
        params, _ = auth_params(issuer_world, "grafana")
        answer = redirect_params(authorize(issuer_world, bob, params))
    assert answer["error"] == "access_denied" and "code" not in answer
    assert answer["state"] == params["state"]


def test_a_disabled_users_refresh_token_is_refused(issuer_world):
    with issuer_world.browser() as erin:
        sign_in(issuer_world, erin, "erin")
        code, verifier, _ = get_code(issuer_world, erin, "grafana")
    tokens = exchange(issuer_world, "grafana", code, verifier).json()
    users.set_active(issuer_world.store, issuer_world.tenant_id, CLI_ACTOR, "erin@acme.test", False)
    try:
        r = token_request(issuer_world, "grafana", {"grant_type": "refresh_token",
                                                    "refresh_token": tokens["refresh_token"]})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
        assert userinfo(issuer_world, tokens["access_token"]).status_code == 401
    finally:
        users.set_active(issuer_world.store, issuer_world.tenant_id, CLI_ACTOR, "erin@acme.test", True)


def test_the_implicit_flow_is_not_offered(issuer_world, alice):
    params, _ = auth_params(issuer_world, "grafana", response_type="id_token token")
    answer = redirect_params(authorize(issuer_world, alice, params))
    assert answer["error"] == "unsupported_response_type"


def test_the_password_grant_is_not_offered(issuer_world):
    r = token_request(issuer_world, "grafana", {"grant_type": "password", "username": "alice",
                                                "password": "correct horse battery"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_a_client_that_requires_a_second_factor_sends_a_password_only_session_to_that_step(issuer_world):
    with issuer_world.browser() as dave:
        sign_in(issuer_world, dave, "dave")  # staff, password only
        params, _ = auth_params(issuer_world, "vault")
        r = authorize(issuer_world, dave, params)
    assert r.status_code == 303 and r.headers["location"].startswith("/second-factor?next=%2Foidc%2Fauthorize")


def test_declining_consent_sends_access_denied_and_no_code(issuer_world):
    with issuer_world.browser() as dave:
        sign_in(issuer_world, dave, "dave")
        # prompt=consent asks again even if dave agreed before (another test file may have made him).
        params, _ = auth_params(issuer_world, "grafana", scope="openid groups", prompt="consent")
        answer = redirect_params(authorize(issuer_world, dave, params, consent="deny"))
    assert answer["error"] == "access_denied" and "code" not in answer


def test_prompt_none_without_a_session_answers_login_required_at_the_client(issuer_world):
    with issuer_world.browser() as nobody:
        params, _ = auth_params(issuer_world, "grafana", prompt="none")
        answer = redirect_params(authorize(issuer_world, nobody, params))
    assert answer["error"] == "login_required" and answer["state"] == params["state"]


def test_without_a_session_the_browser_is_sent_to_sign_in_and_back(issuer_world):
    with issuer_world.browser() as nobody:
        params, _ = auth_params(issuer_world, "grafana")
        r = authorize(issuer_world, nobody, params)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in?next=%2Foidc%2Fauthorize%3F")


def test_the_consent_form_cannot_be_posted_from_another_site(issuer_world, alice):
    params, _ = auth_params(issuer_world, "grafana")
    r = alice.post(issuer_world.url("/oidc/authorize"), data={"request": urlencode(params), "decision": "allow",
                                                             "csrf": "x" * 43},
                   headers={"origin": "https://evil.test", "sec-fetch-site": "cross-site"})
    assert r.status_code == 403 and "location" not in r.headers


def test_a_session_that_passed_its_second_factor_says_so_in_amr_and_acr_and_may_use_a_2fa_client(issuer_world):
    import pyotp
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from ostiary.services.rules import groups, second_factor

    world = issuer_world
    users.add_user(world.store, world.tenant_id, CLI_ACTOR, email="gina@acme.test", password="correct horse battery")
    groups.add_member(world.store, world.tenant_id, CLI_ACTOR, "staff", "gina@acme.test")
    secret = second_factor.new_secret()
    gina_id = users.get_user(world.store, world.tenant_id, "gina@acme.test").id
    second_factor.enrol(world.store, world.tenant_id, gina_id, CLI_ACTOR, secret, None)
    with world.browser() as gina:
        sign_in(world, gina, "gina")
        page = gina.get(world.url("/second-factor?next=/"))
        r = gina.post(world.url("/second-factor"), headers=same_origin(world),
                      data={"csrf": csrf_of(page.text), "code": pyotp.TOTP(secret).now(), "next": "/"})
        assert r.status_code == 303, r.text
        code, verifier, _ = get_code(world, gina, "vault", scope="openid")
    tokens = exchange(world, "vault", code, verifier).json()
    with world.browser() as http:
        jwks = KeySet.import_key_set(http.get(world.url("/oidc/jwks")).json())
    claims = jwt.decode(tokens["id_token"], jwks, algorithms=["RS256"]).claims
    assert claims["amr"] == ["pwd", "otp"] and claims["acr"] == "urn:ostiary:acr:2fa"
