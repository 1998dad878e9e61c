"""Taking identity from an external JWT cookie (a chat app's session) for a
protected domain or one app, instead of Ostiary's own handshake."""

from __future__ import annotations

from sqlalchemy import Row, select

from ostiary.services.actor import Actor
from ostiary.services.errors import InvalidInput, NotFound, Problem, Problems
from ostiary.sharedcookie.source_config import (
    BrokenSource, ExternalIdentitySettings, build_source, settings_problems,
)
from ostiary.store import Store, TenantScope
from ostiary.store.tables import apps, domains


def _validated(settings: ExternalIdentitySettings | None, allow_http: bool) -> str | None:
    if settings is None:
        return None
    problems = Problems()
    for field, message in settings_problems(settings, allow_http):
        problems.add(field, message)
    problems.raise_if_any()
    return settings.to_json()


def set_for_app(store: Store, tenant_id: int, actor: Actor, app_name: str,
                settings: ExternalIdentitySettings | None, allow_http: bool = False) -> Row:
    value = _validated(settings, allow_http)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        app = scope.one(apps, apps.c.name == app_name.strip())
        if app is None:
            raise NotFound(f'app: no proxy app "{app_name}" in this tenant: see `ostiary app list`')
        if value is not None and (not app.all_users or app.require_2fa):
            raise InvalidInput([Problem(
                "app", f'"{app.name}" admits by group or requires a second factor, which a chat\'s cookie cannot '
                "prove: make it available to all (`ostiary app add --all`) and without --require-2fa first",
            )])
        scope.update(apps, apps.c.id == app.id, external_identity=value)
        scope.audit(actor.name, "app.external_identity", "app", app.id, actor.addr, settings=value)
        scope.changed("app", app.id)
        return scope.one(apps, apps.c.id == app.id)


def set_for_domain(store: Store, tenant_id: int, actor: Actor, domain_name: str,
                   settings: ExternalIdentitySettings | None, allow_http: bool = False) -> Row:
    from ostiary.dns.names import normalise_domain

    value = _validated(settings, allow_http)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        domain = scope.one(domains, domains.c.name == normalise_domain(domain_name))
        if domain is None:
            raise NotFound(f'domain: no protected domain "{domain_name}" in this tenant: see `ostiary domain list`')
        scope.update(domains, domains.c.id == domain.id, external_identity=value)
        scope.audit(actor.name, "domain.external_identity", "domain", domain.id, actor.addr, settings=value)
        scope.changed("domain", domain.id)
        return scope.one(domains, domains.c.id == domain.id)


def startup_problems(store: Store) -> list[str]:
    """Every configured source whose secret cannot be used (missing, too
    short, or a published default): `ostiary serve` refuses to start."""
    problems = []
    with store.read() as conn:
        rows = [("app", r.name, r.external_identity) for r in conn.execute(
            select(apps.c.name, apps.c.external_identity).where(apps.c.external_identity.is_not(None)))]
        rows += [("domain", r.name, r.external_identity) for r in conn.execute(
            select(domains.c.name, domains.c.external_identity).where(domains.c.external_identity.is_not(None)))]
    for kind, name, text in rows:
        source = build_source(ExternalIdentitySettings.from_json(text))
        if isinstance(source, BrokenSource):
            problems.append(f"{kind} {name}: {source.problem}")
    return problems
