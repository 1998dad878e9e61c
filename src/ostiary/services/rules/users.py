"""Users: adding, disabling, passwords, and finding who signs in."""

from __future__ import annotations

import re
import time

from sqlalchemy import Row, func, or_, select

from ostiary.services.rules import email_links
from ostiary.services.rules import sessions as sessions_service
from ostiary.services.base import notifications
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, InvalidInput, NotFound, Problem, Problems
from ostiary.services.base.passwords import hash_password, password_problem, verify_password
from ostiary.services.base.text_rules import control_character_problem, nfc
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import memberships, users

EMAIL_RE = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
USERNAME_RE = re.compile(r"^[\w.@+-]{1,100}$")


def validate_email(email: str, problems: Problems) -> str:
    email = nfc(email).strip()
    if len(email) > 320 or not EMAIL_RE.match(email) or control_character_problem(email):
        problems.add("email", N_('"%(email)s" is not an email address: use the form name@example.com'), email=email)
    return email


def _validate_username(username: str, problems: Problems) -> str:
    username = nfc(username).strip()
    if not USERNAME_RE.match(username):
        problems.add(
            "username",
            N_('"%(username)s" is not a valid username: use 1-100 letters, digits and . _ @ + - (no spaces or commas)'),
            username=username,
        )
    return username


def _validate_display_name(name: str, problems: Problems) -> str:
    name = nfc(name).strip()
    if not name or len(name) > 200:
        problems.add("display_name", N_("must be 1-200 characters"))
    elif control_character_problem(name):
        problems.add("display_name", control_character_problem(name))
    return name


def find_user_in(scope: TenantScope, email_or_username: str) -> Row | None:
    """The user an email (any case) or a username names. A username matches as typed first; else, as
    people type it at sign-in, in any case, when exactly one username matches that way (two usernames
    that differ only in case are both kept, and each must then be typed as it is; docs/sign-in.md)."""
    key = nfc(email_or_username).strip()
    folded = key.casefold()
    found = scope.rows(users, or_(func.lower(users.c.email) == key.lower(), users.c.username == key,
                                  func.lower(users.c.username) == key.lower()))
    exact = [row for row in found if row.username == key or row.email.lower() == key.lower()]
    if exact:
        return exact[0]
    folded_matches = [row for row in found if row.username.casefold() == folded]
    return folded_matches[0] if len(folded_matches) == 1 else None


def find_user(store: Store, tenant_id: int, email_or_username: str) -> Row | None:
    with store.read() as conn:
        return find_user_in(TenantScope(conn, tenant_id), email_or_username)


def get_user(store: Store, tenant_id: int, email_or_username: str) -> Row:
    row = find_user(store, tenant_id, email_or_username)
    if row is None:
        raise NotFound("user", N_('no user "%(login)s" in this tenant: see `ostiary user list`'), login=email_or_username)
    return row


def get_user_by_id(store: Store, tenant_id: int, user_id: int) -> Row | None:
    with store.read() as conn:
        return TenantScope(conn, tenant_id).one(users, users.c.id == user_id)


def list_users(store: Store, tenant_id: int, search: str = "", limit: int = 50, offset: int = 0) -> list[Row]:
    where = []
    if search:
        like = f"%{search.lower()}%"
        where.append(or_(func.lower(users.c.email).like(like), func.lower(users.c.username).like(like),
                         func.lower(users.c.display_name).like(like)))
    with store.read() as conn:
        return TenantScope(conn, tenant_id).rows(users, *where, order_by=users.c.email, limit=limit, offset=offset)


def add_user(
    store: Store,
    tenant_id: int,
    actor: Actor,
    *,
    email: str,
    username: str | None = None,
    display_name: str | None = None,
    password: str | None = None,
    is_admin: bool = False,
) -> Row:
    email, username, display_name = validate_new_user(email, username, display_name, password)
    with store.write() as conn:
        return insert_user(TenantScope(conn, tenant_id), actor, email=email, username=username,
                           display_name=display_name, password=password, is_admin=is_admin)


def validate_new_user(email: str, username: str | None, display_name: str | None,
                      password: str | None) -> tuple[str, str, str]:
    """(email, username, display_name) as stored, the username and name
    derived from the email when not given; every problem refused at once."""
    problems = Problems()
    email = validate_email(email, problems)
    local = email.split("@", 1)[0]
    username = _validate_username(username if username is not None else local.lower(), problems)
    display_name = _validate_display_name(display_name if display_name is not None else local, problems)
    if password is not None:
        problem = password_problem(password)
        if problem:
            problems.add("password", problem)
    problems.raise_if_any()
    return email, username, display_name


def insert_user(scope: TenantScope, actor: Actor, *, email: str, username: str, display_name: str,
                password: str | None, is_admin: bool) -> Row:
    """The write half of add_user, for callers already inside a transaction."""
    if scope.one(users, func.lower(users.c.email) == email.lower()):
        raise Conflict("email", N_('a user with "%(email)s" already exists in this tenant'), email=email)
    if scope.one(users, users.c.username == username):
        raise Conflict("username", N_('"%(username)s" is taken in this tenant: pass another with --username'), username=username)
    now = time.time()
    uid = scope.insert(
        users, email=email, username=username, display_name=display_name,
        password_hash=hash_password(password) if password else None, is_admin=is_admin, active=True,
        created_at=now, updated_at=now,
    )
    scope.audit(actor.name, "user.add", "user", uid, actor.addr, email=email, admin=is_admin)
    scope.changed(Entity.USER, uid)
    return scope.one(users, users.c.id == uid)


def _other_active_admins(scope: TenantScope, user_id: int) -> int:
    """Active admins of the tenant besides `user_id`. On PostgreSQL the admin
    rows are locked, so two admins cannot demote each other at the same
    moment (SQLite's write transaction already serialises)."""
    stmt = select(users.c.id).where(users.c.tenant_id == scope.tenant_id, users.c.is_admin.is_(True),
                                    users.c.active.is_(True)).order_by(users.c.id)
    if scope.conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # every admin row, in id order: no deadlock between two demotions
    return sum(1 for row in scope.conn.execute(stmt) if row.id != user_id)


def _refuse_removing_last_admin(scope: TenantScope, user: Row, field: str) -> None:
    if user.is_admin and user.active and _other_active_admins(scope, user.id) == 0:
        raise Conflict(field, N_('"%(email)s" is the last active administrator of this tenant and cannot be disabled: '
                                 'first make another user an administrator (`ostiary user admin EMAIL`, '
                                 'or the admin flag on their page)') if field == "active" else
                       N_('"%(email)s" is the last active administrator of this tenant and cannot be demoted: '
                          'first make another user an administrator (`ostiary user admin EMAIL`, '
                          'or the admin flag on their page)'), email=user.email)


def check_admin_change(store: Store, tenant_id: int, email: str, *, active: bool | None = None,
                       is_admin: bool | None = None) -> None:
    """Refuses, before anything is written, a change that would leave the
    tenant without an active administrator (for callers that make several changes)."""
    user = get_user(store, tenant_id, email)
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        if active is False:
            _refuse_removing_last_admin(scope, user, "active")
        if is_admin is False:
            _refuse_removing_last_admin(scope, user, "is_admin")


def set_active(store: Store, tenant_id: int, actor: Actor, email: str, active: bool) -> Row:
    user = get_user(store, tenant_id, email)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        if not active:
            _refuse_removing_last_admin(scope, scope.one(users, users.c.id == user.id), "active")
        scope.update(users, users.c.id == user.id, active=active, updated_at=time.time())
        if not active:
            sessions_service.end_user_sessions_in(scope, user.id, "user disabled")
        scope.audit(actor.name, "user.enable" if active else "user.disable", "user", user.id, actor.addr)
        scope.changed(Entity.USER, user.id)
        row = scope.one(users, users.c.id == user.id)
    if not active:
        sessions_service.announce_ended(store, tenant_id, user_id=user.id)
    return row


def set_password(store: Store, tenant_id: int, actor: Actor, email: str, password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise InvalidInput([Problem("password", problem)])
    user = get_user(store, tenant_id, email)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        scope.update(users, users.c.id == user.id, password_hash=hash_password(password), updated_at=time.time())
        # A new password ends every session: whoever knew the old one is out.
        sessions_service.end_user_sessions_in(scope, user.id, "password changed")
        # ...and any reset or invitation link still in a mailbox stops working (docs/email.md).
        for purpose in (email_links.RESET, email_links.INVITATION):
            email_links.retire_in(scope, user.id, purpose)
        scope.audit(actor.name, "user.password", "user", user.id, actor.addr)
        scope.changed(Entity.USER, user.id)
    sessions_service.announce_ended(store, tenant_id, user_id=user.id)


def set_admin(store: Store, tenant_id: int, actor: Actor, email: str, is_admin: bool) -> None:
    user = get_user(store, tenant_id, email)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        if not is_admin:
            _refuse_removing_last_admin(scope, scope.one(users, users.c.id == user.id), "is_admin")
        scope.update(users, users.c.id == user.id, is_admin=is_admin, updated_at=time.time())
        scope.audit(actor.name, "user.admin", "user", user.id, actor.addr, admin=is_admin)
        scope.changed(Entity.USER, user.id)


def update_user(store: Store, tenant_id: int, actor: Actor, login: str, *, email: str | None = None,
                username: str | None = None, display_name: str | None = None) -> Row:
    """Change a user's email, username or display name (what is given; the
    rest stays), with the rules `add_user` applies. Sessions stay: the
    identity headers carry the new values from the next request on."""
    problems = Problems()
    values: dict = {}
    if email is not None:
        values["email"] = validate_email(email, problems)
    if username is not None:
        values["username"] = _validate_username(username, problems)
    if display_name is not None:
        values["display_name"] = _validate_display_name(display_name, problems)
    if not values:
        problems.add("user", N_("nothing to change: give a new email, username or display name"))
    problems.raise_if_any()
    user = get_user(store, tenant_id, login)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        if "email" in values and values["email"].lower() != user.email.lower() and \
                scope.one(users, func.lower(users.c.email) == values["email"].lower()):
            raise Conflict("email", N_('a user with "%(email)s" already exists in this tenant'), email=values["email"])
        if "username" in values and values["username"] != user.username and \
                scope.one(users, users.c.username == values["username"]):
            raise Conflict("username", N_('"%(username)s" is taken in this tenant: choose another'), username=values["username"])
        changed = {k: v for k, v in values.items() if v != getattr(user, k)}
        if changed:
            scope.update(users, users.c.id == user.id, updated_at=time.time(), **changed)
            scope.audit(actor.name, "user.update", "user", user.id, actor.addr, **changed)
            scope.changed(Entity.USER, user.id)
        row = scope.one(users, users.c.id == user.id)
    if "email" in changed:
        # After the commit: the old address is told (by email when configured, docs/email.md).
        notifications.notify(store, tenant_id, user.id, notifications.EMAIL_CHANGED, old_email=user.email,
                             new_email=row.email, by=actor.name)
    return row


def delete_user(store: Store, tenant_id: int, actor: Actor, login: str) -> Row:
    """Delete a user with their memberships, second factor, linked identities
    and sessions (which end first, so every app refuses them within a
    second). Never the tenant's last active administrator."""
    user = get_user(store, tenant_id, login)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        user = scope.one(users, users.c.id == user.id)
        if user is None:
            raise NotFound("user", N_('no user "%(login)s" in this tenant: see `ostiary user list`'), login=login)
        if user.is_admin and user.active and _other_active_admins(scope, user.id) == 0:
            raise Conflict("user", N_('"%(email)s" is the last active administrator of this tenant and cannot be '
                                      'deleted: first make another user an administrator (`ostiary user admin EMAIL`)'),
                           email=user.email)
        ended = sessions_service.end_user_sessions_in(scope, user.id, "user deleted")
        scope.delete(users, users.c.id == user.id)  # memberships, sessions, codes, identities: ON DELETE CASCADE
        scope.audit(actor.name, "user.delete", "user", user.id, actor.addr, email=user.email,
                    username=user.username, ended_sessions=ended)
        scope.changed(Entity.USER, user.id)
        return user


def authenticate(store: Store, tenant_id: int, login: str, password: str) -> Row | None:
    """The user whose login and password match and who is active; None
    otherwise, after the same amount of hashing work either way."""
    user = find_user(store, tenant_id, login) if login else None
    ok = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not ok or not user.active:
        return None
    return user


def user_group_ids(store: Store, tenant_id: int, user_id: int) -> list[int]:
    with store.read() as conn:
        return [r.group_id for r in TenantScope(conn, tenant_id).rows(memberships, memberships.c.user_id == user_id)]
