"""Proxy snippets for an app, from the facts in the store. The CLI, the API
and the app's page all call this, so they show the same text."""

from __future__ import annotations

from ostiary.config import Settings
from ostiary.dns.status import DomainStatus
from ostiary.proxies import AppFacts, haproxy, nginx, proxy_kind, render_ostiary_caddyfile, render_snippet
from ostiary.proxies.ostiary_traefik import render_ostiary_traefik_dynamic, render_ostiary_traefik_static
from ostiary.services.rules.apps import get_app
from ostiary.services.rules.domains import list_domains
from ostiary.services.rules.tenants import get_base_domain, tenant_host
from ostiary.services.base.errors import InvalidInput, Problem
from ostiary.store import Store, TenantScope
from ostiary.store.tables import domains, tenants


def app_facts(store: Store, settings: Settings, tenant_id: int, app_name: str, upstream: str | None = None) -> AppFacts:
    app = get_app(store, tenant_id, app_name)
    with store.read() as conn:
        domain = TenantScope(conn, tenant_id).one(domains, domains.c.id == app.domain_id)
    return AppFacts.for_app(
        app.name,
        app.url,
        settings.public_url(domain.portal_host, ""),
        identity_headers=tuple(k for k in app.identity_headers.split(",") if k),
        **({"ostiary_address": settings.proxy_upstream} if settings.proxy_upstream else {}),
        **({"upstream": upstream} if upstream else {}),
    )


def snippet_for_app(store: Store, settings: Settings, tenant_id: int, app_name: str, proxy: str,
                    upstream: str | None = None) -> str:
    """`upstream` is where the proxy reaches the app itself; without it the
    snippet names a placeholder (http://127.0.0.1:3000) to replace."""
    try:
        facts = app_facts(store, settings, tenant_id, app_name, upstream)
    except ValueError as exc:
        raise InvalidInput([Problem("upstream" if upstream and "upstream" in str(exc) else "app", str(exc))]) from None
    return render_snippet(facts, proxy)


DEFAULT_OSTIARY_UPSTREAM = "127.0.0.1:9090"


def ostiary_hosts_config(store: Store, settings: Settings, tenant_id: int, proxy: str) -> str:
    """The proxy configuration for Ostiary's own hosts (the tenant host and the
    tenant's verified portal hosts), reaching Ostiary at OSTIARY_PROXY_UPSTREAM."""

    kind = proxy_kind(proxy)
    upstream = (settings.proxy_upstream or DEFAULT_OSTIARY_UPSTREAM).removeprefix("http://").rstrip("/")
    with store.read() as conn:
        slug = conn.execute(tenants.select().where(tenants.c.id == tenant_id)).one().slug
    hosts = [tenant_host(get_base_domain(store) or "", slug)]
    hosts += [d.portal_host for d in list_domains(store, tenant_id) if d.status == DomainStatus.VERIFIED]
    name = kind.variant_of or kind.name
    if name == "caddy":
        return render_ostiary_caddyfile(upstream)
    if name == "nginx":
        return nginx.render_ostiary_server(hosts, upstream)
    if name == "haproxy":
        return haproxy.render_ostiary_haproxy(upstream)
    return ("# ---- traefik.yml (static configuration) ----\n" + render_ostiary_traefik_static()
            + "\n# ---- a file in the dynamic directory ----\n" + render_ostiary_traefik_dynamic(hosts, upstream))
