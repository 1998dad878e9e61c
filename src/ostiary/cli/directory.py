"""Tenants, users (and their second factor) and groups."""

from __future__ import annotations

import click

from ostiary.cli.base import Context, handles_errors, main, pass_ctx, read_secret_file, tenant_option
from ostiary.services import groups as groups_service
from ostiary.services import tenants as tenants_service
from ostiary.services import users as users_service
from ostiary.services.actor import CLI_ACTOR


# --- tenants ---------------------------------------------------------------

@main.group()
def tenant() -> None:
    """Tenants (organisations)."""


@tenant.command("add")
@click.argument("slug")
@click.option("--name", default=None)
@pass_ctx
@handles_errors
def tenant_add(ctx: Context, slug: str, name: str | None) -> None:
    row = tenants_service.add_tenant(ctx.store, slug, CLI_ACTOR, name=name)
    base = tenants_service.get_base_domain(ctx.store)
    click.echo(f"tenant {row.slug} added" + (f"; tenant host {row.slug}.{base}" if base else ""))


@tenant.command("list")
@pass_ctx
@handles_errors
def tenant_list(ctx: Context) -> None:
    for row in tenants_service.list_tenants(ctx.store):
        click.echo(row.slug)


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
    row = users_service.add_user(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, email=email, username=username,
                                 display_name=display_name, password=password, is_admin=admin)
    click.echo(f"user {row.email} added (username {row.username})")


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


@user.command("list")
@tenant_option
@click.option("--search", default="")
@pass_ctx
@handles_errors
def user_list(ctx, tenant, search) -> None:
    for row in users_service.list_users(ctx.store, ctx.tenant_id(tenant), search=search, limit=10000):
        state = "active" if row.active else "disabled"
        admin = "\tadmin" if row.is_admin else ""
        click.echo(f"{row.email}\t{row.username}\t{row.display_name}\t{state}{admin}")


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


@group.command("list")
@tenant_option
@pass_ctx
@handles_errors
def group_list(ctx, tenant) -> None:
    rows = groups_service.list_groups(ctx.store, ctx.tenant_id(tenant))
    names = {r.id: r.name for r in rows}
    for r in rows:
        click.echo(r.name + (f"\t(under {names.get(r.parent_id)})" if r.parent_id else ""))


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
    from ostiary.services import second_factor as second_factor_service

    @user.group("totp")
    def user_totp() -> None:
        """A user's second factor (TOTP and recovery codes)."""

    @user_totp.command("status")
    @click.argument("email")
    @tenant_option
    @pass_ctx
    @handles_errors
    def user_totp_status(ctx, email, tenant) -> None:
        tid = ctx.tenant_id(tenant)
        row = users_service.get_user(ctx.store, tid, email)
        enabled, left = second_factor_service.status(ctx.store, tid, row.id)
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
    @pass_ctx
    @handles_errors
    def user_second_factor_status(ctx, email, tenant) -> None:
        from ostiary.services import passkeys as passkeys_service

        tid = ctx.tenant_id(tenant)
        row = users_service.get_user(ctx.store, tid, email)
        enabled, left = second_factor_service.status(ctx.store, tid, row.id)
        keys = passkeys_service.list_passkeys(ctx.store, tid, row.id)
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
        from ostiary.services import passkeys as passkeys_service

        tid = ctx.tenant_id(tenant)
        row = users_service.get_user(ctx.store, tid, email)
        passkeys_service.remove(ctx.store, tid, row.id, passkey_id, CLI_ACTOR)
        click.echo(f"passkey {passkey_id} of {row.email} removed")


_register_user_totp()

