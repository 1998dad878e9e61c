"""OIDC clients through the JSON API (its OpenAPI document included) and the
admin pages: the same rules and audit entries as the CLI, the secret
answered once and never again."""

from __future__ import annotations

import re

from ostiary.issuer import clients
from ostiary.services.rules import api_tokens
from ostiary.services.queries import audit
from ostiary.services.base.actor import CLI_ACTOR
from tests.issuer.conftest import csrf_of, same_origin, sign_in


def _api(world, access: str = "write"):
    token = api_tokens.create_token(world.store, world.tenant_id, CLI_ACTOR, f"t-{access}", access).token
    http = world.browser()
    http.headers["authorization"] = f"Bearer {token}"
    return http


def test_the_api_adds_a_client_answering_its_secret_once_then_edits_grants_rotates_and_deletes(issuer_world):
    world = issuer_world
    with _api(world) as api:
        schema = api.get(world.url("/api/v1/openapi.json")).json()
        assert "/oidc-clients" in schema["paths"] and "/oidc-clients/{name}/rotate-secret" in schema["paths"]
        r = api.post(world.url("/api/v1/oidc-clients"), json={
            "name": "gitea", "redirect_uris": ["https://git.acme-corp.test/user/oauth2/ostiary/callback"],
            "groups": ["staff"], "scopes": "openid email profile groups"})
        assert r.status_code == 201, r.text
        made = r.json()
        secret = made["client_secret"]
        assert secret and made["groups"] == ["staff"] and made["public"] is False
        shown = api.get(world.url("/api/v1/oidc-clients/gitea"))
        assert shown.status_code == 200 and secret not in shown.text and "client_secret" not in shown.json()
        assert secret not in api.get(world.url("/api/v1/oidc-clients")).text
        patched = api.patch(world.url("/api/v1/oidc-clients/gitea"), json={"skip_consent": True, "enabled": False})
        assert patched.json()["skip_consent"] is True and patched.json()["enabled"] is False
        assert api.put(world.url("/api/v1/oidc-clients/gitea/grants/engineering")).json()["groups"] == [
            "engineering", "staff"]
        rotated = api.post(world.url("/api/v1/oidc-clients/gitea/rotate-secret")).json()["client_secret"]
        row = clients.get_client(world.store, world.tenant_id, "gitea")
        assert clients.secret_matches(row, rotated) and not clients.secret_matches(row, secret)
        assert api.delete(world.url("/api/v1/oidc-clients/gitea")).status_code == 204
        assert api.get(world.url("/api/v1/oidc-clients/gitea")).status_code == 404
    actions = {e.action for e in audit.audit_page(world.store, world.tenant_id, action="oidc_client.", limit=100).items
               if e.detail.get("name") in ("gitea", None)}
    assert {"oidc_client.add", "oidc_client.update", "oidc_client.grant", "oidc_client.rotate_secret",
            "oidc_client.delete"} <= actions


def test_the_api_refuses_bad_input_naming_each_field(issuer_world):
    with _api(issuer_world) as api:
        r = api.post(issuer_world.url("/api/v1/oidc-clients"), json={
            "name": "bad", "redirect_uris": ["https://x.acme-corp.test/cb#frag"], "scopes": "email"})
        assert r.status_code == 422
        fields = {p["field"] for p in r.json()["problems"]}
        assert {"redirect_uris", "scopes"} <= fields
        assert api.post(issuer_world.url("/api/v1/oidc-clients"), json={"name": "x", "public": "yes"}).status_code == 422
    with _api(issuer_world, "read") as reader:
        assert reader.post(issuer_world.url("/api/v1/oidc-clients"), json={"name": "y"}).status_code == 403


def test_the_admin_pages_create_a_client_showing_the_secret_once(issuer_world):
    world = issuer_world
    with world.browser() as browser:
        sign_in(world, browser, "admin@acme.test")
        page = browser.get(world.url("/admin/oidc-clients"))
        assert page.status_code == 200 and "/.well-known/openid-configuration" in page.text
        r = browser.post(world.url("/admin/oidc-clients"), headers=same_origin(world), data={
            "csrf": csrf_of(page.text), "name": "nextcloud",
            "redirect_uris": "https://cloud.acme-corp.test/apps/user_oidc/code", "scopes": ["openid", "email"],
            "groups": "staff"})
        assert r.status_code == 200, r.text
        secret = re.search(r'id="client-secret">([^<]+)<', r.text).group(1)
        row = clients.get_client(world.store, world.tenant_id, "nextcloud")
        assert clients.secret_matches(row, secret)
        detail = browser.get(world.url(f"/admin/oidc-clients/{row.id}"))
        assert detail.status_code == 200 and secret not in detail.text and row.client_id in detail.text
        bad = browser.post(world.url("/admin/oidc-clients"), headers=same_origin(world), data={
            "csrf": csrf_of(page.text), "name": "x", "redirect_uris": "http://cloud.acme-corp.test/cb",
            "scopes": ["openid"]})
        assert bad.status_code == 422 and "must use https://" in bad.text
        gone = browser.post(world.url(f"/admin/oidc-clients/{row.id}/delete"), headers=same_origin(world),
                            data={"csrf": csrf_of(detail.text)})
        assert gone.status_code == 303
    assert all(r.name != "nextcloud" for r in clients.list_clients(world.store, world.tenant_id))
