"""bench/proxy_variants.py builds its Traefik and HAProxy sites from Ostiary's
generated snippets: each site is the snippet on its own host with its check sent
to its own upstream (or, for the proxy alone, without any check), Traefik's
files validate against Traefik's own schema, and HAProxy accepts the whole
configuration (`haproxy -c`). When a snippet changes shape, this fails before a
benchmark run does."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from bench.proxy_variants import SITES, _host, haproxy_snippet, traefik_dynamic
from bench.world import APP_HOST, build_small
from ostiary.config import load_settings
from ostiary.proxies.haproxy import assemble, lua_script, render_ostiary_haproxy
from ostiary.services.queries.snippets import snippet_for_app
from ostiary.store import open_store
from tests.proxies.matrix import TRAEFIK_SCHEMA
from tests.support.proxies import haproxy_check, haproxy_pem
from tests.support.tls import issue_certificates

PORT, OSTIARY, BACKEND = 4443, 4000, 4002
CHECKS = {"alone": OSTIARY, "ostiary": OSTIARY, "bare": 4005, "bare_granian": 4006}


@pytest.fixture(scope="module")
def snippets(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("proxy-sites")
    url = f"sqlite:///{tmp / 'small.db'}"
    world = build_small(url, PORT)
    store = open_store(url)
    try:
        settings = load_settings(database_url=url, data_dir=tmp, public_port=PORT,
                                 proxy_upstream=f"http://127.0.0.1:{OSTIARY}")
        return {kind: snippet_for_app(store, settings, world.tenant_id, "app", kind) for kind in ("traefik", "haproxy")}
    finally:
        store.dispose()


def test_each_traefik_site_is_the_snippet_on_its_own_host_and_validates(snippets):
    schema = json.loads(TRAEFIK_SCHEMA.read_text())
    routers = {}
    for site in SITES:
        text = traefik_dynamic(snippets["traefik"], site=site, check_port=CHECKS[site], backend_port=BACKEND)
        config = yaml.safe_load(text)
        jsonschema.validate(config, schema)
        (name, router), = config["http"]["routers"].items()
        routers[site] = router
        assert router["rule"] == f"Host(`{_host(site)}`)"
        assert config["http"]["services"][router["service"]]["loadBalancer"]["servers"] == [
            {"url": f"http://127.0.0.1:{BACKEND}"}]
        auth = [m["forwardAuth"] for m in config["http"]["middlewares"].values() if "forwardAuth" in m]
        assert [a["address"].split("/forward-auth/")[0] for a in auth] == [f"http://127.0.0.1:{CHECKS[site]}"]
    assert "middlewares" not in routers["alone"]
    assert routers["ostiary"]["middlewares"] == ["ostiary-ostiary-strip", "ostiary-ostiary-auth",
                                                 "ostiary-ostiary-cookie"]
    assert len({r["rule"] for r in routers.values()}) == len(SITES)


def test_haproxy_accepts_every_site_and_only_the_alone_site_goes_unchecked(snippets, tmp_path):
    parts = {site: haproxy_snippet(snippets["haproxy"], site=site, check_port=CHECKS[site], backend_port=BACKEND,
                                   public_port=PORT) for site in SITES}
    assert "lua.ostiary-check" not in parts["alone"] and "http-request" not in parts["alone"]
    for site in ("ostiary", "bare", "bare_granian"):
        assert f"lua.ostiary-check http://127.0.0.1:{CHECKS[site]}/forward-auth/check " in parts[site]
        assert "http-request deny deny_status 500 unless" in parts[site]
    for site in SITES:
        assert f"req.hdr(host) -i {_host(site)}:{PORT} }}" in parts[site]
        assert f"server app 127.0.0.1:{BACKEND}" in parts[site]
    tls = issue_certificates(tmp_path / "tls", [APP_HOST])
    base = render_ostiary_haproxy(f"127.0.0.1:{OSTIARY}", https_bind=f"127.0.0.1:{PORT}",
                                  certificates="{workdir}/site.pem", lua_path="{workdir}/ostiary_forward_auth.lua")
    config = assemble(base, list(parts.values()))
    done = haproxy_check(config, {"ostiary_forward_auth.lua": lua_script(),
                                  "site.pem": haproxy_pem(tls.cert_chain, tls.private_key)})
    assert done.returncode == 0, f"{done.stdout[-3000:]}{done.stderr[-3000:]}\n---\n{config}"
