"""Reading the audit log: who changed what, when and from where. Writing
happens in each service, inside the transaction of the change it records."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select

from ostiary.services.listing import Page, clamp, escape_like
from ostiary.store import Store
from ostiary.store.tables import audit_log


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    actor_addr: str
    action: str
    entity: str
    entity_id: str
    detail: dict


def audit_page(store: Store, tenant_id: int, *, actor: str = "", entity: str = "", entity_id: str = "",
               action: str = "", since: float | None = None, until: float | None = None,
               limit: int | None = None, offset: int | None = None) -> Page:
    """Newest first. Installation-wide entries (signing-key rotation) are
    shown to every tenant, since every tenant's cookies depend on them."""
    limit, offset = clamp(limit, offset)
    where = [or_(audit_log.c.tenant_id == tenant_id, and_(audit_log.c.tenant_id.is_(None), audit_log.c.entity == "key"))]
    if actor.strip():
        where.append(func.lower(audit_log.c.actor).like(f"%{escape_like(actor.strip().lower())}%", escape="\\"))
    if entity.strip():
        where.append(audit_log.c.entity == entity.strip())
    if entity_id.strip():
        where.append(audit_log.c.entity_id == entity_id.strip())
    if action.strip():
        where.append(audit_log.c.action.like(f"{escape_like(action.strip())}%", escape="\\"))
    if since is not None:
        where.append(audit_log.c.at >= since)
    if until is not None:
        where.append(audit_log.c.at < until)
    with store.read() as conn:
        total = conn.execute(select(func.count()).select_from(audit_log).where(*where)).scalar_one()
        rows = conn.execute(select(audit_log).where(*where).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
                            .limit(limit).offset(offset))
        items = [AuditEntry(r.id, r.at, r.actor, r.actor_addr, r.action, r.entity, r.entity_id, _detail(r.detail))
                 for r in rows]
    return Page(items, int(total), limit, offset)


def _detail(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}


ENTITIES = ("app", "domain", "group", "key", "oidc_client", "session", "tenant", "token", "user")
