"""Who a provider's person is here: an identity already linked (by the
provider's stable subject, never by email), an existing user linked by an
email the provider says is verified and is trusted for, or a new user when
the provider's policy allows it. Anything else is refused and audited: an
unverified or changed email claim never takes over an account (the "nOAuth"
class). Group mappings are applied at every sign-in
(docs/identity-providers.md)."""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass

from sqlalchemy import Row, func, select

from ostiary.identity.provider import ProviderConfig, UpstreamPerson
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, NotFound
from ostiary.services.rules.users import EMAIL_RE, USERNAME_RE, insert_user
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import identity_providers, linked_identities, memberships, provider_group_map, users


@dataclass(frozen=True)
class Admitted:
    user_id: int
    created: bool
    linked: bool


class NotAdmitted(Exception):
    """The person may not sign in this way; `message` is for them, `action` for the audit log."""

    def __init__(self, message: str, action: str, **detail):
        super().__init__(message)
        self.message = message
        self.action = action
        self.detail = detail


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower() if "@" in email else ""


def admit(store: Store, config: ProviderConfig, person: UpstreamPerson, addr: str = "",
          link_to: int | None = None) -> Admitted:
    """The user this person signs in as (creating or linking as the policy says), groups re-applied;
    NotAdmitted otherwise, with the refusal in the audit log. `link_to`: a signed-in user linking
    this provider from their account page."""
    actor = Actor(f"provider:{config.name}", addr)
    try:
        with store.write() as conn:
            scope = TenantScope(conn, config.tenant_id)
            admitted = _admit_in(scope, config, person, actor, link_to)
            user = scope.one(users, users.c.id == admitted.user_id)
            if user is None or not user.active:
                raise NotAdmitted("This account is disabled. Ask an administrator of this organisation.",
                                  "identity.refused", reason="user disabled", user=admitted.user_id)
            apply_groups(scope, config, admitted.user_id, person.groups, actor)
            return admitted
    except NotAdmitted as refusal:
        with store.write() as conn:
            TenantScope(conn, config.tenant_id).audit(
                actor.name, refusal.action, "provider", config.id, addr, subject=person.subject[:100],
                email=person.email[:320], email_verified=person.email_verified, **refusal.detail)
        raise


def _admit_in(scope: TenantScope, config: ProviderConfig, person: UpstreamPerson, actor: Actor,
              link_to: int | None) -> Admitted:
    link = scope.one(linked_identities, linked_identities.c.provider_id == config.id,
                     linked_identities.c.subject == person.subject)
    if link_to is not None:
        if link is not None and link.user_id != link_to:
            raise NotAdmitted(f"This {config.display_name} account is already linked to another user here.",
                              "identity.link_refused", reason="linked to another user")
        if link is None:
            _link(scope, config, person, link_to, actor, "linked from the account page")
        return Admitted(link_to, created=False, linked=link is None)
    if link is not None:
        _touch(scope, link, person, config, actor)
        return Admitted(link.user_id, created=False, linked=False)
    return _first_sign_in(scope, config, person, actor)


def _touch(scope: TenantScope, link: Row, person: UpstreamPerson, config: ProviderConfig, actor: Actor) -> None:
    scope.update(linked_identities, linked_identities.c.id == link.id, last_used_at=time.time(),
                 email=person.email[:320])
    if person.email.lower() != (link.email or "").lower():
        # Recorded, and nothing more: the link follows the subject, whatever email it now claims.
        scope.audit(actor.name, "identity.email_changed", "user", link.user_id, actor.addr,
                    provider=config.name, before=link.email, after=person.email[:320])


def _first_sign_in(scope: TenantScope, config: ProviderConfig, person: UpstreamPerson, actor: Actor) -> Admitted:
    email = person.email
    domain = email_domain(email)
    existing = scope.one(users, func.lower(users.c.email) == email.lower()) if email else None
    if existing is not None:
        if person.email_verified and domain in config.trusted_domains:
            _link(scope, config, person, existing.id, actor, "verified email in a trusted domain")
            return Admitted(existing.id, created=False, linked=True)
        why = "the email is not verified by the provider" if not person.email_verified else \
            f"the provider is not trusted for {domain}"
        raise NotAdmitted(
            f"An account with this email already exists, but {config.display_name} cannot vouch for it here. "
            f"Sign in another way, then link {config.display_name} from your account page.",
            "identity.link_refused", reason=why)
    if config.account_policy != "create":
        raise NotAdmitted(f"There is no account here for this {config.display_name} account. "
                          "Ask an administrator of this organisation to add you.",
                          "identity.refused", reason="no account and the provider admits existing users only")
    if not email or not EMAIL_RE.match(email) or not person.email_verified:
        raise NotAdmitted(f"{config.display_name} did not share a verified email address, which a new account needs.",
                          "identity.refused", reason="no verified email to create an account with")
    if config.create_domains and domain not in config.create_domains:
        raise NotAdmitted(f"Accounts are created only for {', '.join(config.create_domains)} addresses. "
                          "Ask an administrator of this organisation to add you.",
                          "identity.refused", reason=f"{domain} is not a domain accounts are created for")
    user = insert_user(scope, actor, email=email, username=_free_username(scope, person),
                       display_name=_display_name(person), password=None, is_admin=False)
    _link(scope, config, person, user.id, actor, "created at first sign-in")
    return Admitted(user.id, created=True, linked=True)


def _link(scope: TenantScope, config: ProviderConfig, person: UpstreamPerson, user_id: int, actor: Actor,
          why: str) -> None:
    now = time.time()
    scope.insert(linked_identities, user_id=user_id, provider_id=config.id, subject=person.subject[:255],
                 email=person.email[:320], created_at=now, last_used_at=now)
    scope.audit(actor.name, "identity.link", "user", user_id, actor.addr, provider=config.name, reason=why,
                email=person.email[:320])


def _free_username(scope: TenantScope, person: UpstreamPerson) -> str:
    base = person.username or person.email.split("@", 1)[0]
    base = re.sub(r"[^\w.@+-]", "", unicodedata.normalize("NFKC", base))[:90] or "user"
    name, n = base, 1
    while scope.one(users, users.c.username == name) is not None:
        n += 1
        name = f"{base}-{n}"
    assert USERNAME_RE.match(name)
    return name


def _display_name(person: UpstreamPerson) -> str:
    text = "".join(ch for ch in person.display_name if unicodedata.category(ch)[0] != "C").strip()[:200]
    return text or person.username or person.email.split("@", 1)[0]


def apply_groups(scope: TenantScope, config: ProviderConfig, user_id: int, upstream_groups, actor: Actor) -> None:
    """Membership of every group this provider maps is what the provider says now: added when listed,
    removed when not (groups it does not map are left alone)."""
    rows = scope.rows(provider_group_map, provider_group_map.c.provider_id == config.id)
    if not rows:
        return
    listed = set(upstream_groups)
    managed = {r.group_id for r in rows}
    wanted = {r.group_id for r in rows if r.upstream_group in listed}
    current = {m.group_id for m in scope.rows(memberships, memberships.c.user_id == user_id,
                                               memberships.c.group_id.in_(managed))}
    added, removed = wanted - current, (managed - wanted) & current
    for gid in added:
        scope.insert(memberships, group_id=gid, user_id=user_id)
    if removed:
        scope.delete(memberships, memberships.c.user_id == user_id, memberships.c.group_id.in_(removed))
    if added or removed:
        scope.audit(actor.name, "identity.groups", "user", user_id, actor.addr, provider=config.name,
                    added=sorted(added), removed=sorted(removed))
        scope.changed(Entity.USER, user_id)


# --- a person's linked identities ------------------------------------------------------------

@dataclass(frozen=True)
class LinkedIdentity:
    id: int
    provider: str
    provider_name: str
    email: str
    created_at: float
    last_used_at: float | None


def linked_for_user(store: Store, tenant_id: int, user_id: int) -> list[LinkedIdentity]:
    with store.read() as conn:
        rows = conn.execute(
            select(linked_identities, identity_providers.c.display_name, identity_providers.c.name.label("pname"))
            .join(identity_providers, identity_providers.c.id == linked_identities.c.provider_id)
            .where(linked_identities.c.tenant_id == tenant_id, linked_identities.c.user_id == user_id)
            .order_by(identity_providers.c.display_name, linked_identities.c.id)
        )
        return [LinkedIdentity(r.id, r.display_name, r.pname, r.email, r.created_at, r.last_used_at) for r in rows]


def unlink(store: Store, tenant_id: int, actor: Actor, user_id: int, link_id: int) -> None:
    """Removes one of the user's linked identities; refused when it is their last way in."""
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        link = scope.one(linked_identities, linked_identities.c.id == link_id, linked_identities.c.user_id == user_id)
        if link is None:
            raise NotFound("identity", N_("that is not one of this user's linked identities"))
        user = scope.one(users, users.c.id == user_id)
        others = scope.count(linked_identities, linked_identities.c.user_id == user_id,
                             linked_identities.c.id != link_id)
        if user.password_hash is None and others == 0:
            raise Conflict("identity", N_("this is the only way this account signs in: set a password or link "
                                          "another provider first"))
        scope.delete(linked_identities, linked_identities.c.id == link_id)
        scope.audit(actor.name, "identity.unlink", "user", user_id, actor.addr, provider_id=link.provider_id,
                    email=link.email)
