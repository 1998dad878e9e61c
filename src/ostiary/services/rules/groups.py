"""Groups: a tree per tenant, and who is in each."""

from __future__ import annotations

import time

from sqlalchemy import Row

from ostiary.access import would_create_cycle
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, InvalidInput, Message, NotFound, Problem, Problems, counted
from ostiary.services.base.text_rules import control_character_problem, nfc
from ostiary.services.rules.users import get_user
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import app_grants, apps, groups, memberships


def validate_group_name(name: str, problems: Problems, field: str = "name") -> str:
    name = nfc(name).strip()
    if not name or len(name) > 100:
        problems.add(field, N_("must be 1-100 characters"))
    elif "," in name:
        problems.add(field, N_('"%(name)s" contains a comma, which would split X-Forwarded-Groups: remove it'), name=name)
    elif control_character_problem(name):
        problems.add(field, control_character_problem(name))
    return name


def _by_name(scope: TenantScope, name: str, field: str = "group") -> Row:
    row = scope.one(groups, groups.c.name == nfc(name).strip())
    if row is None:
        raise NotFound(field, N_('no group "%(name)s" in this tenant: see `ostiary group list`'), name=name)
    return row


def _same_name(scope: TenantScope, name: str) -> Row | None:
    """The group whose name equals `name` regardless of case. Compared in
    Python: SQLite's lower() folds ASCII only, PostgreSQL's every letter."""
    folded = name.casefold()
    return next((r for r in scope.rows(groups) if r.name.casefold() == folded), None)


def get_group(store: Store, tenant_id: int, name: str) -> Row:
    with store.read() as conn:
        return _by_name(TenantScope(conn, tenant_id), name)


def list_groups(store: Store, tenant_id: int, search: str = "", limit: int = 1000, offset: int = 0) -> list[Row]:
    where = [groups.c.name.like(f"%{search}%")] if search else []
    with store.read() as conn:
        return TenantScope(conn, tenant_id).rows(groups, *where, order_by=groups.c.name, limit=limit, offset=offset)


def add_group(store: Store, tenant_id: int, actor: Actor, name: str, parent: str | None = None) -> Row:
    problems = Problems()
    name = validate_group_name(name, problems)
    problems.raise_if_any()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        same = _same_name(scope, name)
        if same is not None:
            raise Conflict("name", _already_exists(same.name, name))
        parent_id = _by_name(scope, parent, "parent").id if parent else None
        gid = scope.insert(groups, name=name, parent_id=parent_id, created_at=time.time())
        scope.audit(actor.name, "group.add", "group", gid, actor.addr, name=name, parent=parent)
        scope.changed(Entity.GROUP, gid)
        return scope.one(groups, groups.c.id == gid)


def move_group(store: Store, tenant_id: int, actor: Actor, name: str, new_parent: str | None) -> Row:
    return change_group(store, tenant_id, actor, name, parent=new_parent)


def rename_group(store: Store, tenant_id: int, actor: Actor, name: str, new_name: str) -> Row:
    """Give a group a new name, with the rules `add_group` applies. Members
    keep their memberships and grants; X-Forwarded-Groups carries the new
    name from the next request on."""
    return change_group(store, tenant_id, actor, name, new_name=new_name)


_KEEP = object()


def change_group(store: Store, tenant_id: int, actor: Actor, name: str, *, new_name: str | None = None,
                 parent: str | None | object = _KEEP) -> Row:
    """Rename the group and/or move it under `parent` (None: to the top),
    in one transaction: both happen, or neither."""
    problems = Problems()
    if new_name is not None:
        new_name = validate_group_name(new_name, problems, "new_name")
    problems.raise_if_any()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        group = _by_name(scope, name)
        if parent is not _KEEP:
            _move_in(scope, actor, group, parent)
        if new_name is not None and new_name != group.name:
            same = _same_name(scope, new_name)
            if same is not None and same.id != group.id:
                raise Conflict("new_name", _already_exists(same.name, new_name))
            scope.update(groups, groups.c.id == group.id, name=new_name)
            scope.audit(actor.name, "group.rename", "group", group.id, actor.addr, old=group.name, name=new_name)
            scope.changed(Entity.GROUP, group.id)
        return scope.one(groups, groups.c.id == group.id)


def _move_in(scope: TenantScope, actor: Actor, group: Row, new_parent: str | None) -> None:
    parent_id = _by_name(scope, new_parent, "parent").id if new_parent else None
    parent_of = {r.id: r.parent_id for r in scope.rows(groups)}
    if would_create_cycle(group.id, parent_id, parent_of):
        raise InvalidInput([Problem(
            "parent", N_('moving "%(name)s" under "%(parent)s" would make a group its own ancestor: '
                         'choose a group outside its subtree'), name=group.name, parent=new_parent
        )])
    scope.update(groups, groups.c.id == group.id, parent_id=parent_id)
    scope.audit(actor.name, "group.move", "group", group.id, actor.addr, parent=new_parent)
    scope.changed(Entity.GROUP, group.id)


def _in_use(scope: TenantScope, group: Row) -> tuple[int, list[str]]:
    """How many direct members the group has, and the names of the apps it is granted."""
    members = scope.count(memberships, memberships.c.group_id == group.id)
    app_ids = {g.app_id for g in scope.rows(app_grants, app_grants.c.group_id == group.id)}
    return members, sorted(a.name for a in scope.rows(apps) if a.id in app_ids)


def delete_group(store: Store, tenant_id: int, actor: Actor, name: str, force: bool = False) -> None:
    """Refused while the group has members or grants, unless `force`: deleting
    it would silently shut its members out of those apps."""
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        group = _by_name(scope, name)
        if scope.count(groups, groups.c.parent_id == group.id):
            raise Conflict("group", N_('"%(name)s" has child groups: move or delete them first'), name=name)
        members, granted = _in_use(scope, group)
        if (members or granted) and not force:
            raise Conflict("group", N_('"%(name)s" is in use: deleting it removes %(what)s; '
                                       'confirm to delete it anyway (CLI --force, API ?force=true)'),
                           name=group.name, what=in_use_text(members, granted))
        scope.delete(memberships, memberships.c.group_id == group.id)
        for grant in scope.rows(app_grants, app_grants.c.group_id == group.id):
            scope.changed(Entity.APP, grant.app_id)
        scope.delete(app_grants, app_grants.c.group_id == group.id)
        scope.delete(groups, groups.c.id == group.id)
        scope.audit(actor.name, "group.delete", "group", group.id, actor.addr, name=group.name,
                    removed_members=members, removed_grants=granted)
        scope.changed(Entity.GROUP, group.id)


def in_use_text(members: int, granted: list[str]) -> Message:
    """What deleting a group removes, as a Message (a page translates it)."""
    memberships_ = counted("%(n)d membership", "%(n)d memberships", members)
    grants = counted("its grant on %(apps)s", "its grants on %(apps)s", len(granted), apps=", ".join(granted))
    if members and granted:
        return Message(N_("%(memberships)s and %(grants)s"), memberships=memberships_, grants=grants)
    return memberships_ if members else grants if granted else Message(N_("nothing else"))


def _already_exists(existing: str, asked: str) -> Message:
    if existing == asked:
        return Message(N_('group "%(name)s" already exists in this tenant'), name=existing)
    return Message(N_('group "%(name)s" already exists in this tenant (group names are compared regardless of case)'),
                   name=existing)


def group_usage(store: Store, tenant_id: int, name: str) -> tuple[int, list[str]]:
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        return _in_use(scope, _by_name(scope, name))


def add_member(store: Store, tenant_id: int, actor: Actor, group: str, email: str) -> None:
    user = get_user(store, tenant_id, email)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        g = _by_name(scope, group)
        if scope.one(memberships, memberships.c.group_id == g.id, memberships.c.user_id == user.id):
            return  # already a member: adding again changes nothing
        scope.insert(memberships, group_id=g.id, user_id=user.id)
        scope.audit(actor.name, "group.member_add", "group", g.id, actor.addr, user=user.email)
        scope.changed(Entity.USER, user.id)


def remove_member(store: Store, tenant_id: int, actor: Actor, group: str, email: str) -> None:
    user = get_user(store, tenant_id, email)
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        g = _by_name(scope, group)
        if not scope.delete(memberships, memberships.c.group_id == g.id, memberships.c.user_id == user.id):
            raise NotFound("member", N_('"%(email)s" is not a direct member of "%(group)s"'), email=email, group=group)
        scope.audit(actor.name, "group.member_remove", "group", g.id, actor.addr, user=user.email)
        scope.changed(Entity.USER, user.id)


def members(store: Store, tenant_id: int, group: str) -> list[int]:
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        g = _by_name(scope, group)
        return [r.user_id for r in scope.rows(memberships, memberships.c.group_id == g.id)]
