"""Issue 14.11: a shared-cookie identity source whose secret cannot verify (a
variable the servers lack, LibreChat's published default) made every request
to the app answer 503 while `ostiary app shared-cookie` (then named
`external-identity`) exited 0 and
`ostiary doctor` showed ✓. The CLI now refuses what it can know (a secret it
can read and that is unusable), warns about what it cannot (a variable its own
shell lacks), and doctor marks the source ✗."""

from __future__ import annotations

from click.testing import CliRunner

from ostiary.cli import main
from ostiary.services.rules import apps as apps_service
from ostiary.services.rules import domains as domains_service
from ostiary.services.rules import shared_cookie
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.sharedcookie.verifier.source_config import SharedCookieSettings
from tests.doctor.test_doctor_cli import DOMAIN, error_lines, setup  # noqa: F401  (setup is a fixture)

LIBRECHAT_PUBLISHED_REFRESH_SECRET = "eaa5191f2914e30b9387fd84e254e4ba6fc51b4654968a9b0803b456a54b8418"
MISSING = "OSTIARY_TEST_SECRET_NO_ONE_HAS"
SIGN_IN = "https://chat.acme-corp.test/login"


def take_identity_from_the_chat(store, tenant_id, secret_env: str) -> None:
    shared_cookie.set_for_app(store, tenant_id, CLI_ACTOR, "wiki",
                              SharedCookieSettings(sign_in_url=SIGN_IN, secret_env=secret_env))


def test_doctor_fails_for_a_chat_cookie_source_whose_variable_is_not_set(setup, store, tenant_id, doctor, monkeypatch):
    monkeypatch.delenv(MISSING, raising=False)
    take_identity_from_the_chat(store, tenant_id, MISSING)
    result = doctor()
    assert result.exit_code == 1, result.output
    [line] = [line for line in error_lines(result.output) if "app wiki" in line]
    assert f"environment variable {MISSING} is not set" in line and "503" in line and "fix:" in line


def test_doctor_fails_for_a_chat_cookie_source_with_the_published_default_secret(setup, store, tenant_id, doctor,
                                                                                monkeypatch):
    monkeypatch.setenv("CHAT_REFRESH_SECRET", LIBRECHAT_PUBLISHED_REFRESH_SECRET)
    take_identity_from_the_chat(store, tenant_id, "CHAT_REFRESH_SECRET")
    result = doctor()
    assert result.exit_code == 1, result.output
    [line] = [line for line in error_lines(result.output) if "app wiki" in line]
    assert "published" in line


def test_doctor_passes_a_chat_cookie_source_it_can_verify(setup, store, tenant_id, doctor, monkeypatch):
    monkeypatch.setenv("CHAT_REFRESH_SECRET", "a-real-secret-of-the-chat-0123456789abcdef")
    take_identity_from_the_chat(store, tenant_id, "CHAT_REFRESH_SECRET")
    result = doctor()
    assert result.exit_code == 0, result.output
    assert f"✓ {DOMAIN} app wiki: identity from the chat's cookie refreshToken: the secret (CHAT_REFRESH_SECRET)" \
        in result.output


def shared_cookie_command(db_url, tmp_path, secret_env: str, command: str = "shared-cookie", **env: str):
    return CliRunner().invoke(main, ["app", command, "wiki", "--sign-in-url", SIGN_IN, "--secret-env", secret_env],
                              env={"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path), **env},
                              catch_exceptions=False)


def test_the_cli_refuses_a_chat_cookie_source_with_the_published_default_secret(setup, store, tenant_id, db_url,
                                                                               tmp_path):
    result = shared_cookie_command(db_url, tmp_path, "CHAT_REFRESH_SECRET",
                                   CHAT_REFRESH_SECRET=LIBRECHAT_PUBLISHED_REFRESH_SECRET)
    assert result.exit_code != 0, result.output
    assert "secret_env" in result.output and "published" in result.output and "openssl rand" in result.output
    assert apps_service.get_app(store, tenant_id, "wiki").shared_cookie is None  # nothing written


def test_the_cli_refuses_a_chat_cookie_source_with_a_too_short_secret(setup, store, tenant_id, db_url, tmp_path):
    result = shared_cookie_command(db_url, tmp_path, "CHAT_REFRESH_SECRET", CHAT_REFRESH_SECRET="short")
    assert result.exit_code != 0 and "at least 32" in result.output, result.output
    assert apps_service.get_app(store, tenant_id, "wiki").shared_cookie is None


def test_the_cli_warns_when_its_own_shell_lacks_the_secret_variable(setup, store, tenant_id, db_url, tmp_path,
                                                                    monkeypatch):
    monkeypatch.delenv(MISSING, raising=False)
    result = shared_cookie_command(db_url, tmp_path, MISSING)
    assert result.exit_code == 0, result.output
    assert f"warning: {MISSING} is not set here" in result.output and "/readyz" in result.output
    assert apps_service.get_app(store, tenant_id, "wiki").shared_cookie is not None


def test_the_old_command_names_still_set_the_source_and_help_shows_only_the_new_ones(setup, store, tenant_id, db_url,
                                                                                     tmp_path):
    """`app|domain external-identity` were the names before the shared-cookie rename (docs/upgrading.md)."""
    secret = {"CHAT_REFRESH_SECRET": "a-real-secret-of-the-chat-0123456789abcdef"}
    result = shared_cookie_command(db_url, tmp_path, "CHAT_REFRESH_SECRET", command="external-identity", **secret)
    assert result.exit_code == 0 and "identity from the cookie refreshToken" in result.output, result.output
    assert '"CHAT_REFRESH_SECRET"' in apps_service.get_app(store, tenant_id, "wiki").shared_cookie
    result = CliRunner().invoke(main, ["domain", "external-identity", DOMAIN, "--sign-in-url", SIGN_IN,
                                       "--secret-env", "CHAT_REFRESH_SECRET"],
                                env={"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path), **secret})
    assert result.exit_code == 0 and f"domain {DOMAIN}: identity from the cookie" in result.output, result.output
    assert '"CHAT_REFRESH_SECRET"' in domains_service.get_domain(store, tenant_id, DOMAIN).shared_cookie
    for group in ("app", "domain"):
        listing = CliRunner().invoke(main, [group, "--help"]).output
        assert "shared-cookie" in listing and "external-identity" not in listing, listing
