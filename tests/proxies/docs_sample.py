"""The sample app the docs under docs/proxies/ show, so a test can keep them current."""

from __future__ import annotations

from ostiary.proxies import AppFacts, render_ostiary_caddyfile, render_snippet
from ostiary.proxies.haproxy import render_ostiary_haproxy
from ostiary.proxies.ostiary_traefik import render_ostiary_traefik_dynamic, render_ostiary_traefik_static
from ostiary.proxies.traefik import middleware_crds

OSTIARY_HOSTS = ["acme.id.example.net", "auth.acme-corp.com"]


def docs_snippets() -> dict[str, dict[str, str]]:
    """For each docs page, the generated texts it must contain verbatim."""
    internal = AppFacts.for_app(
        "Grafana", "https://grafana.acme-corp.com", "https://auth.acme-corp.com", ostiary_address="http://10.0.0.5:9090"
    )
    direct = AppFacts.for_app(
        "Grafana", "https://grafana.acme-corp.com", "https://auth.acme-corp.com",
        ostiary_address="http://ostiary:9090", upstream="http://grafana:3000",
    )
    in_cluster = AppFacts.for_app(
        "Grafana", "https://grafana.acme-corp.com", "https://auth.acme-corp.com",
        ostiary_address="http://ostiary.ostiary.svc:9090", upstream="http://grafana:3000",
    )
    return {
        "caddy.md": {
            "CADDY": render_snippet(internal, "caddy"),
            "OSTIARY": render_ostiary_caddyfile("127.0.0.1:9090", email="ops@example.com"),
        },
        "nginx.md": {"NGINX": render_snippet(internal, "nginx")},
        "traefik.md": {
            "TRAEFIK": render_snippet(direct, "traefik"),
            "LABELS": render_snippet(direct, "traefik-labels"),
            "STATIC": render_ostiary_traefik_static(),
            "OSTIARY": render_ostiary_traefik_dynamic(OSTIARY_HOSTS, "ostiary:9090"),
        },
        "haproxy.md": {
            "HAPROXY": render_snippet(internal, "haproxy"),
            "OSTIARY": render_ostiary_haproxy("10.0.0.5:9090"),
        },
        "kubernetes.md": {"CRDS": middleware_crds(in_cluster, "grafana")},
    }


def docs_crds() -> str:
    return docs_snippets()["kubernetes.md"]["CRDS"]
