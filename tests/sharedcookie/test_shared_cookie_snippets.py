"""Generated proxy snippets: valid for both Caddy versions and Traefik's schema, and the rewrite really works."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jsonschema
import pytest
import yaml

from ostiary.sharedcookie import (
    SnippetSettingsError,
    caddy_same_origin,
    caddy_sibling_subdomains,
    traefik_same_origin,
    traefik_sibling_subdomains,
)
from ostiary.sharedcookie.tooling.traefik_snippets import REWRITE_PLUGIN_MODULE

from sharedcookie_servers import TRAEFIK_SCHEMA, caddy_globals, caddy_validate, free_port

SIBLINGS = {"console.acme.test": "127.0.0.1:8001", "admin.acme.test": "http://127.0.0.1:8002"}
CONSOLES = {"/console": "127.0.0.1:8001", "/admin/": "127.0.0.1:8002"}

CADDY_SNIPPETS = {
    "same-origin": lambda: caddy_same_origin("chat.acme.test", "127.0.0.1:3080", CONSOLES),
    "same-origin-tls-internal": lambda: caddy_same_origin("chat.acme.test", "127.0.0.1:3080", CONSOLES,
                                                          tls="internal"),
    "siblings": lambda: caddy_sibling_subdomains("chat.acme.test", "127.0.0.1:3080", SIBLINGS),
    "siblings-custom-cookies": lambda: caddy_sibling_subdomains(
        "chat.acme.test:8443", "127.0.0.1:3080", {"console.acme.test:8443": "127.0.0.1:8001"},
        cookie_domain="acme.test", cookie_names=("session", "__Secure-sid"), tls="internal"),
}


@pytest.mark.parametrize("layout", sorted(CADDY_SNIPPETS))
def test_caddy_snippet_validates_with_both_caddy_versions(caddy_binaries, tmp_path, layout):
    snippet = CADDY_SNIPPETS[layout]()
    for name, binary in caddy_binaries.items():
        done = caddy_validate(binary, snippet, tmp_path / name)
        assert done.returncode == 0, f"{name} refused the {layout} snippet:\n{snippet}\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def traefik_validator():
    schema = json.loads(TRAEFIK_SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema)


def test_traefik_same_origin_snippet_matches_the_schema_and_routes_prefixes(traefik_validator):
    snippet = traefik_same_origin("chat.acme.test", "127.0.0.1:3080", CONSOLES, entry_points=("websecure",),
                                  cert_resolver="le")
    config = yaml.safe_load(snippet.dynamic_yaml)
    traefik_validator.validate(config)
    rules = {name: router["rule"] for name, router in config["http"]["routers"].items()}
    assert rules["console0"] == "Host(`chat.acme.test`) && (Path(`/console`) || PathPrefix(`/console/`))"
    assert rules["console1"] == "Host(`chat.acme.test`) && (Path(`/admin`) || PathPrefix(`/admin/`))"
    assert config["http"]["services"]["console0"]["loadBalancer"]["servers"] == [{"url": "http://127.0.0.1:8001"}]
    assert snippet.static_yaml == ""


def test_traefik_sibling_snippet_matches_the_schema_and_rewrites_every_cookie_with_the_plugin(traefik_validator):
    snippet = traefik_sibling_subdomains("chat.acme.test", "127.0.0.1:3080", SIBLINGS)
    config = yaml.safe_load(snippet.dynamic_yaml)
    traefik_validator.validate(config)
    assert config["http"]["routers"]["chat"]["middlewares"] == ["chat-shared-cookie"]
    rewrites = config["http"]["middlewares"]["chat-shared-cookie"]["plugin"]["ostiary"]["rewrites"]
    assert {r["header"] for r in rewrites} == {"Set-Cookie"}
    assert all("refreshToken|token_provider" in r["regex"] for r in rewrites)
    assert any("Domain=acme.test" in r["replacement"] for r in rewrites)
    static = yaml.safe_load(snippet.static_yaml)
    assert static["experimental"]["localPlugins"]["ostiary"]["moduleName"] == REWRITE_PLUGIN_MODULE


def test_sibling_snippet_refuses_a_host_outside_the_cookie_domain():
    with pytest.raises(SnippetSettingsError, match="'console.other.test' is not under cookie_domain 'acme.test'"):
        caddy_sibling_subdomains("chat.acme.test", "127.0.0.1:3080", {"console.other.test": "127.0.0.1:1"})


@pytest.mark.parametrize("domain", ["test", "co.uk", "github.io"])
def test_sibling_snippet_refuses_a_public_suffix_cookie_domain(domain):
    with pytest.raises(SnippetSettingsError, match="public suffix"):
        traefik_sibling_subdomains(f"chat.x.{domain}", "127.0.0.1:3080", {f"c.x.{domain}": "127.0.0.1:1"},
                                   cookie_domain=domain)


@pytest.mark.parametrize("name", ["bad name", "a;b", "__Host-session"])
def test_sibling_snippet_refuses_cookie_names_it_cannot_share(name):
    with pytest.raises(SnippetSettingsError):
        caddy_sibling_subdomains("chat.acme.test", "127.0.0.1:3080", SIBLINGS, cookie_names=(name,))


# --- the rewrite, run by both Caddy versions against a chat that sets cookies as LibreChat does ----

CHAT_SET_COOKIES = [
    "refreshToken=eyJhbGciOiJIUzI1NiJ9.e30.sig; Path=/; Expires=Thu, 01 Jan 2037 00:00:00 GMT; HttpOnly; "
    "Secure; SameSite=Strict",
    "token_provider=librechat; Path=/; Expires=Thu, 01 Jan 2037 00:00:00 GMT; HttpOnly; Secure; SameSite=Strict",
    "unrelated=1; Path=/; SameSite=Strict",
    "refreshToken=; Domain=chat.acme.test; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "token_provider=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
]


@pytest.fixture(scope="module")
def cookie_setting_chat():
    class Chat(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            for line in CHAT_SET_COOKIES:
                self.send_header("Set-Cookie", line)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("caddy", ["caddy-2.6", "caddy-2.11"])
def test_caddy_rewrites_each_chat_cookie_including_the_sign_out_ones(caddy_binaries, caddy_run, tmp_path,
                                                                    cookie_setting_chat, caddy):
    port = free_port()
    snippet = caddy_sibling_subdomains(f"http://chat.acme.test:{port}", cookie_setting_chat,
                                       {f"http://console.acme.test:{port}": "127.0.0.1:9"})
    proxy = caddy_run(caddy_binaries[caddy], caddy_globals(free_port(), free_port()) + snippet, tmp_path)
    proxy.wait_for(port)
    response = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": f"chat.acme.test:{port}"})
    assert response.status_code == 200, proxy.log.read_text()
    assert response.headers.get_list("set-cookie") == [
        "refreshToken=eyJhbGciOiJIUzI1NiJ9.e30.sig; Domain=acme.test; Path=/; Expires=Thu, 01 Jan 2037 00:00:00 GMT;"
        " HttpOnly; Secure; SameSite=Lax",
        "token_provider=librechat; Domain=acme.test; Path=/; Expires=Thu, 01 Jan 2037 00:00:00 GMT; HttpOnly; "
        "Secure; SameSite=Lax",
        "unrelated=1; Path=/; SameSite=Strict",
        "refreshToken=; Domain=acme.test; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "token_provider=; Domain=acme.test; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ]


@pytest.mark.slow
def test_traefik_rewrites_each_chat_cookie_with_ostiarys_local_plugin(tmp_path, cookie_setting_chat):
    """The sibling snippet in a real Traefik 3.7, the plugin interpreted from Ostiary's source."""
    from ostiary.proxies.traefik import write_plugin
    from tests.support.proxies import TraefikServer

    port = free_port()
    snippet = traefik_sibling_subdomains("chat.acme.test", cookie_setting_chat, {"console.acme.test": "127.0.0.1:9"},
                                         entry_points=("web",))
    static = yaml.safe_load(snippet.static_yaml)
    static.update({"entryPoints": {"web": {"address": f"127.0.0.1:{port}"}},
                   "providers": {"file": {"directory": "{dynamic_dir}"}}, "log": {"level": "INFO", "noColor": True}})
    write_plugin(tmp_path)
    with TraefikServer(yaml.safe_dump(static), {"chat.yml": snippet.dynamic_yaml}, ports=[port],
                       workdir=tmp_path) as traefik:
        deadline = time.monotonic() + 15
        while (response := httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": "chat.acme.test"})).status_code == 404:
            assert time.monotonic() < deadline, traefik.logs()
            time.sleep(0.1)
        assert response.status_code == 200, traefik.logs()
        assert response.headers.get_list("set-cookie") == [
            "refreshToken=eyJhbGciOiJIUzI1NiJ9.e30.sig; Domain=acme.test; Path=/; Expires=Thu, 01 Jan 2037 00:00:00 "
            "GMT; HttpOnly; Secure; SameSite=Lax",
            "token_provider=librechat; Domain=acme.test; Path=/; Expires=Thu, 01 Jan 2037 00:00:00 GMT; HttpOnly; "
            "Secure; SameSite=Lax",
            "unrelated=1; Path=/; SameSite=Strict",
            "refreshToken=; Domain=acme.test; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "token_provider=; Domain=acme.test; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ]
