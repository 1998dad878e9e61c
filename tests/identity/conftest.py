"""The identity world: a real `ostiary serve` (HTTPS, production mode) whose
tenant signs people in through two real OpenID providers (npm
`oidc-provider` under Node, over HTTPS with the test CA, which the server
trusts through SSL_CERT_FILE): "idp" (trusted for acme.test, creates
accounts for acme.test) and "other" (another provider, trusted for nothing,
existing users only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from ostiary.services.rules import groups, providers, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules.providers import ProviderSettings
from ostiary.store import Store, open_store
from tests.identity.oidc_provider import CLIENT_SECRET, OidcProvider
from tests.support.server import OstiaryServer, free_port, loopback_client
from tests.support.tls import TestTLS, issue_certificates

PASSWORD = "correct horse battery"
TENANT_HOST = "acme.id.example.test"
IDP_ACCOUNTS = {
    "alice": {"email": "alice@acme.test", "email_verified": True, "name": "Alice at the IdP",
              "preferred_username": "alice.idp", "groups": ["engineering"]},
    # Claims bob's address without the provider having verified it: must never become bob.
    "mallory": {"email": "bob@acme.test", "email_verified": False, "name": "Mallory", "preferred_username": "mallory"},
    "newbie": {"email": "newbie@acme.test", "email_verified": True, "name": "New Person",
               "preferred_username": "newbie", "groups": ["engineering", "unmapped"]},
    "outsider": {"email": "someone@elsewhere.test", "email_verified": True, "name": "Outsider",
                 "preferred_username": "outsider"},
    "renamer": {"email": "renamer@acme.test", "email_verified": True, "name": "Renamer",
                "preferred_username": "renamer"},
}
OTHER_ACCOUNTS = {
    "alice": {"email": "alice@acme.test", "email_verified": True, "name": "Alice elsewhere"},
    "carol": {"email": "carol@acme.test", "email_verified": True, "name": "Carol"},
}


@dataclass
class IdentityWorld:
    store: Store
    server: OstiaryServer
    port: int
    tls: TestTLS
    tenant_id: int
    idp: OidcProvider
    other: OidcProvider
    tmp: Path

    def url(self, path: str = "/", host: str = TENANT_HOST) -> str:
        return f"https://{host}:{self.port}{path}"

    def browser(self) -> httpx.Client:
        """A scripted browser: its own cookies, every host on loopback, the test CA trusted."""
        return loopback_client(self.tls.ca_cert)


def start_provider_flow(world: IdentityWorld, client: httpx.Client, provider: str, login: str,
                        next_url: str = "/") -> str:
    """Starts sign-in with `provider` at Ostiary, signs in as `login` at the provider's own login
    form, and answers the callback URL the provider sends the browser back to (not yet followed)."""
    r = client.get(world.url(f"/sign-in/with/{provider}"), params={"next": next_url})
    assert r.status_code == 303, r.text
    return sign_in_at_provider(client, r.headers["location"], login)


def sign_in_at_provider(client: httpx.Client, url: str, login: str) -> str:
    """From the provider's authorization URL, through its login form, to the callback URL it sends back."""
    for _ in range(10):
        if urlsplit(url).hostname == TENANT_HOST:
            return url
        r = client.get(url)
        if r.status_code in (302, 303):
            url = urljoin(url, r.headers["location"])
            continue
        assert r.status_code == 200, r.text
        action = urljoin(url, re.search(r'<form[^>]*action="([^"]+)"', r.text).group(1))
        r = client.post(action, data={"prompt": "login", "login": login, "password": "any"})
        assert r.status_code in (302, 303), r.text
        url = urljoin(action, r.headers["location"])
    raise AssertionError("the provider never sent the browser back")


def same_origin(world: IdentityWorld) -> dict:
    return {"origin": world.url("").rstrip("/"), "sec-fetch-site": "same-origin"}


def password_sign_in(world: IdentityWorld, client: httpx.Client, login: str, next_url: str = "/",
                     query: str = "") -> httpx.Response:
    page = client.get(world.url("/sign-in" + query))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post(world.url("/sign-in" + query), headers=same_origin(world),
                       data={"login": login, "password": PASSWORD, "csrf": csrf, "next": next_url})


def sign_in_with(world: IdentityWorld, client: httpx.Client, provider: str, login: str,
                 next_url: str = "/") -> httpx.Response:
    """The whole flow; answers Ostiary's response to the callback."""
    return client.get(start_provider_flow(world, client, provider, login, next_url))


@pytest.fixture(scope="session")
def identity_world(tmp_path_factory) -> IdentityWorld:
    tmp = tmp_path_factory.mktemp("identity")
    url = f"sqlite:///{tmp / 'ostiary.db'}"
    store = open_store(url)
    store.migrate()
    tls = issue_certificates(tmp / "tls", [TENANT_HOST, "*.acme-corp.test", "*.homelab.test", "127.0.0.1",
                                           "localhost"])
    port = free_port()
    callback = f"https://{TENANT_HOST}:{port}/sign-in/with/%s/callback"
    idp = OidcProvider("127.0.0.1", tls, tmp / "idp", redirect_uris=[callback % "idp"], accounts=IDP_ACCOUNTS)
    other = OidcProvider("localhost", tls, tmp / "other", redirect_uris=[callback % "other"],
                         accounts=OTHER_ACCOUNTS, client_id="ostiary-acme")
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    acme = tenants.tenant_by_slug(store, "acme").id
    for email in ("alice@acme.test", "bob@acme.test", "carol@acme.test"):
        users.add_user(store, acme, CLI_ACTOR, email=email, password=PASSWORD)
    groups.add_group(store, acme, CLI_ACTOR, "staff")
    secret_file = tmp / "idp-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    idp.start()
    other.start()
    providers.add_provider(store, acme, CLI_ACTOR, "idp", ProviderSettings(
        preset="oidc", display_name="Test IdP", issuer=idp.issuer, client_id=idp.client_id,
        client_secret_ref=f"file:{secret_file}", scopes="openid email profile groups", account_policy="create",
        create_domains=["acme.test"], trusted_domains=["acme.test"]))
    providers.map_group(store, acme, CLI_ACTOR, "idp", "engineering", "staff")
    import os

    os.environ["OTHER_IDP_SECRET"] = CLIENT_SECRET  # read by add_provider's check, and by the server below
    providers.add_provider(store, acme, CLI_ACTOR, "other", ProviderSettings(
        preset="oidc", display_name="Another IdP", issuer=other.issuer, client_id=other.client_id,
        client_secret_ref="env:OTHER_IDP_SECRET"))
    env = {"OSTIARY_DATABASE_URL": url, "OSTIARY_PUBLIC_PORT": str(port), "OSTIARY_DATA_DIR": str(tmp),
           "OSTIARY_KEY_OVERLAP_SECONDS": "3600", "SSL_CERT_FILE": str(tls.ca_cert),
           "OTHER_IDP_SECRET": CLIENT_SECRET}
    server = OstiaryServer(env, port, workers=2, tls=(tls.cert_chain, tls.private_key), log_path=tmp / "server.log")
    try:
        server.start(ready_host=TENANT_HOST, ca_cert=tls.ca_cert)
    except Exception:
        idp.stop()
        other.stop()
        raise
    world = IdentityWorld(store, server, port, tls, acme, idp, other, tmp)
    yield world
    server.stop()
    idp.stop()
    other.stop()
    store.dispose()
