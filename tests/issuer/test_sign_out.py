"""Tokens end with the session and sign-out reaches the apps: refresh-token
rotation with reuse detection, every token refused once its session ends,
back-channel logout received by the app's own server, and RP-initiated
logout through end-session with its redirect URI matched exactly."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.issuer.conftest import GRAFANA_HOME, csrf_of, same_origin, sign_in
from tests.issuer.flows import exchange, get_code, token_request, userinfo


def _tokens(world, browser, client="grafana") -> dict:
    code, verifier, _ = get_code(world, browser, client)
    r = exchange(world, client, code, verifier)
    assert r.status_code == 200, r.text
    return r.json()


def _refresh(world, refresh_token, client="grafana"):
    return token_request(world, client, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def _introspect(world, token) -> dict:
    registered = world.clients["grafana"]
    with world.browser() as http:
        return http.post(world.url("/oidc/introspect"), data={"token": token},
                         auth=(registered.client_id, registered.secret)).json()


def _jwks(world) -> KeySet:
    with world.browser() as http:
        return KeySet.import_key_set(http.get(world.url("/oidc/jwks")).json())


def test_a_refresh_token_works_once_and_its_reuse_revokes_the_whole_grant(issuer_world):
    world = issuer_world
    with world.browser() as browser:
        sign_in(world, browser, "frank")
        first = _tokens(world, browser)
    second = _refresh(world, first["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    second = second.json()
    reused = _refresh(world, first["refresh_token"])  # a thief, or a replay
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # The legitimate holder's newer tokens die with it: the grant is compromised.
    assert _refresh(world, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(world, second["access_token"]).status_code == 401
    assert _introspect(world, second["access_token"]) == {"active": False}


def test_every_token_is_refused_once_its_session_signs_out(issuer_world):
    world = issuer_world
    with world.browser() as browser:
        sign_in(world, browser, "frank")
        tokens = _tokens(world, browser)
        assert userinfo(world, tokens["access_token"]).status_code == 200
        assert _introspect(world, tokens["refresh_token"])["active"] is True
        page = browser.get(world.url("/account"))
        r = browser.post(world.url("/sign-out"), headers=same_origin(world), data={"csrf": csrf_of(page.text)})
        assert r.status_code == 200
    assert userinfo(world, tokens["access_token"]).status_code == 401
    assert _refresh(world, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert _introspect(world, tokens["access_token"]) == {"active": False}


def test_introspection_is_for_confidential_clients_only(issuer_world):
    world = issuer_world
    with world.browser() as http:
        r = http.post(world.url("/oidc/introspect"), data={"token": "x", "client_id": world.clients["spa"].client_id})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_sign_out_everywhere_sends_a_back_channel_logout_token_to_the_app(issuer_world):
    world = issuer_world
    with world.browser() as browser:
        sign_in(world, browser, "frank")
        tokens = _tokens(world, browser)
        id_token = jwt.decode(tokens["id_token"], _jwks(world), algorithms=["RS256"])
        page = browser.get(world.url("/account"))
        r = browser.post(world.url("/account/sessions/end"), headers=same_origin(world),
                         data={"csrf": csrf_of(page.text)})
        assert r.status_code == 200
    sid = id_token.claims["sid"]

    def for_this_session(received):
        if received.path != "/backchannel-logout":
            return False
        token = parse_qs(received.body)["logout_token"][0]
        return jwt.decode(token, _jwks(world), algorithms=["RS256"]).claims.get("sid") == sid

    arrived = world.app.wait_for(for_this_session)
    assert arrived, "the app's back-channel URI heard nothing"
    logout = jwt.decode(parse_qs(arrived[0].body)["logout_token"][0], _jwks(world), algorithms=["RS256"])
    assert logout.header["typ"] == "logout+jwt"
    claims = logout.claims
    assert claims["iss"] == world.issuer and claims["aud"] == world.clients["grafana"].client_id
    assert claims["sub"] == id_token.claims["sub"] and "nonce" not in claims
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
    assert userinfo(world, tokens["access_token"]).status_code == 401


def _end_session(world, browser, params: dict):
    return browser.get(world.url("/oidc/end-session") + "?" + urlencode(params))


def test_end_session_signs_out_and_returns_to_the_registered_uri_with_state(issuer_world):
    world = issuer_world
    with world.browser() as browser:
        sign_in(world, browser, "frank")
        tokens = _tokens(world, browser)
        page = _end_session(world, browser, {"id_token_hint": tokens["id_token"],
                                             "post_logout_redirect_uri": GRAFANA_HOME, "state": "s-42"})
        assert page.status_code == 200 and "Sign out of grafana" in page.text
        request = re.search(r'name="request" value="([^"]*)"', page.text).group(1)
        r = browser.post(world.url("/oidc/end-session"), headers=same_origin(world),
                         data={"csrf": csrf_of(page.text), "request": html.unescape(request)})
        assert r.status_code == 303
        target = urlsplit(r.headers["location"])
        assert r.headers["location"].startswith(GRAFANA_HOME) and parse_qs(target.query) == {"state": ["s-42"]}
        assert browser.get(world.url("/account")).status_code == 303  # signed out here too
    assert userinfo(world, tokens["access_token"]).status_code == 401


def test_end_session_refuses_an_id_token_hint_of_another_client(issuer_world):
    world = issuer_world
    with world.browser() as browser:
        sign_in(world, browser, "frank")
        tokens = _tokens(world, browser)
        r = _end_session(world, browser, {"id_token_hint": tokens["id_token"],
                                          "client_id": world.clients["spa"].client_id,
                                          "post_logout_redirect_uri": GRAFANA_HOME})
    assert r.status_code == 400 and "does not match" in r.text


def test_end_session_never_redirects_to_an_unregistered_uri(issuer_world):
    world = issuer_world
    with world.browser() as browser:
        sign_in(world, browser, "frank")
        tokens = _tokens(world, browser)
        page = _end_session(world, browser, {"id_token_hint": tokens["id_token"],
                                             "post_logout_redirect_uri": GRAFANA_HOME + "evil"})
        request = re.search(r'name="request" value="([^"]*)"', page.text).group(1)
        r = browser.post(world.url("/oidc/end-session"), headers=same_origin(world),
                         data={"csrf": csrf_of(page.text), "request": html.unescape(request)})
    assert r.status_code == 200 and "location" not in r.headers


def test_end_session_refuses_a_forged_id_token_hint(issuer_world):
    from joserfc.jwk import RSAKey

    world = issuer_world
    forged = jwt.encode({"alg": "RS256", "kid": "x"}, {"iss": world.issuer, "aud": world.clients["grafana"].client_id,
                                                       "sub": "1"}, RSAKey.generate_key(2048))
    with world.browser() as browser:
        r = _end_session(world, browser, {"id_token_hint": forged, "post_logout_redirect_uri": GRAFANA_HOME})
    assert r.status_code == 400


def test_disabling_a_user_from_the_command_line_reaches_the_back_channel(issuer_world, tmp_path):
    from click.testing import CliRunner

    from ostiary.cli import main
    from ostiary.services.rules import groups, users
    from ostiary.services.base.actor import CLI_ACTOR

    world = issuer_world
    users.add_user(world.store, world.tenant_id, CLI_ACTOR, email="hank@acme.test", password="correct horse battery")
    groups.add_member(world.store, world.tenant_id, CLI_ACTOR, "staff", "hank@acme.test")
    with world.browser() as browser:
        sign_in(world, browser, "hank")
        tokens = _tokens(world, browser)
    sid = jwt.decode(tokens["id_token"], _jwks(world), algorithms=["RS256"]).claims["sid"]
    env = {"OSTIARY_DATABASE_URL": str(world.store.engine.url), "OSTIARY_DATA_DIR": str(world.tmp),
           "OSTIARY_PUBLIC_PORT": str(world.port), "SSL_CERT_FILE": str(world.tls.ca_cert)}
    r = CliRunner().invoke(main, ["user", "disable", "hank@acme.test", "--tenant", "acme"], env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output

    def for_hank(received):
        return received.path == "/backchannel-logout" and jwt.decode(
            parse_qs(received.body)["logout_token"][0], _jwks(world), algorithms=["RS256"]).claims.get("sid") == sid

    assert world.app.wait_for(for_hank), "disabling hank from the CLI told the app nothing"
