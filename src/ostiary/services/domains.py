"""Protected domains: registration, the TXT challenge, verification state."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import Row, select

from ostiary.services.actor import Actor
from ostiary.services.errors import Conflict, NotFound, Problems
from ostiary.store import Store, TenantScope
from ostiary.store.tables import apps, domains

PENDING, VERIFIED, FAILED = "pending", "verified", "failed"


def txt_record(domain: Row) -> tuple[str, str]:
    from ostiary.dns.verification import challenge_name, expected_value

    return challenge_name(domain.name), expected_value(domain.verification_token)


def _by_name(scope: TenantScope, name: str) -> Row:
    from ostiary.hostnames import normalise_hostname

    row = scope.one(domains, domains.c.name == (normalise_hostname(name) or name))
    if row is None:
        raise NotFound(f'domain: no protected domain "{name}" in this tenant: see `ostiary domain list`')
    return row


def get_domain(store: Store, tenant_id: int, name: str) -> Row:
    with store.read() as conn:
        return _by_name(TenantScope(conn, tenant_id), name)


def list_domains(store: Store, tenant_id: int, limit: int = 1000, offset: int = 0) -> list[Row]:
    with store.read() as conn:
        return TenantScope(conn, tenant_id).rows(domains, order_by=domains.c.name, limit=limit, offset=offset)


def add_domain(store: Store, tenant_id: int, actor: Actor, name: str, portal_host: str) -> Row:
    from ostiary.dns.names import normalise_domain, registration_problems

    problems = Problems()
    for field, message in registration_problems(name, portal_host):
        problems.add(field, message)
    problems.raise_if_any()
    domain_name, portal = normalise_domain(name), normalise_domain(portal_host)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        if scope.one(domains, domains.c.name == domain_name):
            raise Conflict(f'domain: "{domain_name}" is already registered in this tenant')
        taken = conn.execute(select(domains.c.tenant_id).where(domains.c.portal_host == portal)).first()
        if taken is not None:
            raise Conflict(f'portal_host: "{portal}" is already the portal host of a protected domain: choose another name')
        did = scope.insert(
            domains, name=domain_name, portal_host=portal, status=PENDING,
            verification_token=secrets.token_urlsafe(24), status_reason="not checked yet",
            created_at=time.time(),
        )
        scope.audit(actor.name, "domain.add", "domain", did, actor.addr, name=domain_name, portal_host=portal)
        scope.changed("domain", did)
        return scope.one(domains, domains.c.id == did)


def record_verification(store: Store, tenant_id: int, actor: Actor, name: str, verified: bool, reason: str) -> Row:
    """Store the outcome of a check. A domain another tenant has already
    verified stays unverified here: a name is served for one tenant only."""
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        domain = _by_name(scope, name)
        if verified:
            other = conn.execute(
                select(domains.c.id).where(
                    domains.c.name == domain.name, domains.c.status == VERIFIED, domains.c.tenant_id != tenant_id
                )
            ).first()
            if other is not None:
                verified, reason = False, f'"{domain.name}" is verified by another tenant of this installation'
        values = dict(status=VERIFIED if verified else FAILED, status_reason=reason, last_checked_at=now)
        if verified:
            values.update(verified_at=now, flagged_at=None)
        scope.update(domains, domains.c.id == domain.id, **values)
        scope.audit(actor.name, "domain.verify", "domain", domain.id, actor.addr, verified=verified, reason=reason)
        scope.changed("domain", domain.id)
        return scope.one(domains, domains.c.id == domain.id)


def verify_domain(store: Store, tenant_id: int, actor: Actor, name: str,
                  resolvers: list[tuple[str, int]] | None, timeout: float) -> Row:
    from ostiary.dns.verification import check_challenge

    domain = get_domain(store, tenant_id, name)
    result = check_challenge(domain.name, domain.verification_token, resolvers, timeout)
    return record_verification(store, tenant_id, actor, name, result.status == VERIFIED, result.reason)


def skip_verification(store: Store, tenant_id: int, actor: Actor, name: str, why: str) -> Row:
    """Only for `ostiary demo` on *.localhost names, which no DNS server answers."""
    return record_verification(store, tenant_id, actor, name, True, f"verification skipped: {why}")


def delete_domain(store: Store, tenant_id: int, actor: Actor, name: str) -> None:
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        domain = _by_name(scope, name)
        if scope.count(apps, apps.c.domain_id == domain.id):
            raise Conflict(f'domain: "{domain.name}" still has proxy apps: delete them first')
        scope.delete(domains, domains.c.id == domain.id)
        scope.audit(actor.name, "domain.delete", "domain", domain.id, actor.addr, name=domain.name)
        scope.changed("domain", domain.id)
