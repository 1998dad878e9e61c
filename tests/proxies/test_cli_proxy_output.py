"""`ostiary snippet` lists its proxies from the registry, prints Ostiary's own
configuration with --ostiary, and `ostiary proxy-files` writes the shipped files."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from ostiary.cli import main
from ostiary.proxies import PROXIES
from ostiary.proxies.haproxy import lua_script
from ostiary.proxies.traefik import PLUGIN_MODULE, plugin_source


@pytest.fixture
def cli(store, db_url, tmp_path):
    runner = CliRunner()
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path),
           "OSTIARY_PROXY_UPSTREAM": "http://10.0.0.5:9090"}
    password = tmp_path / "password"
    password.write_text("correct horse battery\n")

    def run(*args: str):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    assert run("init", "--base-domain", "id.example.test", "--tenant", "acme", "--admin-email", "admin@acme.test",
               "--admin-password-file", str(password)).exit_code == 0
    assert run("domain", "add", "acme-corp.test", "--portal-host", "auth.acme-corp.test").exit_code == 0
    assert run("app", "add", "wiki", "--url", "https://wiki.acme-corp.test", "--all").exit_code == 0
    return run


def test_snippet_offers_every_proxy_kind_of_the_registry(cli):
    for proxy in PROXIES:
        result = cli("snippet", "wiki", "--proxy", proxy)
        assert result.exit_code == 0, result.output
        assert "wiki.acme-corp.test" in result.output
    refused = cli("snippet", "wiki", "--proxy", "envoy")
    assert refused.exit_code == 2 and "haproxy" in refused.output


def test_snippet_for_ostiary_prints_each_proxys_configuration_for_ostiarys_hosts(cli):
    caddy = cli("snippet", "--ostiary", "--proxy", "caddy").output
    assert "ask http://10.0.0.5:9090/caddy/check-domain" in caddy
    nginx = cli("snippet", "--ostiary", "--proxy", "nginx").output
    assert "server_name acme.id.example.test;" in nginx  # the unverified portal host is not listed
    assert "proxy_pass http://10.0.0.5:9090;" in nginx
    haproxy = cli("snippet", "--ostiary", "--proxy", "haproxy").output
    assert "lua-load /etc/haproxy/ostiary_forward_auth.lua" in haproxy and "server ostiary 10.0.0.5:9090" in haproxy
    traefik = cli("snippet", "--ostiary", "--proxy", "traefik").output
    static, dynamic = traefik.split("# ---- a file in the dynamic directory ----")
    assert yaml.safe_load(static)["entryPoints"]["websecure"]["http"]["aliasHeadersStrategy"] == "delete"
    assert yaml.safe_load(dynamic)["http"]["routers"]["ostiary"]["rule"] == "Host(`acme.id.example.test`)"


def test_snippet_needs_an_app_or_ostiary_but_not_both(cli):
    assert cli("snippet", "--proxy", "caddy").exit_code == 2
    assert cli("snippet", "wiki", "--ostiary", "--proxy", "caddy").exit_code == 2


def test_proxy_files_writes_the_lua_action_and_the_traefik_plugin(cli, tmp_path):
    result = cli("proxy-files", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "ostiary_forward_auth.lua").read_text() == lua_script()
    plugin = tmp_path / "out" / "plugins-local" / "src" / PLUGIN_MODULE
    assert {p.name: p.read_text() for p in plugin.iterdir()} == plugin_source()
