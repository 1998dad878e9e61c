"""Proxy snippets for an app, from the facts in the store. The CLI, the API
and the app's page all call this, so they show the same text."""

from __future__ import annotations

from ostiary.config import Settings
from ostiary.proxies import AppFacts, render_snippet
from ostiary.services.apps import get_app
from ostiary.services.errors import InvalidInput, Problem
from ostiary.store import Store, TenantScope
from ostiary.store.tables import domains


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
