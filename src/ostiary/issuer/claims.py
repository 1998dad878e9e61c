"""What the issuer says about a person, by scope (OpenID Connect Core
§5.4): a stable `sub` (the user's id, never reused, unchanged when their
email or name changes), email, name, username and groups, the group tree
flattened exactly as the forward-auth X-Forwarded-Groups header is."""

from __future__ import annotations

from authlib.oidc.core import UserInfo
from sqlalchemy import select

from ostiary.access import with_ancestors
from ostiary.store import Store, TenantScope
from ostiary.store.tables import groups, memberships, users


def subject(user_id: int) -> str:
    return str(user_id)


def user_claims(store: Store, tenant_id: int, user_id: int, scope: str) -> dict:
    scopes = set((scope or "").split())
    with store.read() as conn:
        s = TenantScope(conn, tenant_id)
        user = s.one(users, users.c.id == user_id)
        if user is None:
            return {"sub": subject(user_id)}
        claims: dict = {"sub": subject(user.id)}
        if "profile" in scopes:
            claims.update(name=user.display_name or user.username, preferred_username=user.username)
        if "email" in scopes:
            # Addresses are entered by an administrator or vouched for by a trusted provider (docs/oidc-provider.md).
            claims.update(email=user.email, email_verified=True)
        if "groups" in scopes:
            parent_of = {g.id: g.parent_id for g in s.rows(groups)}
            names = {g.id: g.name for g in s.rows(groups)}
            direct = [r.group_id for r in conn.execute(select(memberships.c.group_id)
                                                        .where(memberships.c.user_id == user.id))]
            claims["groups"] = sorted(names[g] for g in with_ancestors(direct, parent_of) if g in names)
    return UserInfo(claims)
