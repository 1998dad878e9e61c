"""Invitations: an administrator invites a person by email, and the link
(single use, 72 hours) lets them choose a password or register a passkey
(docs/email.md). A user created without a password is invited this way when
email is configured.

The SMTP connection is opened before anything is written and the message is
sent inside the transaction that creates the user and the link: when the
server is down or refuses the message, nothing is kept."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Row, func, select

from ostiary.access import policy_requires
from ostiary.config import Settings
from ostiary.services.rules import email_links, mail
from ostiary.services.rules import passkeys as passkeys_service
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.rules import users as users_service
from ostiary.services.rules.tenants import tenant_url
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, Message, NotFound
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import tenants, users, webauthn_credentials

NOT_VERIFIED = N_("This passkey did not check that it is you (no PIN, fingerprint or face), and this organisation "
                  "requires two-factor sign-in: use a device that asks for one, or choose a password instead.")
INVALID_LINK = N_("this link cannot be used: it was used already, it expired, or a newer one replaced it. "
                  "Ask for a new one")


@dataclass(frozen=True)
class Invited:
    user: Row
    resent: bool  # the user existed (invited before, no password yet): a fresh link replaced the old one


def invite(store: Store, settings: Settings, tenant_id: int, actor: Actor, *, email: str,
           username: str | None = None, display_name: str | None = None, is_admin: bool = False,
           language: str | None = None) -> Invited:
    """Creates the user without a password (or finds one invited before) and
    emails them a link to set one. MailUnavailable, with nothing written,
    when the message cannot be sent. The message is in the person's saved
    language if they have one, else in `language` (the inviting
    administrator's page's), else English (docs/email.md)."""
    email, username, display_name = users_service.validate_new_user(email, username, display_name, None)
    link_base = tenant_url(store, settings, tenant_id, email_links.PATHS[email_links.INVITATION])
    tenant_name = email_links.tenant_name(store, tenant_id)
    with mail.connect(settings) as outbox, store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        user = scope.one(users, func.lower(users.c.email) == email.lower())
        resent = user is not None
        if user is not None and user.password_hash is not None:
            raise Conflict("email", N_('"%(email)s" already has an account with a password: they can use "Forgot '
                                       'your password?" on the sign-in page'), email=user.email)
        if user is not None and scope.count(webauthn_credentials, webauthn_credentials.c.user_id == user.id):
            raise Conflict("email", N_('"%(email)s" already accepted an invitation with a passkey: they sign in '
                                       'with it, or set a password with "Forgot your password?" on the sign-in page'), email=user.email)
        if user is not None and not user.active:
            raise Conflict("email", N_('"%(email)s" is disabled: enable the account first (`ostiary user enable`)'), email=user.email)
        if user is None:
            user = users_service.insert_user(scope, actor, email=email, username=username, display_name=display_name,
                                             password=None, is_admin=is_admin)
        token = email_links.issue_in(scope, user.id, email_links.INVITATION, actor)
        scope.audit(actor.name, "user.invite", "user", user.id, actor.addr, email=user.email, resent=resent)
        hours = email_links.LIFETIMES[email_links.INVITATION] // 3600
        outbox.send(mail.compose(settings, "invitation", tenant_name=tenant_name, to=user.email,
                                 language=mail.language_for(user.language, language), name=user.display_name,
                                 link=f"{link_base}?token={token}", hours=hours))
        return Invited(user, resent)


def add_user_or_invite(store: Store, settings: Settings, tenant_id: int, actor: Actor, *, email: str,
                       username: str | None = None, display_name: str | None = None, password: str | None = None,
                       is_admin: bool = False, language: str | None = None) -> tuple[Row, bool]:
    """(user, invited): the one rule the CLI, API and admin pages follow. With
    a password the user is simply added; without one they are invited when
    email is configured, and otherwise added with no way in yet."""
    if password is None and settings.email_enabled:
        return invite(store, settings, tenant_id, actor, email=email, username=username,
                      display_name=display_name, is_admin=is_admin, language=language).user, True
    return users_service.add_user(store, tenant_id, actor, email=email, username=username, display_name=display_name,
                                  password=password, is_admin=is_admin), False


@dataclass(frozen=True)
class Accepted:
    user_id: int
    user_verified: bool  # the authenticator verified the person (PIN, biometrics): both factors at once


def accept_with_passkey(store: Store, keys, rp: passkeys_service.RelyingParty, tenant_id: int, token: str,
                        binding: str, state: str, credential: dict, name: str, address: str) -> Accepted:
    """The other way to accept an invitation: the browser's answer to the
    registration options the invitation page made for this link. The link is
    used up and the passkey stored in one transaction, so of two uses (a
    password and a passkey, say) exactly one wins, and a passkey is never
    kept for a link that was no longer usable. As with a password, every
    session the account had ends. A passkey that did not verify the person
    is refused when the tenant's policy requires a second factor of them
    (docs/sign-in.md). PasskeyRefused, or NotFound for the link."""
    name = passkeys_service.validate_name(name)
    ceremony = passkeys_service.open_ceremony(store, keys, state, passkeys_service.INVITATION, tenant_id, binding)
    new = passkeys_service.verify_new(ceremony, rp, credential)
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        link = email_links.consume_in(scope, email_links.INVITATION, token, now)
        if link is None:
            raise NotFound("token", INVALID_LINK)
        if ceremony.get("u") != link.user_id or ceremony.get("l") != link.id:
            # Options made for another invitation (or an older link of this one): nothing is kept.
            raise passkeys_service.PasskeyRefused(Message(N_("This passkey request was made for another invitation. "
                                                  "Open the link from your email again.")))
        if not new.user_verified:
            # Alone it would be one factor, and this person would have no second one to pass:
            # refused rather than leave them an account they cannot finish signing in to.
            user = scope.one(users, users.c.id == link.user_id)
            policy = conn.execute(select(tenants.c.second_factor_policy).where(tenants.c.id == tenant_id)).scalar()
            if policy_requires(policy, bool(user.is_admin)):
                raise passkeys_service.PasskeyRefused(Message(NOT_VERIFIED))
        actor = Actor(f"user:{link.user_id}", address, link.user_id)
        passkeys_service.store_in(scope, link.user_id, new, name, actor)
        ended = sessions_service.end_user_sessions_in(scope, link.user_id, "invitation accepted")
        for other in (email_links.RESET, email_links.INVITATION):
            email_links.retire_in(scope, link.user_id, other, now)
        scope.audit(actor.name, "user.invitation_accepted", "user", link.user_id, address, method="passkey",
                    sessions_ended=ended)
        scope.changed(Entity.USER, link.user_id)
    return Accepted(link.user_id, new.user_verified)
