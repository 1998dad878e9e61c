"""Setting a password through a link sent by email: "Forgot your password?"
(valid 30 minutes) and accepting an invitation (72 hours). Using either ends
every session the account had (docs/email.md, docs/contract.md)."""

from __future__ import annotations

import math
import time
from email.message import EmailMessage

from sqlalchemy import Row

from ostiary.config import Settings
from ostiary.services.rules import email_links, mail, throttle
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, InvalidInput, NotFound, Problem, Throttled, counted
from ostiary.services.base.passwords import hash_password, password_problem
from ostiary.services.rules.providers import password_refused
from ostiary.services.base.text_rules import nfc
from ostiary.services.rules.tenants import tenant_url
from ostiary.services.rules.users import find_user_in
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import users

INVALID_LINK = N_("this link cannot be used: it was used already, it expired, or a newer one replaced it. "
                  "Ask for a new one")
ACTIONS = {email_links.RESET: "user.password_reset", email_links.INVITATION: "user.invitation_accepted"}


def request_reset(store: Store, settings: Settings, tenant_id: int, login: str, address: str,
                  language: str | None = None) -> EmailMessage | None:
    """The reset message to send, or None when there is nothing to send (no
    such active account, password sign-in is not theirs, or the account's
    limit is met): the page says the same either way, so the message is sent
    after the answer. Throttled when this client address asked too often.
    The message is in the person's saved language, else in `language` (the
    page's they asked from), else English (docs/email.md)."""
    login = nfc(login).strip()[:320]
    verdict = throttle.begin_password_reset(store, tenant_id, login, address)
    if not verdict.address.allowed:
        minutes = max(1, math.ceil(verdict.address.retry_after / 60))
        raise Throttled(counted("Too many requests from your network. Wait %(n)d minute, then try again.",
                                "Too many requests from your network. Wait %(n)d minutes, then try again.", minutes),
                        verdict.address.retry_after)
    if not verdict.account.allowed or not login or not settings.email_enabled:
        return None
    with store.read() as conn:
        user = find_user_in(TenantScope(conn, tenant_id), login)
    if user is None or not user.active or password_refused(store, tenant_id, user):
        return None
    link_base = tenant_url(store, settings, tenant_id, email_links.PATHS[email_links.RESET])
    tenant_name = email_links.tenant_name(store, tenant_id)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        token = email_links.issue_in(scope, user.id, email_links.RESET, Actor(f"user:{user.id}", address, user.id))
        scope.audit(f"user:{user.id}", "user.password_reset_requested", "user", user.id, address)
    return mail.compose(settings, "password_reset", tenant_name=tenant_name, to=user.email,
                        language=mail.language_for(user.language, language), name=user.display_name,
                        link=f"{link_base}?token={token}", minutes=email_links.LIFETIMES[email_links.RESET] // 60)


def set_password_with_link(store: Store, tenant_id: int, purpose: str, token: str, password: str,
                           address: str) -> Row:
    """Uses the link up and sets the password, ending every session of the
    account, in one transaction; returns the user. A bad password is refused
    before the link is used, so the person can try again."""
    problem = password_problem(password)
    if problem:
        raise InvalidInput([Problem("password", problem)])
    password_hash = hash_password(password)  # before the transaction: it takes a while
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        link = email_links.consume_in(scope, purpose, token, now)
        if link is None:
            raise NotFound("token", INVALID_LINK)
        scope.update(users, users.c.id == link.user_id, password_hash=password_hash, updated_at=now)
        # Whoever held a session of this account (or knew the old password) is out.
        ended = sessions_service.end_user_sessions_in(scope, link.user_id, "password reset by email")
        for other in (email_links.RESET, email_links.INVITATION):
            email_links.retire_in(scope, link.user_id, other, now)
        scope.audit(f"user:{link.user_id}", ACTIONS[purpose], "user", link.user_id, address, sessions_ended=ended)
        scope.changed(Entity.USER, link.user_id)
        return scope.one(users, users.c.id == link.user_id)

