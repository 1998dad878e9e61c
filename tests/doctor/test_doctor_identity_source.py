"""Issue 14.11: a chat-cookie identity source whose secret cannot verify (a
variable the servers lack, LibreChat's published default) made every request
to the app answer 503 while `ostiary app external-identity` exited 0 and
`ostiary doctor` showed ✓. The CLI now refuses what it can know (a secret it
can read and that is unusable), warns about what it cannot (a variable its own
shell lacks), and doctor marks the source ✗."""

from __future__ import annotations

from click.testing import CliRunner

from ostiary.cli import main
from ostiary.services import apps as apps_service
from ostiary.services import external_identity
from ostiary.services.actor import CLI_ACTOR
from ostiary.sharedcookie.source_config import ExternalIdentitySettings
from tests.doctor.test_doctor_cli import DOMAIN, error_lines, setup  # noqa: F401  (setup is a fixture)

LIBRECHAT_PUBLISHED_REFRESH_SECRET = "eaa5191f2914e30b9387fd84e254e4ba6fc51b4654968a9b0803b456a54b8418"
MISSING = "OSTIARY_TEST_SECRET_NO_ONE_HAS"
SIGN_IN = "https://chat.acme-corp.test/login"


def take_identity_from_the_chat(store, tenant_id, secret_env: str) -> None:
    external_identity.set_for_app(store, tenant_id, CLI_ACTOR, "wiki",
                                  ExternalIdentitySettings(sign_in_url=SIGN_IN, secret_env=secret_env))


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


def external_identity_command(db_url, tmp_path, secret_env: str, **env: str):
    return CliRunner().invoke(main, ["app", "external-identity", "wiki", "--sign-in-url", SIGN_IN,
                                     "--secret-env", secret_env],
                              env={"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path), **env},
                              catch_exceptions=False)


def test_the_cli_refuses_a_chat_cookie_source_with_the_published_default_secret(setup, store, tenant_id, db_url,
                                                                               tmp_path):
    result = external_identity_command(db_url, tmp_path, "CHAT_REFRESH_SECRET",
                                       CHAT_REFRESH_SECRET=LIBRECHAT_PUBLISHED_REFRESH_SECRET)
    assert result.exit_code != 0, result.output
    assert "secret_env" in result.output and "published" in result.output and "openssl rand" in result.output
    assert apps_service.get_app(store, tenant_id, "wiki").external_identity is None  # nothing written


def test_the_cli_refuses_a_chat_cookie_source_with_a_too_short_secret(setup, store, tenant_id, db_url, tmp_path):
    result = external_identity_command(db_url, tmp_path, "CHAT_REFRESH_SECRET", CHAT_REFRESH_SECRET="short")
    assert result.exit_code != 0 and "at least 32" in result.output, result.output
    assert apps_service.get_app(store, tenant_id, "wiki").external_identity is None


def test_the_cli_warns_when_its_own_shell_lacks_the_secret_variable(setup, store, tenant_id, db_url, tmp_path,
                                                                    monkeypatch):
    monkeypatch.delenv(MISSING, raising=False)
    result = external_identity_command(db_url, tmp_path, MISSING)
    assert result.exit_code == 0, result.output
    assert f"warning: {MISSING} is not set here" in result.output and "/readyz" in result.output
    assert apps_service.get_app(store, tenant_id, "wiki").external_identity is not None
