"""Users (and their second factor) and groups (tenants: cli/tenants.py)."""

from __future__ import annotations

import click

from ostiary.cli.base import (
    handles_errors, json_option, main, pass_ctx, print_json, print_record, print_table, read_secret_file,
    tenant_option, utc,
)
from ostiary.services.queries import pages
from ostiary.services.rules import groups as groups_service
from ostiary.services.rules import invitations
from ostiary.services.rules import users as users_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.listing import MAX_LIMIT


# --- users -----------------------------------------------------------------

@main.group()
def user() -> None:
    """Users."""


@user.command("add")
@click.argument("email")
@tenant_option
@click.option("--username", default=None)
@click.option("--name", "display_name", default=None)
@click.option("--password-file", default=None, help="File holding the password ('-' for stdin).")
@click.option("--admin", is_flag=True)
@pass_ctx
@handles_errors
def user_add(ctx, email, tenant, username, display_name, password_file, admin) -> None:
    password = read_secret_file(password_file, "password_file")
    row, invited = invitations.add_user_or_invite(ctx.store, ctx.settings, ctx.tenant_id(tenant), CLI_ACTOR,
                                                  email=email, username=username, display_name=display_name,
                                                  password=password, is_admin=admin)
    click.echo(f"user {row.email} added (username {row.username})")
    if invited:
        click.echo(f"invitation sent to {row.email}: the link lets them choose a password for 72 hours")
    elif password is None:
        click.echo("note: no password and email is not configured, so this user cannot sign in with a password yet: "
                   "set one with `ostiary user password`, or configure email (docs/email.md) and `ostiary user invite`")


@user.command("invite")
@click.argument("email")
@tenant_option
@click.option("--username", default=None)
@click.option("--name", "display_name", default=None)
@click.option("--admin", is_flag=True)
@pass_ctx
@handles_errors
def user_invite(ctx, email, tenant, username, display_name, admin) -> None:
    """Invite a person by email (a new user, or one invited before who has no password yet)."""
    invited = invitations.invite(ctx.store, ctx.settings, ctx.tenant_id(tenant), CLI_ACTOR, email=email,
                                 username=username, display_name=display_name, is_admin=admin)
    verb = "sent again" if invited.resent else "sent"
    click.echo(f"invitation {verb} to {invited.user.email}: the link lets them choose a password for 72 hours")


@user.command("disable")
@click.argument("email")
@tenant_option
@pass_ctx
@handles_errors
def user_disable(ctx, email, tenant) -> None:
    users_service.set_active(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, email, False)
    click.echo(f"user {email} disabled; their sessions have ended")


@user.command("enable")
@click.argument("email")
@tenant_option
@pass_ctx
@handles_errors
def user_enable(ctx, email, tenant) -> None:
    users_service.set_active(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, email, True)
    click.echo(f"user {email} enabled")


@user.command("admin")
@click.argument("email")
@tenant_option
@click.option("--remove", is_flag=True, help="Take the admin rights away instead.")
@pass_ctx
@handles_errors
def user_admin(ctx, email, tenant, remove) -> None:
    """Grant a user admin rights (or remove them; never from the last active admin)."""
    users_service.set_admin(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, email, not remove)
    click.echo(f"user {email} is {'no longer' if remove else 'now'} an administrator")


@user.command("password")
@click.argument("email")
@tenant_option
@click.option("--password-file", required=True, help="File holding the new password ('-' for stdin).")
@pass_ctx
@handles_errors
def user_password(ctx, email, tenant, password_file) -> None:
    password = read_secret_file(password_file, "password_file")
    users_service.set_password(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, email, password or "")
    click.echo(f"password of {email} changed; their sessions have ended")


@user.command("edit")
@click.argument("login")
@click.option("--email", default=None, help="A new email address.")
@click.option("--username", default=None, help="A new username.")
@click.option("--name", "display_name", default=None, help="A new display name.")
@tenant_option
@pass_ctx
@handles_errors
def user_edit(ctx, login, email, username, display_name, tenant) -> None:
    """Change a user's email, username or display name (LOGIN: email or username)."""
    row = users_service.update_user(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, login, email=email,
                                    username=username, display_name=display_name)
    click.echo(f"user {row.email} changed (username {row.username}, name {row.display_name})")


@user.command("delete")
@click.argument("login")
@tenant_option
@pass_ctx
@handles_errors
def user_delete(ctx, login, tenant) -> None:
    """Delete a user, their memberships and sessions (never the last active admin)."""
    row = users_service.delete_user(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, login)
    click.echo(f"user {row.email} deleted; their sessions have ended")


def _user_out(row, groups=None):
    from ostiary.portal.api.models import UserOut

    return UserOut.of(row, groups)


@user.command("list")
@tenant_option
@click.option("--search", default="", help="Case-insensitive part of an email, username or name.")
@json_option
@pass_ctx
@handles_errors
def user_list(ctx, tenant, search, as_json) -> None:
    rows = users_service.list_users(ctx.store, ctx.tenant_id(tenant), search=search, limit=1_000_000)
    if as_json:
        return print_json([_user_out(row) for row in rows])
    print_table(["EMAIL", "USERNAME", "NAME", "STATE", "ADMIN", "TOTP"],
                [[r.email, r.username, r.display_name, "active" if r.active else "disabled", r.is_admin,
                  r.totp_enabled_at is not None] for r in rows], empty="no users" + (" match" if search else ""))


@user.command("show")
@click.argument("login")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def user_show(ctx, login, tenant, as_json) -> None:
    """A user (by email or username) with their groups."""
    tid = ctx.tenant_id(tenant)
    row = users_service.get_user(ctx.store, tid, login)
    out = _user_out(row, [g.name for g in pages.user_groups(ctx.store, tid, row.id)])
    if as_json:
        return print_json(out)
    print_record([("email", out.email), ("username", out.username), ("name", out.display_name),
                  ("state", "active" if out.active else "disabled"), ("admin", out.is_admin),
                  ("second factor", "on" if out.totp_enabled else "off"), ("groups", out.groups),
                  ("created", utc(row.created_at))])


# --- groups ----------------------------------------------------------------

@main.group()
def group() -> None:
    """Groups (a tree) and their members."""


@group.command("add")
@click.argument("name")
@click.option("--parent", default=None)
@tenant_option
@pass_ctx
@handles_errors
def group_add(ctx, name, parent, tenant) -> None:
    row = groups_service.add_group(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, parent)
    click.echo(f"group {row.name} added" + (f" under {parent}" if parent else ""))


@group.command("move")
@click.argument("name")
@click.option("--parent", default=None, help="New parent; omit to make it a top-level group.")
@tenant_option
@pass_ctx
@handles_errors
def group_move(ctx, name, parent, tenant) -> None:
    groups_service.move_group(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, parent)
    click.echo(f"group {name} moved " + (f"under {parent}" if parent else "to the top"))


@group.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete it even while it has members or grants (they are removed too).")
@tenant_option
@pass_ctx
@handles_errors
def group_delete(ctx, name, force, tenant) -> None:
    tenant_id = ctx.tenant_id(tenant)
    members, granted = groups_service.group_usage(ctx.store, tenant_id, name)
    groups_service.delete_group(ctx.store, tenant_id, CLI_ACTOR, name, force=force)
    removed = f", with {groups_service.in_use_text(members, granted)}" if members or granted else ""
    click.echo(f"group {name} deleted{removed}")


@group.command("rename")
@click.argument("name")
@click.argument("new_name")
@tenant_option
@pass_ctx
@handles_errors
def group_rename(ctx, name, new_name, tenant) -> None:
    """Rename a group; members, subgroups and grants stay."""
    row = groups_service.rename_group(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, new_name)
    click.echo(f"group {name} is now {row.name}")


@group.command("list")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def group_list(ctx, tenant, as_json) -> None:
    """Every group, the tree depth first."""
    nodes = pages.group_tree(ctx.store, ctx.tenant_id(tenant))
    if as_json:
        return print_json([{"id": n.id, "name": n.name, "parent": n.parent, "path": n.path} for n in nodes])
    print_table(["GROUP", "PARENT", "PATH"], [[n.name, n.parent, n.path] for n in nodes], empty="no groups")


@group.command("show")
@click.argument("name")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def group_show(ctx, name, tenant, as_json) -> None:
    """A group: where it sits in the tree and which apps its members enter."""
    d = pages.group_detail(ctx.store, ctx.tenant_id(tenant), name)
    out = {"id": d.group.id, "name": d.group.name, "parent": d.parent, "path": d.path, "children": d.children,
           "apps": d.direct_grants, "inherited_apps": sorted({a for a, _ in d.inherited_grants})}
    if as_json:
        return print_json(out)
    print_record([("group", out["name"]), ("parent", out["parent"]), ("path", out["path"]),
                  ("subgroups", out["children"]), ("apps granted", out["apps"]),
                  ("apps through a parent", [f"{a} (from {g})" for a, g in d.inherited_grants])])


@group.command("members")
@click.argument("name")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def group_members(ctx, name, tenant, as_json) -> None:
    """The group's direct members."""
    tid = ctx.tenant_id(tenant)
    group_row = groups_service.get_group(ctx.store, tid, name)
    rows, offset = [], 0
    while offset is not None:  # every member, a page at a time
        page = pages.members_page(ctx.store, tid, group_row.id, limit=MAX_LIMIT, offset=offset)
        rows += page.items
        offset = page.next_offset
    if as_json:
        return print_json([_user_out(row) for row in rows])
    print_table(["EMAIL", "USERNAME", "NAME", "STATE"],
                [[r.email, r.username, r.display_name, "active" if r.active else "disabled"] for r in rows],
                empty=f"group {group_row.name} has no direct members")


@group.group("member")
def group_member() -> None:
    """Who is in a group."""


@group_member.command("add")
@click.argument("group_name")
@click.argument("email")
@tenant_option
@pass_ctx
@handles_errors
def member_add(ctx, group_name, email, tenant) -> None:
    groups_service.add_member(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, group_name, email)
    click.echo(f"{email} is in {group_name}")


@group_member.command("remove")
@click.argument("group_name")
@click.argument("email")
@tenant_option
@pass_ctx
@handles_errors
def member_remove(ctx, group_name, email, tenant) -> None:
    groups_service.remove_member(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, group_name, email)
    click.echo(f"{email} is no longer in {group_name}")


def _register_user_totp() -> None:
    """`ostiary user totp status|enrol|reset EMAIL`: the second factor, for admins."""
    from ostiary.services.rules import second_factor as second_factor_service

    @user.group("totp")
    def user_totp() -> None:
        """A user's second factor (TOTP and recovery codes)."""

    @user_totp.command("status")
    @click.argument("email")
    @tenant_option
    @json_option
    @pass_ctx
    @handles_errors
    def user_totp_status(ctx, email, tenant, as_json) -> None:
        tid = ctx.tenant_id(tenant)
        row = users_service.get_user(ctx.store, tid, email)
        enabled, left = second_factor_service.status(ctx.store, tid, row.id)
        if as_json:
            return print_json({"email": row.email, "totp_enabled": enabled, "recovery_codes_left": left})
        click.echo(f"{row.email}: TOTP {'on' if enabled else 'off'}, {left} recovery codes left")

    @user_totp.command("enrol")
    @click.argument("email")
    @tenant_option
    @pass_ctx
    @handles_errors
    def user_totp_enrol(ctx, email, tenant) -> None:
        """Provision a new secret now (replacing any) and print it with fresh recovery codes."""
        tid = ctx.tenant_id(tenant)
        row = users_service.get_user(ctx.store, tid, email)
        secret = second_factor_service.new_secret()
        enrolment = second_factor_service.enrol(ctx.store, tid, row.id, CLI_ACTOR, secret, None)
        click.echo(f"secret: {secret}")
        click.echo(f"otpauth: {second_factor_service.provisioning_uri(secret, row.email)}")
        click.echo("recovery codes (each works once):")
        for code in enrolment.recovery_codes:
            click.echo(f"  {code}")

    @user_totp.command("reset")
    @click.argument("email")
    @tenant_option
    @pass_ctx
    @handles_errors
    def user_totp_reset(ctx, email, tenant) -> None:
        """Reset every second factor (a lost device): TOTP, recovery codes and
        passkeys, like `ostiary user second-factor reset`; the user sets one up
        again at next need."""
        _reset(ctx, email, tenant)

    def _reset(ctx, email, tenant) -> None:
        tid = ctx.tenant_id(tenant)
        row = users_service.get_user(ctx.store, tid, email)
        done = second_factor_service.reset_all(ctx.store, tid, row.id, CLI_ACTOR)
        click.echo(f"second factor of {row.email} turned off; recovery codes removed; "
                   f"{done['passkeys']} passkey(s) removed")

    @user.group("second-factor")
    def user_second_factor() -> None:
        """A user's second factors: TOTP and passkeys (docs/sign-in.md)."""

    @user_second_factor.command("status")
    @click.argument("email")
    @tenant_option
    @json_option
    @pass_ctx
    @handles_errors
    def user_second_factor_status(ctx, email, tenant, as_json) -> None:
        from ostiary.services.rules import passkeys as passkeys_service

        tid = ctx.tenant_id(tenant)
        row = users_service.get_user(ctx.store, tid, email)
        enabled, left = second_factor_service.status(ctx.store, tid, row.id)
        keys = passkeys_service.list_passkeys(ctx.store, tid, row.id)
        if as_json:
            return print_json({"email": row.email, "totp_enabled": enabled, "recovery_codes_left": left,
                               "passkeys": [{"id": k.id, "name": k.name, "created_at": k.created_at,
                                             "last_used_at": k.last_used_at} for k in keys]})
        click.echo(f"{row.email}: TOTP {'on' if enabled else 'off'}, {left} recovery codes left, "
                   f"{len(keys)} passkey(s)")
        for key in keys:
            click.echo(f"  passkey {key.id}\t{key.name}")

    @user_second_factor.command("reset")
    @click.argument("email")
    @tenant_option
    @pass_ctx
    @handles_errors
    def user_second_factor_reset(ctx, email, tenant) -> None:
        """Remove TOTP, recovery codes and every passkey (audited; the user is told when email is configured)."""
        _reset(ctx, email, tenant)

    @user_second_factor.command("remove-passkey")
    @click.argument("email")
    @click.argument("passkey_id", type=int)
    @tenant_option
    @pass_ctx
    @handles_errors
    def user_passkey_remove(ctx, email, passkey_id, tenant) -> None:
        """Remove one passkey (its number from `status`)."""
        from ostiary.services.rules import passkeys as passkeys_service

        tid = ctx.tenant_id(tenant)
        row = users_service.get_user(ctx.store, tid, email)
        passkeys_service.remove(ctx.store, tid, row.id, passkey_id, CLI_ACTOR)
        click.echo(f"passkey {passkey_id} of {row.email} removed")


_register_user_totp()

