"""Taking identity from the chat's shared cookie (a chat app's JWT session
cookie) for a protected domain or one app, instead of Ostiary's own handshake
(docs/shared-cookie.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from sqlalchemy import Row, select

from ostiary.dns.names import normalise_domain
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, InvalidInput, NotFound, Problem, Problems
from ostiary.sharedcookie.verifier.source_config import (
    BrokenSource, SharedCookieSettings, build_source, settings_problems,
)
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import apps, domains

# Audit actions, stored in the log under their names from before the
# shared-cookie rename so old and new entries filter alike (docs/upgrading.md).
AUDIT_APP = "app.external_identity"
AUDIT_DOMAIN = "domain.external_identity"


def _validated(settings: SharedCookieSettings | None, allow_http: bool,
               environ: Mapping[str, str] | None) -> str | None:
    if settings is None:
        return None
    problems = Problems()
    for field, message in settings_problems(settings, allow_http):
        problems.add(field, message)
    if environ is not None and not problems.items:
        known = known_secret_problem(settings, environ)
        if known is not None:
            problems.add(*known)
    problems.raise_if_any()
    return settings.to_json()


def _secret_field(settings: SharedCookieSettings) -> str:
    return "secret_file" if settings.secret_file else "secret_env"


def secret_missing_here(settings: SharedCookieSettings, environ: Mapping[str, str]) -> str | None:
    """Why the secret cannot be read *here* (a variable this environment lacks, a
    file it cannot read), or None. Elsewhere, on the servers, it may be there."""
    if settings.secret_file:
        return None if os.access(settings.secret_file, os.R_OK) else f"the file {settings.secret_file} cannot be read here"
    return None if settings.secret_env in environ else f"{settings.secret_env} is not set here"


def known_secret_problem(settings: SharedCookieSettings,
                         environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(field, message) when the secret can be read here and is unusable (a
    published default, too short): it is the same value everywhere, so refuse."""
    if secret_missing_here(settings, environ) is not None:
        return None
    source = build_source(settings, environ)
    if isinstance(source, BrokenSource):
        return _secret_field(settings), source.problem.replace("shared-cookie settings refused:\n- ", "")
    return None


def set_for_app(store: Store, tenant_id: int, actor: Actor, app_name: str,
                settings: SharedCookieSettings | None, allow_http: bool = False,
                environ: Mapping[str, str] | None = None) -> Row:
    """`environ`: the environment to check the secret in (the CLI's, or the server's for the API
    and UI); a secret readable there but unusable is refused before anything is written."""
    value = _validated(settings, allow_http, environ)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        app = scope.one(apps, apps.c.name == app_name.strip())
        if app is None:
            raise NotFound("app", N_('no proxy app "%(name)s" in this tenant: see `ostiary app list`'), name=app_name)
        if value is not None and (not app.all_users or app.require_2fa):
            raise InvalidInput([Problem("app", N_('"%(name)s" admits by group or requires a second factor, which a '
                                                  "chat's cookie cannot prove: make it available to all (`ostiary "
                                                  "app add --all`) and without --require-2fa first"), name=app.name)])
        scope.update(apps, apps.c.id == app.id, shared_cookie=value)
        scope.audit(actor.name, AUDIT_APP, "app", app.id, actor.addr, settings=value)
        scope.changed(Entity.APP, app.id)
        return scope.one(apps, apps.c.id == app.id)


def set_for_domain(store: Store, tenant_id: int, actor: Actor, domain_name: str,
                   settings: SharedCookieSettings | None, allow_http: bool = False,
                   environ: Mapping[str, str] | None = None) -> Row:
    value = _validated(settings, allow_http, environ)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        domain = scope.one(domains, domains.c.name == normalise_domain(domain_name))
        if domain is None:
            raise NotFound("domain", N_('no protected domain "%(name)s" in this tenant: see `ostiary domain list`'),
                           name=domain_name)
        scope.update(domains, domains.c.id == domain.id, shared_cookie=value)
        scope.audit(actor.name, AUDIT_DOMAIN, "domain", domain.id, actor.addr, settings=value)
        scope.changed(Entity.DOMAIN, domain.id)
        return scope.one(domains, domains.c.id == domain.id)


def configured_sources(store: Store) -> list[tuple[str, str, SharedCookieSettings]]:
    """("app" or "domain", its name, the settings) for every configured source, every tenant."""
    with store.read() as conn:
        rows = [("app", r.name, r.shared_cookie) for r in conn.execute(
            select(apps.c.name, apps.c.shared_cookie).where(apps.c.shared_cookie.is_not(None)))]
        rows += [("domain", r.name, r.shared_cookie) for r in conn.execute(
            select(domains.c.name, domains.c.shared_cookie).where(domains.c.shared_cookie.is_not(None)))]
    return [(kind, name, SharedCookieSettings.from_json(text)) for kind, name, text in rows]


def startup_problems(store: Store) -> list[str]:
    """Every configured source whose secret cannot be used (missing, too
    short, or a published default): `ostiary serve` refuses to start."""
    problems = []
    for kind, name, settings in configured_sources(store):
        source = build_source(settings)
        if isinstance(source, BrokenSource):
            problems.append(f"{kind} {name}: {source.problem}")
    return problems
