"""Tenants, the installation's base domain, and `ostiary init`."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import Row, insert, select, update

from ostiary.config import Settings
from ostiary.hostnames import normalise_hostname
from ostiary.services.rules import users as users_service
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, InvalidInput, NotFound, Problem, Problems
from ostiary.services.base.passwords import password_problem
from ostiary.services.base.text_rules import control_character_problem, nfc
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity, record_change
from ostiary.store.scoped import log_audit
from ostiary.store.tables import audit_log, installation, tenants

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_IDLE = 8 * 3600
DEFAULT_ABSOLUTE = 14 * 24 * 3600


def get_base_domain(store: Store) -> str | None:
    with store.read() as conn:
        return conn.execute(select(installation.c.value).where(installation.c.key == "base_domain")).scalar()


def validate_slug(slug: str, problems: Problems) -> str:
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        problems.add("slug", N_('"%(slug)s" is not a valid tenant slug: use 1-63 lowercase letters, digits and '
                                'inner hyphens, e.g. "acme"'), slug=slug)
    return slug


def add_tenant(store: Store, slug: str, actor: Actor, name: str | None = None) -> Row:
    problems = Problems()
    slug = validate_slug(slug, problems)
    name = validate_tenant_name(slug if name is None else name, problems)
    problems.raise_if_any()
    with store.write() as conn:
        return _insert_tenant(conn, slug, name, actor)


def validate_tenant_name(name: str, problems: Problems) -> str:
    """The organisation's name as people read it on pages and in email: 1-200 characters, NFC, no control characters."""
    name = nfc(name).strip()
    if not name or len(name) > 200:
        problems.add("name", N_("must be 1-200 characters"))
    elif control_character_problem(name):
        problems.add("name", control_character_problem(name))
    return name


def _insert_tenant(conn, slug: str, name: str, actor: Actor) -> Row:
    if conn.execute(select(tenants.c.id).where(tenants.c.slug == slug)).first():
        raise Conflict("slug", N_('tenant "%(slug)s" already exists: choose another slug'), slug=slug)
    now = time.time()
    tid = conn.execute(
        insert(tenants).values(
            slug=slug, name=name, session_idle_seconds=DEFAULT_IDLE, session_absolute_seconds=DEFAULT_ABSOLUTE,
            created_at=now,
        )
    ).inserted_primary_key[0]
    log_audit(conn, tid, actor.name, actor.addr, "tenant.add", "tenant", tid, {})
    conn.execute(
        insert(audit_log).values(
            tenant_id=tid, at=now, actor=actor.name, actor_addr=actor.addr,
            action="tenant.add", entity="tenant", entity_id=str(tid), detail="{}",
        )
    )
    record_change(conn, tid, Entity.TENANT, tid)
    return conn.execute(select(tenants).where(tenants.c.id == tid)).one()


def set_session_limits(store: Store, tenant_id: int, actor: Actor, idle_seconds: int, absolute_seconds: int) -> None:
    """How long a session lasts without use (idle) and at most (absolute);
    shortening them applies to sessions already open, at their next check."""
    problems = Problems()
    if not 60 <= idle_seconds <= 30 * 24 * 3600:
        problems.add("idle_seconds", N_("must be between 60 seconds and 30 days"))
    if not 300 <= absolute_seconds <= 366 * 24 * 3600:
        problems.add("absolute_seconds", N_("must be between 5 minutes and 366 days"))
    if idle_seconds > absolute_seconds:
        problems.add("idle_seconds", N_("must not exceed the absolute limit"))
    problems.raise_if_any()
    with store.write() as conn:
        conn.execute(
            update(tenants).where(tenants.c.id == tenant_id).values(
                session_idle_seconds=idle_seconds, session_absolute_seconds=absolute_seconds
            )
        )
        TenantScope(conn, tenant_id).audit(actor.name, "tenant.session_limits", "tenant", tenant_id, actor.addr,
                                           idle_seconds=idle_seconds, absolute_seconds=absolute_seconds)
        record_change(conn, tenant_id, Entity.TENANT, tenant_id)


def list_tenants(store: Store) -> list[Row]:
    with store.read() as conn:
        return list(conn.execute(select(tenants).order_by(tenants.c.slug)))


def tenant_by_slug(store: Store, slug: str) -> Row:
    with store.read() as conn:
        row = conn.execute(select(tenants).where(tenants.c.slug == slug.strip().lower())).first()
    if row is None:
        raise NotFound("tenant", N_('no tenant "%(slug)s": see `ostiary tenant list`'), slug=slug)
    return row


def resolve_tenant(store: Store, slug: str | None) -> Row:
    """The tenant a command means: the one named, or the only one there is."""
    if slug:
        return tenant_by_slug(store, slug)
    rows = list_tenants(store)
    if len(rows) == 1:
        return rows[0]
    if not rows:
        raise NotFound("tenant", N_("there is no tenant yet: run `ostiary init` first"))
    raise InvalidInput([Problem("tenant", N_("there are %(n)d tenants: name one with --tenant SLUG"), n=len(rows))])


def tenant_host(base_domain: str, slug: str) -> str:
    return f"{slug}.{base_domain}"


def tenant_url(store: Store, settings: Settings, tenant_id: int, path: str) -> str:
    """An absolute URL on the tenant host, as the person's browser reaches it (the links in email)."""
    with store.read() as conn:
        slug = conn.execute(select(tenants.c.slug).where(tenants.c.id == tenant_id)).scalar_one()
    return settings.public_url(tenant_host(get_base_domain(store) or "localhost", slug), path)


@dataclass(frozen=True)
class InitResult:
    tenant: Row
    admin_created: bool
    tenant_created: bool


def init_installation(
    store: Store, base_domain: str, slug: str, admin_email: str, admin_password: str | None, actor: Actor
) -> InitResult:
    """Set the base domain, a tenant and its first admin, in one transaction.
    Running it again with the same values changes nothing; a different base
    domain is refused."""
    problems = Problems()
    base = normalise_hostname(base_domain)
    if base is None or ("." not in base and base != "localhost"):
        problems.add("base_domain", N_('"%(base_domain)s" is not a DNS name such as id.example.net'), base_domain=base_domain)
    slug = validate_slug(slug, problems)
    admin_email = users_service.validate_email(admin_email, problems)
    if admin_password is not None and password_problem(admin_password):
        problems.add("admin_password", password_problem(admin_password))
    problems.raise_if_any()
    with store.write() as conn:
        current = conn.execute(select(installation.c.value).where(installation.c.key == "base_domain")).scalar()
        if current and current != base:
            raise Conflict("base_domain", N_('this installation already uses "%(current)s"; changing it would move '
                                             "every tenant host, so it is refused"), current=current)
        if not current:
            conn.execute(insert(installation).values(key="base_domain", value=base))
            record_change(conn, None, Entity.INSTALLATION, "base_domain")
        tenant = conn.execute(select(tenants).where(tenants.c.slug == slug)).first()
        tenant_created = tenant is None
        if tenant is None:
            tenant = _insert_tenant(conn, slug, slug, actor)
        scope = TenantScope(conn, tenant.id)
        if users_service.find_user_in(scope, admin_email) is not None:
            return InitResult(tenant=tenant, admin_created=False, tenant_created=tenant_created)
        if not admin_password:
            raise InvalidInput([Problem("admin_password", N_("is required to create the first admin: pass "
                                                             "--admin-password-file"))])
        users_service.insert_user(scope, actor, email=admin_email, username=admin_email.split("@")[0].lower(),
                                  display_name=admin_email.split("@")[0], password=admin_password, is_admin=True)
    return InitResult(tenant=tenant, admin_created=True, tenant_created=tenant_created)


# Who must have a second factor (docs/sign-in.md): nobody, administrators, everyone.
SECOND_FACTOR_POLICIES = ("off", "admins", "everyone")


def second_factor_policy(store: Store, tenant_id: int) -> str:
    with store.read() as conn:
        value = conn.execute(select(tenants.c.second_factor_policy).where(tenants.c.id == tenant_id)).scalar()
    if value is None:
        raise NotFound("tenant", N_("no such tenant"))
    return value


def set_second_factor_policy(store: Store, tenant_id: int, actor: Actor, policy: str) -> str:
    """Takes effect at each person's next page, and at every app's next check
    on every worker (the change log): one who has no second factor and now
    needs one is taken to set it up before anything else."""
    policy = (policy or "").strip().lower()
    if policy not in SECOND_FACTOR_POLICIES:
        raise InvalidInput([Problem("second_factor_policy", N_('"%(policy)s" is not a policy: choose one of %(policies)s'),
                                    policy=policy, policies=", ".join(SECOND_FACTOR_POLICIES))])
    with store.write() as conn:
        if not conn.execute(update(tenants).where(tenants.c.id == tenant_id)
                            .values(second_factor_policy=policy)).rowcount:
            raise NotFound("tenant", N_("no such tenant"))
        TenantScope(conn, tenant_id).audit(actor.name, "tenant.second_factor_policy", "tenant", tenant_id,
                                           actor.addr, policy=policy)
        record_change(conn, tenant_id, Entity.TENANT, tenant_id)
    return policy
