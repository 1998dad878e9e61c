"""Invitations: an administrator invites a person by email, and the link
(single use, 72 hours) lets them choose a password (docs/email.md). A user
created without a password is invited this way when email is configured.

The SMTP connection is opened before anything is written and the message is
sent inside the transaction that creates the user and the link: when the
server is down or refuses the message, nothing is kept."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Row, func

from ostiary.config import Settings
from ostiary.services import email_links, mail
from ostiary.services import users as users_service
from ostiary.services.actor import Actor
from ostiary.services.errors import Conflict
from ostiary.store import Store, TenantScope
from ostiary.store.tables import users


@dataclass(frozen=True)
class Invited:
    user: Row
    resent: bool  # the user existed (invited before, no password yet): a fresh link replaced the old one


def invite(store: Store, settings: Settings, tenant_id: int, actor: Actor, *, email: str,
           username: str | None = None, display_name: str | None = None, is_admin: bool = False) -> Invited:
    """Creates the user without a password (or finds one invited before) and
    emails them a link to set one. MailUnavailable, with nothing written,
    when the message cannot be sent."""
    email, username, display_name = users_service.validate_new_user(email, username, display_name, None)
    link_base = email_links.tenant_url(store, settings, tenant_id, email_links.PATHS[email_links.INVITATION])
    tenant_name = email_links.tenant_name(store, tenant_id)
    with mail.connect(settings) as outbox, store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        user = scope.one(users, func.lower(users.c.email) == email.lower())
        resent = user is not None
        if user is not None and user.password_hash is not None:
            raise Conflict(f'email: "{user.email}" already has an account with a password: they can use '
                           '"Forgot your password?" on the sign-in page')
        if user is not None and not user.active:
            raise Conflict(f'email: "{user.email}" is disabled: enable the account first (`ostiary user enable`)')
        if user is None:
            user = users_service.insert_user(scope, actor, email=email, username=username, display_name=display_name,
                                             password=None, is_admin=is_admin)
        token = email_links.issue_in(scope, user.id, email_links.INVITATION, actor)
        scope.audit(actor.name, "user.invite", "user", user.id, actor.addr, email=user.email, resent=resent)
        hours = email_links.LIFETIMES[email_links.INVITATION] // 3600
        outbox.send(mail.compose(settings, "invitation", tenant_name=tenant_name, to=user.email,
                                 name=user.display_name, link=f"{link_base}?token={token}", hours=hours))
        return Invited(user, resent)


def add_user_or_invite(store: Store, settings: Settings, tenant_id: int, actor: Actor, *, email: str,
                       username: str | None = None, display_name: str | None = None, password: str | None = None,
                       is_admin: bool = False) -> tuple[Row, bool]:
    """(user, invited): the one rule the CLI, API and admin pages follow. With
    a password the user is simply added; without one they are invited when
    email is configured, and otherwise added with no way in yet."""
    if password is None and settings.email_enabled:
        return invite(store, settings, tenant_id, actor, email=email, username=username,
                      display_name=display_name, is_admin=is_admin).user, True
    return users_service.add_user(store, tenant_id, actor, email=email, username=username, display_name=display_name,
                                  password=password, is_admin=is_admin), False
