"""Reading the audit log: who changed what, when and from where. Writing
happens in each service, inside the transaction of the change it records."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, or_, select

from ostiary.services.base.listing import Page, clamp, escape_like
from ostiary.store import Store
from ostiary.store.tables import api_tokens, apps, audit_log, domains, groups, identity_providers, sessions, users
from ostiary.translations import N_


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
    "app.add": N_("App created"), "app.update": N_("App changed"), "app.grant": N_("Group may enter app"),
    "app.revoke": N_("Group no longer enters app"), "app.delete": N_("App deleted"),
    "app.external_identity": N_("App shared-cookie source set"),
    "domain.add": N_("Domain registered"), "domain.verify": N_("Domain verified"), "domain.delete": N_("Domain deleted"),
    "domain.expire": N_("Unverified domain expired"), "domain.external_identity": N_("Domain shared-cookie source set"),
    "group.add": N_("Group created"), "group.move": N_("Group moved"), "group.delete": N_("Group deleted"),
    "group.member_add": N_("Member added"), "group.member_remove": N_("Member removed"),
    "keys.rotate": N_("Signing keys rotated"),
    "provider.add": N_("Sign-in provider added"), "provider.change": N_("Sign-in provider changed"),
    "provider.map": N_("Group mapping added"), "provider.unmap": N_("Group mapping removed"),
    "provider.remove": N_("Sign-in provider removed"),
    "session.start": N_("Signed in"), "session.end": N_("Session ended"), "session.end_all": N_("Signed out everywhere"),
    "session.second_factor": N_("Second factor passed"),
    "tenant.password_sign_in": N_("Password sign-in switched"),
    "token.add": N_("API token created"), "token.revoke": N_("API token revoked"),
    "user.add": N_("User created"), "user.admin": N_("Admin rights changed"), "user.disable": N_("User disabled"),
    "user.enable": N_("User enabled"), "user.password": N_("Password set"), "user.totp_enrol": N_("Second factor enrolled"),
    "user.totp_reset": N_("Second factor reset"), "user.recovery_code_used": N_("Recovery code used"),
    "domain.disable": N_("Domain disabled"), "domain.flag": N_("Domain flagged"), "domain.unflag": N_("Domain no longer flagged"),
    "group.rename": N_("Group renamed"),
    "identity.link": N_("Provider identity linked"), "identity.unlink": N_("Provider identity unlinked"),
    "identity.link_refused": N_("Provider identity not linked"), "identity.refused": N_("Provider sign-in refused"),
    "identity.email_changed": N_("Provider email changed"), "identity.groups": N_("Groups from provider applied"),
    "oidc_client.add": N_("OIDC client created"), "oidc_client.update": N_("OIDC client changed"),
    "oidc_client.grant": N_("Group may use OIDC client"), "oidc_client.revoke": N_("Group no longer uses OIDC client"),
    "oidc_client.rotate_secret": N_("OIDC client secret replaced"), "oidc_client.delete": N_("OIDC client deleted"),
    "oidc.consent": N_("OIDC consent given"), "oidc.code_replayed": N_("OIDC code replayed"),
    "oidc.refresh_reused": N_("OIDC refresh token reused"),
    "tenant.add": N_("Tenant created"), "tenant.second_factor_policy": N_("Second-factor policy set"),
    "tenant.session_limits": N_("Session limits set"), "tenant.branding": N_("Branding changed"),
    "tenant.logo": N_("Logo uploaded"), "tenant.logo_removed": N_("Logo removed"),
    "user.update": N_("User changed"), "user.delete": N_("User deleted"), "user.invite": N_("Invitation sent"),
    "user.invitation_accepted": N_("Invitation accepted"), "user.password_reset_requested": N_("Password reset asked for"),
    "user.password_reset": N_("Password reset by email link"), "user.email_change_requested": N_("Email change asked for"),
    "user.email_change": N_("Email changed"), "user.second_factor_reset": N_("Second factors reset"),
    "user.passkey_add": N_("Passkey added"), "user.passkey_remove": N_("Passkey removed"), "user.passkey_used": N_("Passkey used"),
    "user.passkey_refused": N_("Passkey refused"),
}

_FIELD_NAMES = {"admin": N_("administrator"), "all_users": N_("every user may enter"), "headers": N_("identity headers"),
                "public_paths": N_("public paths"), "parent": N_("parent group"), "portal_host": N_("portal host"),
                "require_2fa": N_("second factor required"), "overlap_seconds": N_("older keys verify for (s)"),
                # The rest as recorded, spaces for underscores, but in the page's language.
                "name": N_("name"), "email": N_("email"), "username": N_("username"),
                "display_name": N_("display name"), "new_email": N_("new email"), "old_email": N_("old email"),
                "group": N_("group"), "groups": N_("groups"), "reason": N_("reason"),
                "sessions_ended": N_("sessions ended"), "provider": N_("provider")}


def _english(text: str) -> str:
    return text


@dataclass(frozen=True)
class ReadableEntry:
    """An audit entry as the admin pages and the CSV export show it."""
    entry: AuditEntry
    actor: str  # "alice@acme.test", "API token terraform", "command line"
    action: str  # "User disabled"
    subject: str  # "bob@acme.test", "grafana"
    href: str | None  # the subject's admin page, while it exists
    changes: tuple[str, ...]  # ("administrator: no", "groups: staff, ops")


def readable(store: Store, tenant_id: int, entries: list[AuditEntry],
             translate: Callable[[str], str] = _english) -> list[ReadableEntry]:
    """Names instead of ids (`user:1` is alice@acme.test), and changes as words: in English, or through
    `translate` (the admin page's gettext, docs/translations.md). Names and values people typed stay as typed."""
    wanted: dict[str, set] = {}
    for e in entries:
        wanted.setdefault(e.entity, set()).add(e.entity_id)
        if e.actor.startswith("user:"):
            wanted.setdefault("user", set()).add(e.actor[5:])
    names = _names(store, tenant_id, wanted)
    out = []
    for e in entries:
        known = names.get((e.entity, e.entity_id))
        if known and e.entity == "session":
            known = translate(N_("session of %(email)s")) % {"email": known}
        subject = known or str(e.detail.get("name") or e.detail.get("email") or f"{e.entity} {e.entity_id}")
        path = {"user": "users", "group": "groups", "app": "apps", "token": None, "provider": "providers"}.get(e.entity)
        href = f"/admin/{path}/{e.entity_id}" if known and path else (
            f"/admin/domains/{known}" if known and e.entity == "domain" else None)
        action = translate(ACTIONS[e.action]) if e.action in ACTIONS else e.action
        out.append(ReadableEntry(e, _actor(e.actor, names, translate), action, subject, href,
                                 tuple(_change(k, v, translate) for k, v in sorted(e.detail.items()))))
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
                found[("session", row[0])] = row[1]  # the person's email: "session of …" in readable
    return found


def _actor(actor: str, names: dict, translate: Callable[[str], str]) -> str:
    kind, _, rest = actor.partition(":")
    if kind == "user" and rest:
        return names.get(("user", rest)) or translate(N_("user #%(id)s (deleted)")) % {"id": rest}
    if kind == "api" and rest:
        return translate(N_("API token %(name)s")) % {"name": rest.rsplit("#", 1)[0]}
    if kind == "provider" and rest:
        return translate(N_("sign-in provider %(name)s")) % {"name": rest}
    if kind == "system":
        return translate({"expire": N_("Ostiary (expiry)"), "reverify": N_("Ostiary (re-verification)")}.get(rest, "Ostiary"))
    return translate(N_("command line")) if actor == "cli" else actor


def _change(key: str, value, translate: Callable[[str], str]) -> str:
    if isinstance(value, bool):
        shown = translate(N_("yes")) if value else translate(N_("no"))
    elif value is None or value == []:
        shown = translate(N_("none"))
    elif isinstance(value, (list, tuple)):
        shown = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        shown = ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
    else:
        shown = str(value)
    field = translate(_FIELD_NAMES[key]) if key in _FIELD_NAMES else key.replace("_", " ")
    return translate(N_("%(field)s: %(value)s")) % {"field": field, "value": shown}


def prune_audit_log(store: Store, retention_days: int, now: float | None = None) -> int:
    """Delete entries older than `retention_days` (0 keeps every entry); how many went."""
    if retention_days <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    with store.write() as conn:
        return conn.execute(delete(audit_log).where(audit_log.c.at < cutoff)).rowcount or 0
