"""Reading the audit log: who changed what, when and from where. Writing
happens in each service, inside the transaction of the change it records."""

from __future__ import annotations

import json
from dataclasses import dataclass

import time

from sqlalchemy import and_, delete, func, or_, select

from ostiary.services.base.listing import Page, clamp, escape_like
from ostiary.store import Store
from ostiary.store.tables import api_tokens, apps, audit_log, domains, groups, identity_providers, sessions, users


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


ENTITIES = ("app", "domain", "group", "key", "oidc_client", "provider", "session", "tenant", "token", "user")

# Every action the services record, as a person would say it (the filter's choices).
ACTIONS = {
    "app.add": "App created", "app.update": "App changed", "app.grant": "Group may enter app",
    "app.revoke": "Group no longer enters app", "app.delete": "App deleted",
    "app.external_identity": "App shared-cookie source set",
    "domain.add": "Domain registered", "domain.verify": "Domain verified", "domain.delete": "Domain deleted",
    "domain.expire": "Unverified domain expired", "domain.external_identity": "Domain shared-cookie source set",
    "group.add": "Group created", "group.move": "Group moved", "group.delete": "Group deleted",
    "group.member_add": "Member added", "group.member_remove": "Member removed",
    "keys.rotate": "Signing keys rotated",
    "provider.add": "Sign-in provider added", "provider.change": "Sign-in provider changed",
    "provider.map": "Group mapping added", "provider.unmap": "Group mapping removed",
    "provider.remove": "Sign-in provider removed",
    "session.start": "Signed in", "session.end": "Session ended", "session.end_all": "Signed out everywhere",
    "session.second_factor": "Second factor passed",
    "tenant.password_sign_in": "Password sign-in switched",
    "token.add": "API token created", "token.revoke": "API token revoked",
    "user.add": "User created", "user.admin": "Admin rights changed", "user.disable": "User disabled",
    "user.enable": "User enabled", "user.password": "Password set", "user.totp_enrol": "Second factor enrolled",
    "user.totp_reset": "Second factor reset", "user.recovery_code_used": "Recovery code used",
    "domain.disable": "Domain disabled", "domain.flag": "Domain flagged", "domain.unflag": "Domain no longer flagged",
    "group.rename": "Group renamed",
    "identity.link": "Provider identity linked", "identity.unlink": "Provider identity unlinked",
    "identity.link_refused": "Provider identity not linked", "identity.refused": "Provider sign-in refused",
    "identity.email_changed": "Provider email changed", "identity.groups": "Groups from provider applied",
    "oidc_client.add": "OIDC client created", "oidc_client.update": "OIDC client changed",
    "oidc_client.grant": "Group may use OIDC client", "oidc_client.revoke": "Group no longer uses OIDC client",
    "oidc_client.rotate_secret": "OIDC client secret replaced", "oidc_client.delete": "OIDC client deleted",
    "oidc.consent": "OIDC consent given", "oidc.code_replayed": "OIDC code replayed",
    "oidc.refresh_reused": "OIDC refresh token reused",
    "tenant.add": "Tenant created", "tenant.second_factor_policy": "Second-factor policy set",
    "tenant.session_limits": "Session limits set", "tenant.branding": "Branding changed",
    "tenant.logo": "Logo uploaded", "tenant.logo_removed": "Logo removed",
    "user.update": "User changed", "user.delete": "User deleted", "user.invite": "Invitation sent",
    "user.invitation_accepted": "Invitation accepted", "user.password_reset_requested": "Password reset asked for",
    "user.password_reset": "Password reset by email link", "user.email_change_requested": "Email change asked for",
    "user.email_change": "Email changed", "user.second_factor_reset": "Second factors reset",
    "user.passkey_add": "Passkey added", "user.passkey_remove": "Passkey removed", "user.passkey_used": "Passkey used",
    "user.passkey_refused": "Passkey refused",
}

_FIELD_NAMES = {"admin": "administrator", "all_users": "every user may enter", "headers": "identity headers",
                "public_paths": "public paths", "parent": "parent group", "portal_host": "portal host",
                "require_2fa": "second factor required", "overlap_seconds": "older keys verify for (s)"}


@dataclass(frozen=True)
class ReadableEntry:
    """An audit entry as the admin pages and the CSV export show it."""
    entry: AuditEntry
    actor: str  # "alice@acme.test", "API token terraform", "command line"
    action: str  # "User disabled"
    subject: str  # "bob@acme.test", "grafana"
    href: str | None  # the subject's admin page, while it exists
    changes: tuple[str, ...]  # ("administrator: no", "groups: staff, ops")


def readable(store: Store, tenant_id: int, entries: list[AuditEntry]) -> list[ReadableEntry]:
    """Names instead of ids (`user:1` is alice@acme.test), and changes as words."""
    wanted: dict[str, set] = {}
    for e in entries:
        wanted.setdefault(e.entity, set()).add(e.entity_id)
        if e.actor.startswith("user:"):
            wanted.setdefault("user", set()).add(e.actor[5:])
    names = _names(store, tenant_id, wanted)
    out = []
    for e in entries:
        known = names.get((e.entity, e.entity_id))
        subject = known or str(e.detail.get("name") or e.detail.get("email") or f"{e.entity} {e.entity_id}")
        path = {"user": "users", "group": "groups", "app": "apps", "token": None, "provider": "providers"}.get(e.entity)
        href = f"/admin/{path}/{e.entity_id}" if known and path else (
            f"/admin/domains/{known}" if known and e.entity == "domain" else None)
        out.append(ReadableEntry(e, _actor(e.actor, names), ACTIONS.get(e.action, e.action), subject, href,
                                 tuple(_change(k, v) for k, v in sorted(e.detail.items()))))
    return out


def _names(store: Store, tenant_id: int, wanted: dict[str, set]) -> dict[tuple[str, str], str]:
    tables = {"user": (users, users.c.email), "group": (groups, groups.c.name), "app": (apps, apps.c.name),
              "domain": (domains, domains.c.name), "token": (api_tokens, api_tokens.c.name),
              "provider": (identity_providers, identity_providers.c.display_name)}
    found: dict[tuple[str, str], str] = {}
    with store.read() as conn:
        for entity, (table, column) in tables.items():
            ids = {int(i) for i in wanted.get(entity, ()) if str(i).isdigit()}
            if ids:
                for row in conn.execute(select(table.c.id, column).where(table.c.tenant_id == tenant_id,
                                                                         table.c.id.in_(ids))):
                    found[(entity, str(row[0]))] = str(row[1])
        sids = list(wanted.get("session", ()))[:1000]
        if sids:
            for row in conn.execute(select(sessions.c.id, users.c.email).select_from(
                    sessions.join(users, users.c.id == sessions.c.user_id))
                    .where(sessions.c.tenant_id == tenant_id, sessions.c.id.in_(sids))):
                found[("session", row[0])] = f"session of {row[1]}"
    return found


def _actor(actor: str, names: dict) -> str:
    kind, _, rest = actor.partition(":")
    if kind == "user" and rest:
        return names.get(("user", rest), f"user #{rest} (deleted)")
    if kind == "api" and rest:
        return f"API token {rest.rsplit('#', 1)[0]}"
    if kind == "provider" and rest:
        return f"sign-in provider {rest}"
    if kind == "system":
        return {"expire": "Ostiary (expiry)", "reverify": "Ostiary (re-verification)"}.get(rest, "Ostiary")
    return {"cli": "command line"}.get(actor, actor)


def _change(key: str, value) -> str:
    if isinstance(value, bool):
        shown = "yes" if value else "no"
    elif value is None or value == []:
        shown = "none"
    elif isinstance(value, (list, tuple)):
        shown = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        shown = ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
    else:
        shown = str(value)
    return f"{_FIELD_NAMES.get(key, key.replace('_', ' '))}: {shown}"


def prune_audit_log(store: Store, retention_days: int, now: float | None = None) -> int:
    """Delete entries older than `retention_days` (0 keeps every entry); how many went."""
    if retention_days <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    with store.write() as conn:
        return conn.execute(delete(audit_log).where(audit_log.c.at < cutoff)).rowcount or 0
