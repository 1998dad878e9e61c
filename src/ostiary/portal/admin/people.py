"""Users and groups: create, disable, reset passwords, memberships, the group tree."""

from __future__ import annotations

from starlette.responses import Response

from ostiary.portal import i18n
from ostiary.portal.admin import confirmations
from ostiary.portal.admin.guard import (
    AdminContext, admin_action, admin_page, checked, problems, sorted_listing_args,
)
from ostiary.portal.i18n import N_, gettext as _, ngettext
from ostiary.portal.problem_text import message_text
from ostiary.services.queries import pages as admin_views
from ostiary.services.rules import groups, invitations, passkeys, second_factor, sessions, users
from ostiary.services.base.errors import Conflict, MailUnavailable, Problem, ServiceError


# --- users ---------------------------------------------------------------------------------

@admin_page
async def user_list(ctx: AdminContext) -> Response:
    return await _users(ctx)


async def _users(ctx: AdminContext, status: int = 200, errors=(), form=None) -> Response:
    args = sorted_listing_args(ctx.request) if status == 200 else {}
    page = await ctx.call(admin_views.users_page, ctx.inst.store, ctx.tenant.id, **args)
    return ctx.page("admin/users.html", status=status, page=page, q=ctx.request.query_params.get("q", ""),
                    errors=list(errors), form=form or {})


@admin_action
async def user_add(ctx: AdminContext, form) -> Response:
    values = {"email": str(form.get("email", "")), "username": str(form.get("username", "")).strip() or None,
              "display_name": str(form.get("display_name", "")).strip() or None,
              "password": str(form.get("password", "")) or None, "is_admin": checked(form, "is_admin")}
    try:
        # An invitation is in the language of this page, unless the person saved one (docs/email.md).
        row, invited = await ctx.call(invitations.add_user_or_invite, ctx.inst.store, ctx.inst.settings,
                                      ctx.tenant.id, ctx.actor, **values, language=i18n.current())
    except ServiceError as exc:
        # SMTP down: a clear error, and no user or link was kept (docs/email.md).
        status = 503 if isinstance(exc, MailUnavailable) else 422
        return await _users(ctx, status, problems(exc), {**values, "password": ""})
    if invited:
        return ctx.back(f"/admin/users/{row.id}", _("User %(email)s created and invited by email.") % {"email": row.email})
    return ctx.back(f"/admin/users/{row.id}", _("User %(email)s created.") % {"email": row.email})


@admin_action
async def user_invite(ctx: AdminContext, form) -> Response:
    """Sends a fresh invitation to a user who has no password yet."""
    user = await _target(ctx)
    try:
        await ctx.call(invitations.invite, ctx.inst.store, ctx.inst.settings, ctx.tenant.id, ctx.actor,
                       email=user.email, language=i18n.current())
    except ServiceError as exc:
        return await _user(ctx, 503 if isinstance(exc, MailUnavailable) else 409, problems(exc))
    return ctx.back(f"/admin/users/{user.id}", _("Invitation sent to %(email)s.") % {"email": user.email})


@admin_page
async def user_detail(ctx: AdminContext) -> Response:
    return await _user(ctx)


async def _user(ctx: AdminContext, status: int = 200, errors=(), form=None) -> Response:
    uid = int(ctx.request.path_params["user_id"])
    user = await ctx.call(admin_views.user_by_id, ctx.inst.store, ctx.tenant.id, uid)
    member_of = await ctx.call(admin_views.user_groups, ctx.inst.store, ctx.tenant.id, uid)
    live = await ctx.call(admin_views.sessions_page, ctx.inst.store, ctx.tenant.id, user_id=uid, limit=100)
    keys = await ctx.call(passkeys.list_passkeys, ctx.inst.store, ctx.tenant.id, uid)
    names = await ctx.call(admin_views.pickers, ctx.inst.store, ctx.tenant.id)
    shown = form or {"email": user.email, "username": user.username, "display_name": user.display_name,
                     "is_admin": user.is_admin, "active": user.active}
    return ctx.page("admin/user.html", status=status, u=user, member_of=member_of, live=live, errors=list(errors),
                    passkeys=keys, names=names, form=shown)


async def _target(ctx: AdminContext):
    return await ctx.call(admin_views.user_by_id, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["user_id"]))


def _not_yourself(ctx: AdminContext, user, *, active: bool | None = None, is_admin: bool | None = None,
                  delete: bool = False) -> list[Problem]:
    """What the admin pages refuse on top of the services' rules: an admin locking themselves out
    (the last-admin rule stays the services'; another admin can still do it for them)."""
    if user.id != ctx.user.id:
        return []
    if delete:
        return [Problem("user", N_("you cannot delete your own account here: ask another admin"))]
    if active is False:
        return [Problem("active", N_("you cannot disable your own account here: ask another admin"))]
    if is_admin is False:
        return [Problem("is_admin", N_("you cannot remove your own admin rights: ask another admin"))]
    return []


@admin_action
async def user_active(ctx: AdminContext, form) -> Response:
    user = await _target(ctx)
    active = form.get("active") == "1"
    if refused := _not_yourself(ctx, user, active=active):
        return await _user(ctx, 422, refused)
    try:
        await ctx.call(users.set_active, ctx.inst.store, ctx.tenant.id, ctx.actor, user.email, active)
    except ServiceError as exc:
        return await _user(ctx, 409, problems(exc))
    return ctx.back(f"/admin/users/{user.id}", _("User enabled.") if active else _("User disabled and signed out everywhere."))


@admin_action
async def user_admin(ctx: AdminContext, form) -> Response:
    user = await _target(ctx)
    make = form.get("is_admin") == "1"
    if refused := _not_yourself(ctx, user, is_admin=make):
        return await _user(ctx, 422, refused)
    try:
        await ctx.call(users.set_admin, ctx.inst.store, ctx.tenant.id, ctx.actor, user.email, make)
    except ServiceError as exc:
        return await _user(ctx, 409, problems(exc))
    return ctx.back(f"/admin/users/{user.id}", _("Admin rights granted.") if make else _("Admin rights removed."))


@admin_action
async def user_edit(ctx: AdminContext, form) -> Response:
    """What `PATCH /users/{login}` changes, through the same service calls in the same order: the
    last-admin rule checked before anything is written, then the names, then the flags. Only what
    differs from the stored user is sent, as a PATCH sends only what it changes. Disabling asks first."""
    user = await _target(ctx)
    shown = {"email": str(form.get("email", "")), "username": str(form.get("username", "")),
             "display_name": str(form.get("display_name", "")), "is_admin": checked(form, "is_admin"),
             "active": checked(form, "active")}
    names = {k: shown[k] for k in ("email", "username", "display_name") if shown[k] != getattr(user, k)}
    active = shown["active"] if shown["active"] != user.active else None
    is_admin = shown["is_admin"] if shown["is_admin"] != user.is_admin else None
    if refused := _not_yourself(ctx, user, active=active, is_admin=is_admin):
        return await _user(ctx, 422, refused, shown)
    if active is False and form.get("confirm") != "1":
        again = {k: shown[k] for k in ("email", "username", "display_name")}  # "active" unticked: left out
        return confirmations.user_edit_disable(ctx, user, {**again, **({"is_admin": "on"} if shown["is_admin"] else {}),
                                                           "confirm": "1"})
    try:
        await ctx.call(users.check_admin_change, ctx.inst.store, ctx.tenant.id, user.email, active=active,
                       is_admin=is_admin)
        email = user.email
        if names:
            email = (await ctx.call(users.update_user, ctx.inst.store, ctx.tenant.id, ctx.actor, user.email,
                                    **names)).email
        if active is not None:
            await ctx.call(users.set_active, ctx.inst.store, ctx.tenant.id, ctx.actor, email, active)
        if is_admin is not None:
            await ctx.call(users.set_admin, ctx.inst.store, ctx.tenant.id, ctx.actor, email, is_admin)
    except ServiceError as exc:
        return await _user(ctx, 409 if isinstance(exc, Conflict) else 422, problems(exc), shown)
    if not (names or active is not None or is_admin is not None):
        return ctx.back(f"/admin/users/{user.id}", _("Nothing changed."))
    if active is False:
        return ctx.back(f"/admin/users/{user.id}", _("User disabled and signed out everywhere; the other changes are saved.")
                        if names or is_admin is not None else _("User disabled and signed out everywhere."))
    return ctx.back(f"/admin/users/{user.id}", _("User saved."))


@admin_action
async def user_delete(ctx: AdminContext, form) -> Response:
    user = await _target(ctx)
    if refused := _not_yourself(ctx, user, delete=True):
        return await _user(ctx, 422, refused)
    try:
        await ctx.call(users.delete_user, ctx.inst.store, ctx.tenant.id, ctx.actor, user.email)
    except ServiceError as exc:
        return await _user(ctx, 409 if isinstance(exc, Conflict) else 422, problems(exc))
    return ctx.back("/admin/users", _("User %(email)s deleted and signed out everywhere.") % {"email": user.email})


@admin_action
async def user_second_factor_reset(ctx: AdminContext, form) -> Response:
    user = await _target(ctx)
    await ctx.call(second_factor.reset_all, ctx.inst.store, ctx.tenant.id, user.id, ctx.actor)
    return ctx.back(f"/admin/users/{user.id}", _("Second factors reset: TOTP, recovery codes and passkeys removed."))


@admin_action
async def user_password(ctx: AdminContext, form) -> Response:
    user = await _target(ctx)
    try:
        await ctx.call(users.set_password, ctx.inst.store, ctx.tenant.id, ctx.actor, user.email, str(form.get("password", "")))
    except ServiceError as exc:
        return await _user(ctx, 422, problems(exc))
    return ctx.back(f"/admin/users/{user.id}", _("Password set; the user's sessions have ended."))


@admin_action
async def user_membership(ctx: AdminContext, form) -> Response:
    user = await _target(ctx)
    group, remove = str(form.get("group", "")), form.get("remove") == "1"
    try:
        await ctx.call(groups.remove_member if remove else groups.add_member, ctx.inst.store, ctx.tenant.id,
                       ctx.actor, group, user.email)
    except ServiceError as exc:
        return await _user(ctx, 422, problems(exc))
    return ctx.back(f"/admin/users/{user.id}", (_("Removed from %(group)s.") if remove else _("Added to %(group)s.")) % {"group": group})


@admin_action
async def user_sessions_end(ctx: AdminContext, form) -> Response:
    user = await _target(ctx)
    count = await ctx.call(sessions.end_user_sessions, ctx.inst.store, ctx.tenant.id, user.id, "revoked by admin", ctx.actor)
    back = str(form.get("back", ""))
    target = back if back in ("/admin/sessions",) else f"/admin/users/{user.id}"
    return ctx.back(target, ngettext("Ended %(num)d session of %(email)s.", "Ended %(num)d sessions of %(email)s.", count)
                    % {"num": count, "email": user.email})


# --- groups --------------------------------------------------------------------------------

@admin_page
async def group_list(ctx: AdminContext) -> Response:
    return await _groups(ctx)


async def _groups(ctx: AdminContext, status: int = 200, errors=(), form=None) -> Response:
    args = sorted_listing_args(ctx.request) if status == 200 else {}
    page = await ctx.call(admin_views.groups_page, ctx.inst.store, ctx.tenant.id, **args)
    names = await ctx.call(admin_views.pickers, ctx.inst.store, ctx.tenant.id)
    return ctx.page("admin/groups.html", status=status, page=page, q=ctx.request.query_params.get("q", ""),
                    errors=list(errors), form=form or {}, names=names)


@admin_action
async def group_add(ctx: AdminContext, form) -> Response:
    name, parent = str(form.get("name", "")), str(form.get("parent", "")).strip() or None
    try:
        row = await ctx.call(groups.add_group, ctx.inst.store, ctx.tenant.id, ctx.actor, name, parent)
    except ServiceError as exc:
        return await _groups(ctx, 422, problems(exc), {"name": name, "parent": parent or ""})
    return ctx.back(f"/admin/groups/{row.id}", _("Group %(name)s created.") % {"name": row.name})


@admin_page
async def group_detail(ctx: AdminContext) -> Response:
    return await _group(ctx)


async def _group(ctx: AdminContext, status: int = 200, errors=(), new_name: str | None = None) -> Response:
    detail = await ctx.call(admin_views.group_detail, ctx.inst.store, ctx.tenant.id, int(ctx.request.path_params["group_id"]))
    args = sorted_listing_args(ctx.request) if status == 200 else {}
    page = await ctx.call(admin_views.members_page, ctx.inst.store, ctx.tenant.id, detail.group.id, **args)
    members, granted = await ctx.call(groups.group_usage, ctx.inst.store, ctx.tenant.id, detail.group.name)
    in_use = message_text(groups.in_use_text(members, granted)) if members or granted else ""
    names = await ctx.call(admin_views.pickers, ctx.inst.store, ctx.tenant.id, with_emails=True)
    return ctx.page("admin/group.html", status=status, d=detail, g=detail.group, page=page,
                    q=ctx.request.query_params.get("q", ""), errors=list(errors), in_use=in_use, names=names,
                    new_name=detail.group.name if new_name is None else new_name)


async def _group_row(ctx: AdminContext):
    return (await ctx.call(admin_views.group_detail, ctx.inst.store, ctx.tenant.id,
                           int(ctx.request.path_params["group_id"]))).group


@admin_action
async def group_move(ctx: AdminContext, form) -> Response:
    group = await _group_row(ctx)
    parent = str(form.get("parent", "")).strip() or None
    try:
        await ctx.call(groups.move_group, ctx.inst.store, ctx.tenant.id, ctx.actor, group.name, parent)
    except ServiceError as exc:
        return await _group(ctx, 422, problems(exc))
    return ctx.back(f"/admin/groups/{group.id}", _("Moved under %(parent)s.") % {"parent": parent} if parent else _("Moved to the top level."))


@admin_action
async def group_rename(ctx: AdminContext, form) -> Response:
    group = await _group_row(ctx)
    new_name = str(form.get("new_name", ""))
    try:
        row = await ctx.call(groups.rename_group, ctx.inst.store, ctx.tenant.id, ctx.actor, group.name, new_name)
    except ServiceError as exc:
        return await _group(ctx, 409 if isinstance(exc, Conflict) else 422, problems(exc), new_name)
    if row.name == group.name:
        return ctx.back(f"/admin/groups/{group.id}", _("Nothing changed."))
    return ctx.back(f"/admin/groups/{group.id}", _("Group %(old)s is now called %(new)s.") % {"old": group.name, "new": row.name})


@admin_action
async def group_membership(ctx: AdminContext, form) -> Response:
    group = await _group_row(ctx)
    email, remove = str(form.get("email", "")), form.get("remove") == "1"
    try:
        await ctx.call(groups.remove_member if remove else groups.add_member, ctx.inst.store, ctx.tenant.id,
                       ctx.actor, group.name, email)
    except ServiceError as exc:
        return await _group(ctx, 422, problems(exc))
    return ctx.back(f"/admin/groups/{group.id}", (_("Removed %(email)s.") if remove else _("Added %(email)s.")) % {"email": email})


@admin_action
async def group_delete(ctx: AdminContext, form) -> Response:
    group = await _group_row(ctx)
    try:
        await ctx.call(groups.delete_group, ctx.inst.store, ctx.tenant.id, ctx.actor, group.name,
                       force=checked(form, "confirm"))
    except ServiceError as exc:
        return await _group(ctx, 409 if isinstance(exc, Conflict) else 422, problems(exc))
    return ctx.back("/admin/groups", _("Group %(name)s deleted.") % {"name": group.name})
