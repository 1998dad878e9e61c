"""The chat's cookie, minted by Node's real jsonwebtoken as LibreChat does, verified by Ostiary."""

from __future__ import annotations

import pytest

from ostiary.sharedcookie import (
    PUBLISHED_DEFAULT_SECRETS,
    NotSignedIn,
    SharedCookieConfigError,
    SharedCookieIdentity,
    SharedCookieSource,
)
from ostiary.sharedcookie.verifier import jwtcookie

LIBRECHAT_ENV_EXAMPLE_JWT_SECRET = "16f8c0ef4a5d391b26034086c628469d3f9f497f08163ab9b40137092f2909ef"
LIBRECHAT_ENV_EXAMPLE_JWT_REFRESH_SECRET = "eaa5191f2914e30b9387fd84e254e4ba6fc51b4654968a9b0803b456a54b8418"
SIGN_IN = "https://chat.acme.test/login"


def cookie_header(token: str, provider: str | None = "librechat") -> str:
    return f"other=1; refreshToken={token}" + (f"; token_provider={provider}" if provider else "")


def test_valid_librechat_token_yields_the_user_and_session(node_minter, chat_secret, jwt_source, librechat_ids):
    token = node_minter(librechat_ids, chat_secret)
    result = jwt_source.verify(cookie_header(token))
    assert isinstance(result, SharedCookieIdentity)
    assert result.user_id == librechat_ids["id"]
    assert result.session_id == librechat_ids["sessionId"]
    assert result.expires_at > result.claims["iat"]


def test_parsed_cookies_are_accepted_as_well_as_the_header(node_minter, chat_secret, jwt_source, librechat_ids):
    token = node_minter(librechat_ids, chat_secret)
    result = jwt_source.verify({"refreshToken": token})
    assert isinstance(result, SharedCookieIdentity) and result.user_id == librechat_ids["id"]


def test_expired_token_is_refused(node_minter, chat_secret, jwt_source, librechat_ids):
    token = node_minter(librechat_ids, chat_secret, expires_in=-5)
    result = jwt_source.verify(cookie_header(token))
    assert isinstance(result, NotSignedIn) and result.reason == jwtcookie.EXPIRED


def test_token_signed_with_another_secret_is_refused(node_minter, jwt_source, librechat_ids):
    token = node_minter(librechat_ids, "another-secret-that-is-long-enough-0123456789")
    result = jwt_source.verify(cookie_header(token))
    assert isinstance(result, NotSignedIn) and result.reason == jwtcookie.BAD_SIGNATURE


@pytest.mark.parametrize("algorithm", ["HS512", "HS384", "none"])
def test_token_with_an_algorithm_other_than_hs256_is_refused(node_minter, chat_secret, jwt_source,
                                                            librechat_ids, algorithm):
    token = node_minter(librechat_ids, chat_secret, algorithm=algorithm)
    result = jwt_source.verify(cookie_header(token))
    assert isinstance(result, NotSignedIn) and result.reason == jwtcookie.WRONG_ALGORITHM


def test_token_without_session_id_is_refused(node_minter, chat_secret, jwt_source, librechat_ids):
    token = node_minter({"id": librechat_ids["id"]}, chat_secret)
    result = jwt_source.verify(cookie_header(token))
    assert isinstance(result, NotSignedIn) and result.reason == jwtcookie.MISSING_CLAIM
    assert "sessionId" in result.detail


@pytest.mark.parametrize("bad_id", [12345, ["a"], {"$oid": "x"}, ""])
def test_token_whose_user_id_is_not_a_string_is_refused(node_minter, chat_secret, jwt_source, librechat_ids, bad_id):
    token = node_minter({"id": bad_id, "sessionId": librechat_ids["sessionId"]}, chat_secret)
    result = jwt_source.verify(cookie_header(token))
    assert isinstance(result, NotSignedIn) and result.reason == jwtcookie.BAD_CLAIM


def test_token_provider_openid_means_not_signed_in_even_with_a_valid_jwt(node_minter, chat_secret, jwt_source,
                                                                        librechat_ids):
    token = node_minter(librechat_ids, chat_secret)
    result = jwt_source.verify(cookie_header(token, provider="openid"))
    assert isinstance(result, NotSignedIn) and result.reason == jwtcookie.NOT_A_JWT_PROVIDER


def test_missing_cookie_is_not_signed_in(jwt_source):
    result = jwt_source.verify("token_provider=librechat")
    assert isinstance(result, NotSignedIn) and result.reason == jwtcookie.NO_COOKIE
    assert not result


def test_garbage_cookie_is_refused_as_malformed(jwt_source):
    result = jwt_source.verify("refreshToken=not-a-jwt")
    assert isinstance(result, NotSignedIn) and result.reason == jwtcookie.MALFORMED


@pytest.mark.parametrize("published", [LIBRECHAT_ENV_EXAMPLE_JWT_SECRET, LIBRECHAT_ENV_EXAMPLE_JWT_REFRESH_SECRET])
def test_published_librechat_default_secret_is_refused_at_construction(published):
    assert published in PUBLISHED_DEFAULT_SECRETS
    with pytest.raises(SharedCookieConfigError) as refused:
        SharedCookieSource.from_env(SIGN_IN, environ={"JWT_REFRESH_SECRET": published})
    message = str(refused.value)
    assert "JWT_REFRESH_SECRET" in message and "openssl rand" in message and ".env.example" in message


def test_published_default_secret_in_a_file_is_refused_and_names_the_file(tmp_path):
    secret_file = tmp_path / "jwt_refresh_secret"
    secret_file.write_text(LIBRECHAT_ENV_EXAMPLE_JWT_REFRESH_SECRET + "\n")
    with pytest.raises(SharedCookieConfigError, match=str(secret_file)):
        SharedCookieSource.from_file(SIGN_IN, secret_file)


@pytest.mark.parametrize("secret", ["", "short", "x" * 31])
def test_empty_or_short_secret_is_refused_at_construction(secret):
    with pytest.raises(SharedCookieConfigError, match=r"JWT_REFRESH_SECRET is \d+ bytes"):
        SharedCookieSource.from_env(SIGN_IN, environ={"JWT_REFRESH_SECRET": secret})


def test_unset_secret_variable_is_refused_with_its_name():
    with pytest.raises(SharedCookieConfigError, match="CHAT_SECRET is not set"):
        SharedCookieSource.from_env(SIGN_IN, env_var="CHAT_SECRET", environ={})


@pytest.mark.parametrize("algorithm", ["HS512", "none", "RS256"])
def test_configuring_an_algorithm_other_than_hs256_is_refused(chat_secret, algorithm):
    with pytest.raises(SharedCookieConfigError, match="pinned to HS256"):
        SharedCookieSource(secret=chat_secret.encode(), sign_in_url=SIGN_IN, algorithm=algorithm)


def test_every_configuration_problem_is_listed_at_once():
    with pytest.raises(SharedCookieConfigError) as refused:
        SharedCookieSource(secret=b"short", sign_in_url="/login", algorithm="HS512")
    assert str(refused.value).count("\n- ") == 3


def test_secret_file_is_read_as_raw_utf8_without_its_final_newline(tmp_path, node_minter, librechat_ids):
    secret = "ünïcode-secret-" + "k" * 32
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret + "\n", encoding="utf-8")
    source = SharedCookieSource.from_file(SIGN_IN, secret_file)
    token = node_minter(librechat_ids, secret)
    assert isinstance(source.verify(cookie_header(token)), SharedCookieIdentity)


def test_secret_is_not_shown_in_the_repr(jwt_source, chat_secret):
    assert chat_secret not in repr(jwt_source)


def test_the_old_name_external_jwt_source_still_verifies_the_chat_cookie(node_minter, chat_secret, librechat_ids):
    """Consoles written before the shared-cookie rename import ExternalJwtSource (docs/upgrading.md)."""
    from ostiary.sharedcookie import ExternalJwtSource

    assert ExternalJwtSource is SharedCookieSource
    source = ExternalJwtSource.from_env(SIGN_IN, environ={"JWT_REFRESH_SECRET": chat_secret})
    result = source.verify(cookie_header(node_minter(librechat_ids, chat_secret)))
    assert isinstance(result, SharedCookieIdentity) and result.user_id == librechat_ids["id"]
