"""The `ostiary` command. Every command calls the service layer; bad input
ends with a message naming the field and the rule, exit status 2, and
nothing written."""

from __future__ import annotations

import sys
from functools import wraps
from pathlib import Path

import click

from ostiary.config import ConfigError, Settings, load_settings
from ostiary.services import apps as apps_service
from ostiary.services import domains as domains_service
from ostiary.services import groups as groups_service
from ostiary.services import keys as keys_service
from ostiary.services import sessions as sessions_service
from ostiary.services import tenants as tenants_service
from ostiary.services import users as users_service
from ostiary.services.actor import CLI_ACTOR
from ostiary.services.errors import InvalidInput, Problem, ServiceError
from ostiary.store import Store, open_store


class Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings.effective_database_url)
            self._store.migrate()
            keys_service.ensure_signing_key(self._store)
        return self._store

    def tenant_id(self, slug: str | None) -> int:
        return tenants_service.resolve_tenant(self.store, slug).id


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def handles_errors(fn):
    """Turns refusals into one clear message and exit status 2."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc))
        except InvalidInput as exc:
            fail("\n  ".join(["the input is not valid:", *(str(p) for p in exc.problems)]))
        except ServiceError as exc:
            fail(str(exc))

    return wrapper


pass_ctx = click.make_pass_decorator(Context, ensure=True)
tenant_option = click.option("--tenant", "tenant", default=None, help="Tenant slug (default: the only tenant).")


def read_secret_file(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{what}: cannot read {path}: {exc.strerror}")
    return text.rstrip("\r\n")


@click.group()
@click.version_option(package_name="ostiary")
def main() -> None:
    """Ostiary: single sign-on at the reverse proxy."""


# --- serving -------------------------------------------------------------

@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9090, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--no-migrate", is_flag=True, help="Refuse to start unless the schema is already current.")
@click.option("--server", type=click.Choice(["granian", "uvicorn"]), default="granian", show_default=True,
              help="granian for production; uvicorn for development.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Serve HTTPS directly with this certificate chain (PEM); usually the proxy terminates TLS.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None)
@pass_ctx
@handles_errors
def serve(ctx: Context, host: str, port: int, workers: int, no_migrate: bool, server: str,
          tls_cert: str | None, tls_key: str | None) -> None:
    """Serve Ostiary (SQLite under the data dir unless OSTIARY_DATABASE_URL is set)."""
    from ostiary.serving import run_server

    if bool(tls_cert) != bool(tls_key):
        fail("tls: pass both --tls-cert and --tls-key, or neither")
    run_server(ctx.settings, host=host, port=port, workers=workers, migrate=not no_migrate, server=server,
               tls=(tls_cert, tls_key) if tls_cert else None)


@main.command()
@pass_ctx
@handles_errors
def migrate(ctx: Context) -> None:
    """Bring the database schema up to date."""
    ctx.store  # opening migrates
    click.echo("the database schema is current")


@main.command()
@click.option("--base-domain", required=True, help="Tenant hosts are <slug>.<base-domain>.")
@click.option("--tenant", "slug", required=True)
@click.option("--admin-email", required=True)
@click.option("--admin-password-file", default=None, help="File holding the first admin's password ('-' for stdin).")
@pass_ctx
@handles_errors
def init(ctx: Context, base_domain: str, slug: str, admin_email: str, admin_password_file: str | None) -> None:
    """Set up a tenant, its base domain and a first admin. Safe to run again."""
    password = read_secret_file(admin_password_file, "admin_password_file")
    result = tenants_service.init_installation(ctx.store, base_domain, slug, admin_email, password, CLI_ACTOR)
    host = tenants_service.tenant_host(tenants_service.get_base_domain(ctx.store), result.tenant.slug)
    click.echo(f"tenant {result.tenant.slug}: {'created' if result.tenant_created else 'already there'}")
    click.echo(f"admin {admin_email}: {'created' if result.admin_created else 'already there'}")
    click.echo(f"sign in at {ctx.settings.public_url(host, '/sign-in')}")


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
@tenant_option
@pass_ctx
@handles_errors
def group_delete(ctx, name, tenant) -> None:
    groups_service.delete_group(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name)
    click.echo(f"group {name} deleted")


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


# --- domains ---------------------------------------------------------------

@main.group()
def domain() -> None:
    """Protected domains and their DNS verification."""


@domain.command("add")
@click.argument("name")
@click.option("--portal-host", required=True)
@tenant_option
@pass_ctx
@handles_errors
def domain_add(ctx, name, portal_host, tenant) -> None:
    row = domains_service.add_domain(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, portal_host)
    record, value = domains_service.txt_record(row)
    click.echo(f"domain {row.name} added with portal host {row.portal_host}; status {row.status}")
    click.echo("create this DNS TXT record, then run `ostiary domain verify " + row.name + "`:")
    click.echo(f"  {record}  TXT  \"{value}\"")


@domain.command("verify")
@click.argument("name")
@tenant_option
@pass_ctx
@handles_errors
def domain_verify(ctx, name, tenant) -> None:
    from ostiary.dns.verification import parse_resolvers

    resolvers = parse_resolvers(ctx.settings.dns_resolvers) if ctx.settings.dns_resolvers else None
    row = domains_service.verify_domain(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, resolvers,
                                        ctx.settings.dns_timeout)
    click.echo(f"domain {row.name}: {row.status}: {row.status_reason}")
    if row.status != "verified":
        sys.exit(1)


@domain.command("list")
@tenant_option
@pass_ctx
@handles_errors
def domain_list(ctx, tenant) -> None:
    import datetime

    for row in domains_service.list_domains(ctx.store, ctx.tenant_id(tenant)):
        state = row.status
        if row.flagged_at is not None and row.status == "verified":
            since = datetime.datetime.fromtimestamp(row.flagged_at, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            state = f"verified, flagged since {since}"
        click.echo(f"{row.name}\tportal {row.portal_host}\t{state}\t{row.status_reason}")


# --- apps ------------------------------------------------------------------

@main.group()
def app() -> None:
    """Proxy apps: where they live and who may enter."""


@app.command("add")
@click.argument("name")
@click.option("--url", required=True, help="External URL, e.g. https://grafana.acme-corp.com")
@click.option("--public-path", "public_paths", multiple=True, help="Path open to all: /exact or /prefix/*")
@click.option("--headers", default=None, help="Identity headers to send: user,email,groups,display_name or none")
@click.option("--all", "all_users", is_flag=True, help="Every user of the tenant may enter.")
@click.option("--group", "groups_granted", multiple=True, help="A group whose members (and subgroups) may enter.")
@click.option("--require-2fa", is_flag=True)
@tenant_option
@pass_ctx
@handles_errors
def app_add(ctx, name, url, public_paths, headers, all_users, groups_granted, require_2fa, tenant) -> None:
    row = apps_service.add_app(
        ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name=name, url=url, public_paths=public_paths, headers=headers,
        all_users=all_users, groups_granted=groups_granted, require_2fa=require_2fa, allow_http=ctx.settings.dev,
    )
    click.echo(f"app {row.name} added at {row.url}")
    if not all_users and not groups_granted:
        click.echo("note: no one may enter yet: grant a group with `ostiary app grant` or use --all")


def _app_toggle(name: str, **values):
    @app.command(name)
    @click.argument("app_name")
    @tenant_option
    @pass_ctx
    @handles_errors
    def command(ctx, app_name, tenant) -> None:
        apps_service.update_app(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, app_name, **values)
        click.echo(f"app {app_name}: {name}d")

    command.__doc__ = f"{name.capitalize()} an app."
    return command


_app_toggle("enable", enabled=True)
_app_toggle("disable", enabled=False)


@app.command("grant")
@click.argument("app_name")
@click.argument("group_name")
@tenant_option
@pass_ctx
@handles_errors
def app_grant(ctx, app_name, group_name, tenant) -> None:
    apps_service.grant(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, app_name, group_name)
    click.echo(f"members of {group_name} (and its subgroups) may enter {app_name}")


@app.command("revoke")
@click.argument("app_name")
@click.argument("group_name")
@tenant_option
@pass_ctx
@handles_errors
def app_revoke(ctx, app_name, group_name, tenant) -> None:
    apps_service.revoke(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, app_name, group_name)
    click.echo(f"{group_name} no longer grants {app_name}")


@app.command("list")
@tenant_option
@pass_ctx
@handles_errors
def app_list(ctx, tenant) -> None:
    tid = ctx.tenant_id(tenant)
    for row in apps_service.list_apps(ctx.store, tid):
        who = "all users" if row.all_users else ", ".join(apps_service.app_grant_names(ctx.store, tid, row.id)) or "no one"
        click.echo(f"{row.name}\t{row.url}\t{'enabled' if row.enabled else 'disabled'}\t{who}")


def _external_identity_options(fn):
    for option in reversed([
        click.option("--sign-in-url", default=None, help="The chat's sign-in page, e.g. https://chat.example.com/login"),
        click.option("--cookie", "cookie_name", default="refreshToken", show_default=True),
        click.option("--secret-env", default=None, help="Environment variable holding the secret [JWT_REFRESH_SECRET]"),
        click.option("--secret-file", default=None, help="File holding the secret (instead of --secret-env)."),
        click.option("--user-claim", default="id", show_default=True),
        click.option("--require-claim", "required_claims", multiple=True, help="Repeat; default: id and sessionId."),
        click.option("--off", is_flag=True, help="Go back to Ostiary's own handshake."),
    ]):
        fn = option(fn)
    return fn


def _external_settings(sign_in_url, cookie_name, secret_env, secret_file, user_claim, required_claims, off):
    from ostiary.sharedcookie.source_config import ExternalIdentitySettings

    if off:
        return None
    if not sign_in_url:
        raise InvalidInput([Problem("sign_in_url", "is required (or pass --off): the chat's sign-in page")])
    return ExternalIdentitySettings(
        sign_in_url=sign_in_url, cookie_name=cookie_name,
        secret_env=None if secret_file else (secret_env or "JWT_REFRESH_SECRET"), secret_file=secret_file,
        user_id_claim=user_claim, required_claims=tuple(required_claims) or ("id", "sessionId"),
    )


@app.command("external-identity")
@click.argument("app_name")
@_external_identity_options
@tenant_option
@pass_ctx
@handles_errors
def app_external_identity(ctx, app_name, tenant, **options) -> None:
    """Take identity for APP from a chat's JWT cookie (LibreChat defaults)."""
    from ostiary.services import external_identity

    settings = _external_settings(**options)
    external_identity.set_for_app(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, app_name, settings,
                                  allow_http=ctx.settings.dev)
    click.echo(f"app {app_name}: " + ("identity from the cookie " + settings.cookie_name if settings
                                      else "identity from Ostiary's handshake"))


@domain.command("external-identity")
@click.argument("domain_name")
@_external_identity_options
@tenant_option
@pass_ctx
@handles_errors
def domain_external_identity(ctx, domain_name, tenant, **options) -> None:
    """Take identity for every app of DOMAIN from a chat's JWT cookie."""
    from ostiary.services import external_identity

    settings = _external_settings(**options)
    external_identity.set_for_domain(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, domain_name, settings,
                                     allow_http=ctx.settings.dev)
    click.echo(f"domain {domain_name}: " + ("identity from the cookie " + settings.cookie_name if settings
                                            else "identity from Ostiary's handshake"))


# --- sessions and keys -------------------------------------------------------

@main.group()
def session() -> None:
    """Central sessions: who is signed in, and ending them."""


@session.command("list")
@click.option("--user", "email", default=None)
@tenant_option
@pass_ctx
@handles_errors
def session_list(ctx, email, tenant) -> None:
    tid = ctx.tenant_id(tenant)
    uid = users_service.get_user(ctx.store, tid, email).id if email else None
    for row in sessions_service.list_sessions(ctx.store, tid, user_id=uid):
        click.echo(f"{row.id}\tuser {row.user_id}\tfrom {row.client_addr or '?'}")


@session.command("revoke")
@click.argument("session_id", required=False)
@click.option("--user", "email", default=None, help="End every session of this user.")
@tenant_option
@pass_ctx
@handles_errors
def session_revoke(ctx, session_id, email, tenant) -> None:
    if bool(session_id) == bool(email):
        raise InvalidInput([Problem("session", "name one session ID or --user EMAIL, not both or neither")])
    tid = ctx.tenant_id(tenant)
    if email:
        user_row = users_service.get_user(ctx.store, tid, email)
        count = sessions_service.end_user_sessions(ctx.store, tid, user_row.id, "revoked by admin", CLI_ACTOR)
        click.echo(f"{count} session(s) of {email} ended")
    else:
        sessions_service.get_session(ctx.store, tid, session_id)
        ended = sessions_service.end_session(ctx.store, tid, session_id, "revoked by admin", CLI_ACTOR)
        click.echo(f"session {session_id} " + ("ended" if ended else "had already ended"))


@main.group()
def keys() -> None:
    """Signing keys for forward-auth cookies and handshake tokens."""


@keys.command("rotate")
@pass_ctx
@handles_errors
def keys_rotate(ctx) -> None:
    kid = keys_service.rotate_keys(ctx.store, CLI_ACTOR, ctx.settings.key_overlap_seconds)
    click.echo(f"key {kid} now signs; older keys verify for {ctx.settings.key_overlap_seconds} s more")


@keys.command("list")
@pass_ctx
@handles_errors
def keys_list(ctx) -> None:
    for row in keys_service.list_keys(ctx.store):
        click.echo(f"{row.id}\t{'signing' if row.retire_at is None else f'verifies until {row.retire_at:.0f}'}")


# --- API tokens and the audit log ---------------------------------------------

@main.group()
def token() -> None:
    """Bearer tokens for the JSON API (/api/v1)."""


@token.command("add")
@click.argument("name")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True,
              help="write includes read")
@click.option("--expires-in-days", type=int, default=None)
@tenant_option
@pass_ctx
@handles_errors
def token_add(ctx, name, scope, expires_in_days, tenant) -> None:
    from ostiary.services import api_tokens

    new = api_tokens.create_token(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, scope, expires_in_days)
    click.echo(f"token {new.row.id} ({new.row.name}, {new.row.scopes}) — shown once, store it now:")
    click.echo(new.token)


@token.command("list")
@tenant_option
@pass_ctx
@handles_errors
def token_list(ctx, tenant) -> None:
    from ostiary.services import api_tokens

    for row in api_tokens.tokens_page(ctx.store, ctx.tenant_id(tenant), limit=500).items:
        state = "revoked" if row.revoked_at else "live"
        click.echo(f"{row.id}\t{row.name}\t{row.scopes}\t{state}\tby {row.created_by}")


@token.command("revoke")
@click.argument("token_id", type=int)
@tenant_option
@pass_ctx
@handles_errors
def token_revoke(ctx, token_id, tenant) -> None:
    from ostiary.services import api_tokens

    api_tokens.revoke_token(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, token_id)
    click.echo(f"token {token_id} revoked")


@main.command()
@click.option("--actor", default="")
@click.option("--entity", default="", help="user, group, domain, app, session, token, key, tenant")
@click.option("--action", default="", help="e.g. user.disable, or a prefix such as app.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@tenant_option
@pass_ctx
@handles_errors
def audit(ctx, actor, entity, action, limit, tenant) -> None:
    """The audit log, newest first: who changed what, when and from where."""
    import datetime

    from ostiary.services.audit import audit_page

    page = audit_page(ctx.store, ctx.tenant_id(tenant), actor=actor, entity=entity, action=action, limit=limit)
    for e in page.items:
        at = datetime.datetime.fromtimestamp(e.at, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{at}\t{e.actor}\t{e.actor_addr or '-'}\t{e.action}\t{e.entity} {e.entity_id}")
    click.echo(f"({len(page.items)} of {page.total})")


# --- commands whose capability lands later ---------------------------------------

@main.command()
@click.argument("app_name")
@click.option("--proxy", type=click.Choice(["caddy", "traefik", "traefik-labels", "nginx"]), required=True)
@click.option("--upstream", default=None, help="Where the proxy reaches the app, e.g. http://grafana:3000 "
              "(default: a placeholder to replace).")
@tenant_option
@pass_ctx
@handles_errors
def snippet(ctx, app_name, proxy, upstream, tenant) -> None:
    """Print the proxy configuration for an app."""
    from ostiary.services.snippets import snippet_for_app

    text = snippet_for_app(ctx.store, ctx.settings, ctx.tenant_id(tenant), app_name, proxy, upstream=upstream)
    click.echo(text, nl=False)


@main.command()
@click.argument("domain_name", required=False)
@tenant_option
@pass_ctx
@handles_errors
def doctor(ctx, domain_name, tenant) -> None:
    """Check domains and apps for what would break sign-in."""
    from ostiary.services.doctor import run_doctor

    sys.exit(run_doctor(ctx.store, ctx.settings, ctx.tenant_id(tenant), domain_name, click.echo))


def _register_cookie_doctor() -> None:
    from ostiary.sharedcookie.cli import cookie_doctor_command

    main.add_command(cookie_doctor_command, "cookie-doctor")


_register_cookie_doctor()


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
        """Turn the second factor off (a lost device); the user enrols again at next need."""
        tid = ctx.tenant_id(tenant)
        row = users_service.get_user(ctx.store, tid, email)
        second_factor_service.reset(ctx.store, tid, row.id, CLI_ACTOR)
        click.echo(f"second factor of {row.email} turned off; recovery codes removed")


_register_user_totp()


def _register_demo() -> None:
    from ostiary.demo import demo_command

    main.add_command(demo_command, "demo")


_register_demo()
