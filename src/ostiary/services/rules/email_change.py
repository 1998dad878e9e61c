"""A person changes their email address: the change is made only when they
follow a link sent to the new address (docs/email.md)."""

from __future__ import annotations

import time
from email.message import EmailMessage

from sqlalchemy import func

from ostiary.config import Settings
from ostiary.services.rules import email_links, mail
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, InvalidInput, NotFound, Problem, Problems
from ostiary.services.rules.tenants import tenant_url
from ostiary.services.rules.users import find_user, validate_email
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import users

INVALID_LINK = N_("this link cannot be used: it was used already, it expired, or a newer request replaced it. "
                  "Change the address again from your account page")


def _taken(scope: TenantScope, email: str, user_id: int) -> bool:
    row = scope.one(users, func.lower(users.c.email) == email.lower())
    return row is not None and row.id != user_id


def request_change(store: Store, settings: Settings, tenant_id: int, actor: Actor, user_id: int,
                   new_email: str, language: str | None = None) -> str:
    """Sends the confirmation link to the new address and returns it; the
    address stays as it is until the link is used. MailUnavailable, with no
    link kept, when the message cannot be sent. The message is in the
    person's saved language, else in `language` (the page's they asked
    from), else English (docs/email.md)."""
    problems = Problems()
    new_email = validate_email(new_email, problems)
    problems.raise_if_any()
    link_base = tenant_url(store, settings, tenant_id, email_links.PATHS[email_links.EMAIL_CHANGE])
    tenant_name = email_links.tenant_name(store, tenant_id)
    with mail.connect(settings) as outbox, store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        user = scope.one(users, users.c.id == user_id)
        if user.email.lower() == new_email.lower():
            raise InvalidInput([Problem("new_email", N_('"%(new_email)s" is already your address'), new_email=new_email)])
        if _taken(scope, new_email, user_id):
            raise Conflict("new_email", N_('another account uses "%(new_email)s": choose another address'), new_email=new_email)
        token = email_links.issue_in(scope, user_id, email_links.EMAIL_CHANGE, actor, new_email=new_email)
        scope.audit(actor.name, "user.email_change_requested", "user", user_id, actor.addr, new_email=new_email)
        hours = email_links.LIFETIMES[email_links.EMAIL_CHANGE] // 3600
        outbox.send(mail.compose(settings, "email_change", tenant_name=tenant_name, to=new_email,
                                 language=mail.language_for(user.language, language),
                                 name=user.display_name, old_email=user.email, new_email=new_email,
                                 link=f"{link_base}?token={token}", hours=hours))
    return new_email


def changed_notice(store: Store, settings: Settings, tenant_id: int, old_email: str, new_email: str,
                   by_admin: bool = False, language: str | None = None) -> EmailMessage:
    """The notice for the old address, so a change the person did not make is
    noticed; in their saved language, else in `language` (the page's that
    confirmed the change), else English."""
    person = email_links.recipient(store, tenant_id, find_user(store, tenant_id, new_email).id)
    return mail.compose(settings, "email_changed", tenant_name=person.tenant_name, to=old_email,
                        language=mail.language_for(person.language, language),
                        name=person.display_name, old_email=old_email, new_email=new_email, by_admin=by_admin)


def confirm_change(store: Store, tenant_id: int, token: str, address: str) -> tuple[str, str]:
    """Uses the link up and changes the address; (old, new)."""
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        link = email_links.consume_in(scope, email_links.EMAIL_CHANGE, token)
        if link is None or not link.new_email:
            raise NotFound("token", INVALID_LINK)
        if _taken(scope, link.new_email, link.user_id):
            raise Conflict("new_email", N_('another account took "%(new_email)s" meanwhile: choose another address'), new_email=link.new_email)
        scope.update(users, users.c.id == link.user_id, email=link.new_email, updated_at=time.time())
        scope.audit(f"user:{link.user_id}", "user.email_change", "user", link.user_id, address,
                    old_email=link.email, new_email=link.new_email)
        scope.changed(Entity.USER, link.user_id)
        return link.email, link.new_email
