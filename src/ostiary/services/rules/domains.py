"""Protected domains: registration, the TXT challenge, verification state.

A registration claims nothing until it is verified: several tenants may
register the same portal host, the first to verify owns it, and a
registration never verified expires PENDING_LIFETIME after it was made
(docs/domains.md)."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import Row, delete, select
from sqlalchemy.exc import IntegrityError

from ostiary.dns.names import normalise_domain, registration_problems
from ostiary.dns.status import DomainStatus
from ostiary.dns.verification import challenge_name, check_challenge, expected_value
from ostiary.hostnames import normalise_hostname
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, NotFound, Problems, ServiceError
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import apps, domains

PENDING_LIFETIME = 7 * 24 * 3600  # a registration never verified within this is deleted
EXPIRY_ACTOR = Actor(name="system:expire")


def txt_record(domain: Row) -> tuple[str, str]:
    return challenge_name(domain.name), expected_value(domain.verification_token)


def _by_name(scope: TenantScope, name: str) -> Row:
    row = scope.one(domains, domains.c.name == (normalise_hostname(name) or name))
    if row is None:
        raise NotFound("domain", N_('no protected domain "%(name)s" in this tenant: see `ostiary domain list`'), name=name)
    return row


def get_domain(store: Store, tenant_id: int, name: str) -> Row:
    with store.read() as conn:
        return _by_name(TenantScope(conn, tenant_id), name)


def list_domains(store: Store, tenant_id: int, limit: int = 1000, offset: int = 0) -> list[Row]:
    with store.read() as conn:
        return TenantScope(conn, tenant_id).rows(domains, order_by=domains.c.name, limit=limit, offset=offset)


def add_domain(store: Store, tenant_id: int, actor: Actor, name: str, portal_host: str) -> Row:
    problems = Problems()
    for field, message in registration_problems(name, portal_host):
        problems.add(field, message)
    problems.raise_if_any()
    domain_name, portal = normalise_domain(name), normalise_domain(portal_host)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        _delete_expired(conn, time.time())
        if scope.one(domains, domains.c.name == domain_name):
            raise Conflict("domain", N_('"%(domain_name)s" is already registered in this tenant'), domain_name=domain_name)
        mine = scope.one(domains, domains.c.portal_host == portal)
        if mine is not None:
            raise Conflict("portal_host", N_('"%(portal)s" is already the portal host of "%(name)s" in this '
                                             "tenant: choose another name"), portal=portal, name=mine.name)
        if _verified_owner(conn, portal) is not None:
            raise Conflict("portal_host", N_('"%(portal)s" is already the verified portal host of a protected '
                                             "domain: choose another name"), portal=portal)
        did = scope.insert(
            domains, name=domain_name, portal_host=portal, status=DomainStatus.PENDING,
            verification_token=secrets.token_urlsafe(24), status_reason="not checked yet",
            created_at=time.time(),
        )
        scope.audit(actor.name, "domain.add", "domain", did, actor.addr, name=domain_name, portal_host=portal)
        scope.changed(Entity.DOMAIN, did)
        return scope.one(domains, domains.c.id == did)


def _verified_owner(conn, portal_host: str, besides: int | None = None) -> Row | None:
    """The verified domain that owns `portal_host` (other than domain `besides`), if any."""
    stmt = select(domains.c.id, domains.c.tenant_id).where(domains.c.portal_host == portal_host,
                                                           domains.c.status == DomainStatus.VERIFIED)
    if besides is not None:
        stmt = stmt.where(domains.c.id != besides)
    return conn.execute(stmt).first()


def _taken_by_another(conn, tenant_id: int, domain: Row) -> str | None:
    """Why `domain` cannot be verified here although its record is right: the
    name or the portal host is already served for another verified domain."""
    other = conn.execute(select(domains.c.id).where(
        domains.c.name == domain.name, domains.c.status == DomainStatus.VERIFIED,
        domains.c.tenant_id != tenant_id)).first()
    if other is not None:
        return f'"{domain.name}" is verified by another tenant of this installation'
    if _verified_owner(conn, domain.portal_host, besides=domain.id) is not None:
        return (f'the portal host "{domain.portal_host}" was verified first for another protected domain, which '
                "owns it now: delete this registration (`ostiary domain delete`) and add it with another portal host")
    return None


def record_verification(store: Store, tenant_id: int, actor: Actor, name: str, verified: bool, reason: str) -> Row:
    """Store the outcome of a check. A domain whose name or portal host another
    domain has already verified stays unverified here: each is served once."""
    try:
        return _record_verification(store, tenant_id, actor, name, verified, reason)
    except IntegrityError:
        # Another tenant verified the same portal host in the same instant (PostgreSQL's
        # unique index caught it): that one was first.
        domain = get_domain(store, tenant_id, name)
        return _record_verification(store, tenant_id, actor, name, False,
                                    f'the portal host "{domain.portal_host}" was verified first for another '
                                    "protected domain, which owns it now")


def _record_verification(store: Store, tenant_id: int, actor: Actor, name: str, verified: bool, reason: str) -> Row:
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        domain = _by_name(scope, name)
        if verified:
            taken = _taken_by_another(conn, tenant_id, domain)
            if taken is not None:
                verified, reason = False, taken
        values = dict(status=DomainStatus.VERIFIED if verified else DomainStatus.FAILED, status_reason=reason,
                      last_checked_at=now)
        if verified:
            values.update(verified_at=now, flagged_at=None)
        scope.update(domains, domains.c.id == domain.id, **values)
        scope.audit(actor.name, "domain.verify", "domain", domain.id, actor.addr, verified=verified, reason=reason)
        scope.changed(Entity.DOMAIN, domain.id)
        return scope.one(domains, domains.c.id == domain.id)


class DnsUnanswered(ServiceError):
    """DNS gave no answer (a timeout, a server failure): nothing was learned
    about the record, so nothing about the domain changed."""

    def __init__(self, domain: Row, reason: str):
        self.domain = domain
        super().__init__("dns", N_('%(reason)s: nothing was learned about "%(name)s", so nothing changed '
                                   "(it is still %(state)s); try again once DNS answers"),
                         reason=reason, name=domain.name, state=describe_state(domain))


def describe_state(domain: Row) -> str:
    flagged = domain.status == DomainStatus.VERIFIED and domain.flagged_at
    return f"{domain.status}, {DomainStatus.FLAGGED}" if flagged else domain.status


def verify_domain(store: Store, tenant_id: int, actor: Actor, name: str,
                  resolvers: list[tuple[str, int]] | None, timeout: float) -> Row:
    """Checks the TXT record now and stores what DNS definitely said (the record
    there, absent or wrong); raises DnsUnanswered, changing nothing, when DNS
    did not answer (docs/domains.md)."""
    domain = get_domain(store, tenant_id, name)
    result = check_challenge(domain.name, domain.verification_token, resolvers, timeout)
    if not result.conclusive:
        raise DnsUnanswered(domain, result.reason)
    return record_verification(store, tenant_id, actor, name, result.status == DomainStatus.VERIFIED, result.reason)


def skip_verification(store: Store, tenant_id: int, actor: Actor, name: str, why: str) -> Row:
    """Only for `ostiary demo` on *.localhost names, which no DNS server answers."""
    return record_verification(store, tenant_id, actor, name, True, f"verification skipped: {why}")


def expires_at(domain: Row) -> float | None:
    """When a registration never verified is deleted; None once it has been verified."""
    return None if domain.verified_at is not None else domain.created_at + PENDING_LIFETIME


def _delete_expired(conn, now: float) -> list[Row]:
    """Deletes every registration never verified within PENDING_LIFETIME that has no apps."""
    expired = conn.execute(select(domains).where(
        domains.c.verified_at.is_(None), domains.c.created_at < now - PENDING_LIFETIME,
        ~select(apps.c.id).where(apps.c.domain_id == domains.c.id).exists(),
    )).all()
    for row in expired:
        conn.execute(delete(domains).where(domains.c.id == row.id))
        scope = TenantScope(conn, row.tenant_id)
        scope.audit(EXPIRY_ACTOR.name, "domain.expire", "domain", row.id, EXPIRY_ACTOR.addr, name=row.name,
                    portal_host=row.portal_host)
        scope.changed(Entity.DOMAIN, row.id)
    return expired


def delete_expired(store: Store, now: float | None = None) -> list[Row]:
    """Run by `domain add` and by the background re-check (services/jobs/reverifier.py)."""
    with store.write() as conn:
        return _delete_expired(conn, time.time() if now is None else now)


def delete_domain(store: Store, tenant_id: int, actor: Actor, name: str) -> None:
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        domain = _by_name(scope, name)
        if scope.count(apps, apps.c.domain_id == domain.id):
            raise Conflict("domain", N_('"%(name)s" still has proxy apps: delete them first'), name=domain.name)
        scope.delete(domains, domains.c.id == domain.id)
        scope.audit(actor.name, "domain.delete", "domain", domain.id, actor.addr, name=domain.name)
        scope.changed(Entity.DOMAIN, domain.id)
