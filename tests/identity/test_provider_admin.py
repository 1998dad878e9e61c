"""Configuring providers: the service's rules (every problem named at once,
nothing written), the CLI, the JSON API (and its OpenAPI) and the admin
pages, with audit entries; a client secret is read where it is referenced
and never answered back."""

from __future__ import annotations

import json
import re
import time

import pytest
from click.testing import CliRunner

from ostiary.cli import main
from ostiary.cli.base import ExitCode
from ostiary.services.rules import api_tokens, providers, tenants
from ostiary.services.queries import audit
from ostiary.services.base.actor import CLI_ACTOR, Actor
from ostiary.services.base.errors import InvalidInput
from ostiary.services.rules.providers import ProviderSettings
from tests.identity.conftest import PASSWORD

SECRET = "the-secret-value-never-shown-9f3a"


@pytest.fixture
def acme(store):
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    return tenants.tenant_by_slug(store, "acme").id


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "client-secret"
    path.write_text(SECRET + "\n")
    return path


def test_bad_settings_are_refused_naming_every_field_and_nothing_is_written(store, acme, tmp_path):
    with pytest.raises(InvalidInput) as refused:
        providers.add_provider(store, acme, CLI_ACTOR, "Bad Name!", ProviderSettings(
            preset="oidc", issuer="http://id.example.com", client_id="", scopes="email profile",
            client_secret_ref=f"file:{tmp_path / 'missing'}", create_domains=["not a domain"]))
    fields = {p.field for p in refused.value.problems}
    assert fields == {"name", "issuer", "client_id", "client_secret", "scopes", "create_domains"}, refused.value
    assert providers.list_providers(store, acme) == []


def test_entra_common_is_refused_without_a_list_of_admitted_directories(store, acme, secret_file):
    settings = ProviderSettings(preset="entra", directory="common", client_id="app-id",
                                client_secret_ref=f"file:{secret_file}")
    with pytest.raises(InvalidInput, match="allowed_directories"):
        providers.add_provider(store, acme, CLI_ACTOR, "microsoft", settings)
    from dataclasses import replace

    row = providers.add_provider(store, acme, CLI_ACTOR, "microsoft", replace(
        settings, allowed_directories=["72F988BF-86F1-41AF-91AB-2D7CD011DB47"]))
    assert row.issuer == "https://login.microsoftonline.com/common/v2.0"
    assert json.loads(row.allowed_directories) == ["72f988bf-86f1-41af-91ab-2d7cd011db47"]
    tenant = providers.add_provider(store, acme, CLI_ACTOR, "contoso", ProviderSettings(
        preset="entra", directory="72f988bf-86f1-41af-91ab-2d7cd011db47", client_id="app-id",
        client_secret_ref=f"file:{secret_file}"))
    assert tenant.issuer == "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"


def test_the_cli_adds_shows_maps_and_removes_a_provider_without_ever_printing_the_secret(store, acme, db_url,
                                                                                        tmp_path, secret_file):
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path), "OSTIARY_PUBLIC_PORT": "8443"}
    run = lambda *args: CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)  # noqa: E731
    r = run("provider", "add", "google", "--preset", "google", "--client-id", "123.apps.googleusercontent.com",
            "--client-secret-file", str(secret_file), "--trust-domain", "acme.test")
    assert r.exit_code == 0, r.output
    assert "https://acme.id.example.test:8443/sign-in/with/google/callback" in r.output
    assert run("group", "add", "staff").exit_code == 0
    assert run("provider", "map", "google", "engineering", "staff").exit_code == 0
    shown = run("provider", "show", "google")
    assert shown.exit_code == 0 and f"file:{secret_file}" in shown.output and "engineering -> staff" in shown.output
    assert "https://accounts.google.com" in shown.output and "acme.test" in shown.output
    listed = run("provider", "list")
    assert listed.output.splitlines()[0].split() == ["PROVIDER", "PRESET", "NAME", "ISSUER", "STATE"]
    assert listed.output.splitlines()[1].split()[:3] == ["google", "google", "Google"]
    bad = run("provider", "add", "gitlab", "--preset", "gitlab", "--client-id", "x", "--client-secret-env", "NOT_SET_ANYWHERE")
    assert bad.exit_code == 2 and "client_secret" in bad.output and "NOT_SET_ANYWHERE" in bad.output
    off = run("tenant", "password-sign-in", "off")
    assert off.exit_code == 0 and "/sign-in?with=password" in off.output
    assert providers.password_sign_in(store, acme) is False
    removed = run("provider", "remove", "google")
    assert removed.exit_code == 0 and "0 linked identities" in removed.output
    for output in (r.output, shown.output, listed.output, removed.output):
        assert SECRET not in output
    actions = [e.action for e in audit.audit_page(store, acme, action="provider.", limit=50).items]
    assert sorted(actions) == ["provider.add", "provider.map", "provider.remove"]
    assert not any(SECRET in json.dumps(e.detail) for e in audit.audit_page(store, acme, limit=500).items)


def test_password_sign_in_cannot_be_turned_off_before_there_is_a_provider(store, acme, db_url, tmp_path):
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path)}
    r = CliRunner().invoke(main, ["tenant", "password-sign-in", "off"], env=env)
    assert r.exit_code == ExitCode.CONFLICT and "add a provider first" in r.output
    assert providers.password_sign_in(store, acme) is True


# --- the API and the admin pages, on the real server -------------------------------------------

@pytest.fixture(scope="module")
def write_token(identity_world):
    return api_tokens.create_token(identity_world.store, identity_world.tenant_id, Actor("setup"), "providers",
                                   "write").token


def _api(world, token):
    client = world.browser()
    client.headers["authorization"] = f"Bearer {token}"
    client.base_url = world.url("/api/v1")
    return client


def test_the_api_manages_providers_and_never_answers_a_secret(identity_world, write_token, tmp_path):
    w = identity_world
    secret = w.tmp / "api-secret"
    secret.write_text(SECRET)
    with _api(w, write_token) as api:
        r = api.post("/providers", json={"name": "gitlab", "preset": "gitlab", "client_id": "gl-app",
                                         "client_secret_file": str(secret), "account_policy": "create",
                                         "create_domains": ["acme.test"]})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["client_secret_source"] == f"file:{secret}" and body["issuer"] == "https://gitlab.com"
        assert body["redirect_uri"] == w.url("/sign-in/with/gitlab/callback")
        assert api.put("/providers/gitlab/mappings/devs/staff").json()["mappings"] == [
            {"upstream_group": "devs", "group": "staff"}]
        changed = api.patch("/providers/gitlab", json={"enabled": False, "display_name": "GitLab.com"})
        assert changed.status_code == 200 and changed.json()["enabled"] is False
        refused = api.post("/providers", json={"name": "x", "client_id": "c", "client_secret_env": "NOPE_NOT_SET",
                                               "issuer": "ftp://bad"})
        assert refused.status_code == 422
        assert {p["field"] for p in refused.json()["problems"]} == {"issuer", "client_secret"}
        listed = api.get("/providers")
        assert listed.status_code == 200 and "gitlab" in [p["name"] for p in listed.json()["items"]]
        for response in (r, changed, listed, api.get("/providers/gitlab")):
            assert SECRET not in response.text
        schema = api.get("/openapi.json").json()
        assert "/providers" in schema["paths"] and "/providers/{name}/mappings/{upstream_group}/{group}" in schema["paths"]
        assert "client_secret" not in json.dumps(schema["components"]["schemas"]["ProviderOut"]["properties"]).replace(
            "client_secret_source", "")
        assert api.delete("/providers/gitlab").status_code == 204
        assert api.get("/providers/gitlab").status_code == 404


def _admin(world):
    client = world.browser()
    page = client.get(world.url("/sign-in"))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post(world.url("/sign-in"), data={"login": "admin@acme.test", "password": PASSWORD, "csrf": csrf,
                                                 "next": "/admin/providers"},
                    headers={"origin": world.url("").rstrip("/"), "sec-fetch-site": "same-origin"})
    assert r.status_code == 303, r.text
    return client, csrf


def test_the_admin_page_adds_a_provider_shows_its_redirect_uri_and_refuses_bad_input(identity_world):
    w = identity_world
    admin, csrf = _admin(w)
    headers = {"origin": w.url("").rstrip("/"), "sec-fetch-site": "same-origin"}
    try:
        page = admin.get(w.url("/admin/providers"))
        assert page.status_code == 200 and "Test IdP" in page.text and "Another IdP" in page.text
        started = time.time()  # ids of providers removed by earlier tests may come back: look at this test's entries
        bad = admin.post(w.url("/admin/providers"), headers=headers, data={
            "csrf": csrf, "name": "keycloak", "preset": "oidc", "issuer": "", "client_id": "kc",
            "secret_source": "env", "secret_where": "OTHER_IDP_SECRET"})
        assert bad.status_code == 422 and "Nothing was changed" in bad.text and "issuer" in bad.text
        r = admin.post(w.url("/admin/providers"), headers=headers, data={
            "csrf": csrf, "name": "keycloak", "preset": "oidc", "issuer": "https://keycloak.example.test/realms/acme",
            "client_id": "kc", "secret_source": "env", "secret_where": "OTHER_IDP_SECRET"})
        assert r.status_code == 303, r.text
        detail = admin.get(w.url(r.headers["location"].split("?")[0]))
        assert w.url("/sign-in/with/keycloak/callback") in detail.text and "env:OTHER_IDP_SECRET" in detail.text
        pid = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
        assert admin.post(w.url(f"/admin/providers/{pid}/delete"), headers=headers,
                          data={"csrf": csrf}).status_code == 303
    finally:
        admin.close()
    assert [e.action for e in audit.audit_page(w.store, w.tenant_id, action="provider.", entity_id=pid,
                                               since=started, limit=10).items] == ["provider.remove", "provider.add"]
