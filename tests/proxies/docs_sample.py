"""The sample app the docs under docs/proxies/ show, so a test can keep them current."""

from __future__ import annotations

from ostiary.proxies import AppFacts, render_ostiary_caddyfile, render_snippet


def docs_snippets() -> dict[str, dict[str, str]]:
    """For each docs page, the generated texts it must contain verbatim."""
    internal = AppFacts.for_app(
        "Grafana", "https://grafana.acme-corp.com", "https://auth.acme-corp.com", ostiary_address="http://10.0.0.5:9000"
    )
    by_name = AppFacts.for_app(
        "Grafana", "https://grafana.acme-corp.com", "https://auth.acme-corp.com", upstream="http://grafana:3000"
    )
    return {
        "caddy.md": {
            "CADDY": render_snippet(internal, "caddy"),
            "OSTIARY": render_ostiary_caddyfile("127.0.0.1:9000", email="ops@example.com"),
        },
        "nginx.md": {"NGINX": render_snippet(internal, "nginx")},
        "traefik.md": {"TRAEFIK": render_snippet(by_name, "traefik"), "LABELS": render_snippet(by_name, "traefik-labels")},
    }
