"""Protected domains, proxy apps, external identity sources, snippets and `ostiary doctor`."""

from __future__ import annotations

import os
import sys

import click

from ostiary.cli.base import handles_errors, main, pass_ctx, tenant_option
from ostiary.proxies import PROXIES
from ostiary.services import apps as apps_service
from ostiary.services import domains as domains_service
from ostiary.services.actor import CLI_ACTOR
from ostiary.services.errors import InvalidInput, Problem


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
    click.echo(f"create this DNS TXT record, then run `ostiary domain verify {row.name}` before "
               f"{_utc(domains_service.expires_at(row))} (an unverified registration then expires):")
    click.echo(f"  {record}  TXT  \"{value}\"")


@domain.command("verify")
@click.argument("name")
@tenant_option
@pass_ctx
@handles_errors
def domain_verify(ctx, name, tenant) -> None:
    from ostiary.dns.verification import parse_resolvers

    resolvers = parse_resolvers(ctx.settings.dns_resolvers) if ctx.settings.dns_resolvers else None
    try:
        row = domains_service.verify_domain(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, resolvers,
                                            ctx.settings.dns_timeout)
    except domains_service.DnsUnanswered as exc:
        # A timeout proves nothing about the record: say so, and leave the domain as it was.
        click.echo(f"domain {exc.domain.name}: learned nothing, nothing changed: {exc}")
        sys.exit(1)
    click.echo(f"domain {row.name}: {row.status}: {row.status_reason}")
    if row.status != "verified":
        sys.exit(1)


@domain.command("delete")
@click.argument("name")
@tenant_option
@pass_ctx
@handles_errors
def domain_delete(ctx, name, tenant) -> None:
    """Delete a protected domain (a pending registration, say); refused while apps use it."""
    domains_service.delete_domain(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name)
    click.echo(f"domain {name} deleted")


def _utc(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


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
        expires = domains_service.expires_at(row)
        if expires is not None:
            state = f"{state}, expires {_utc(expires)} unless verified"
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
@click.option("--require-2fa", is_flag=True, help="Only sessions that passed a second factor may enter.")
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


@app.command("update")
@click.argument("app_name")
@click.option("--url", default=None, help="Move the app to a new external URL.")
@click.option("--public-path", "public_paths", multiple=True, help="Replace the public paths (repeat; --no-public-paths clears).")
@click.option("--no-public-paths", is_flag=True, help="The app has no public path any more.")
@click.option("--headers", default=None, help="Identity headers to send: user,email,groups,display_name or none")
@click.option("--all/--not-all", "all_users", default=None, help="Every user of the tenant may enter, or only granted groups.")
@click.option("--require-2fa/--no-require-2fa", "require_2fa", default=None,
              help="Only sessions that passed a second factor may enter (docs/sign-in.md).")
@tenant_option
@pass_ctx
@handles_errors
def app_update(ctx, app_name, url, public_paths, no_public_paths, headers, all_users, require_2fa, tenant) -> None:
    """Change an app; what is not given stays as it is."""
    paths = [] if no_public_paths else (list(public_paths) if public_paths else None)
    row = apps_service.update_app(
        ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, app_name, public_paths=paths, headers=headers,
        all_users=all_users, require_2fa=require_2fa, url=url, allow_http=ctx.settings.dev,
    )
    click.echo(f"app {row.name} updated: {row.url}, "
               f"{'a second factor required' if row.require_2fa else 'no second factor required'}")


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


def _warn_secret_unseen(settings) -> None:
    """The servers, not this shell, must hold the secret: say so when this shell cannot check it."""
    from ostiary.services import external_identity

    missing = settings and external_identity.secret_missing_here(settings, os.environ)
    if missing:
        click.echo(f"warning: {missing}, so its value was not checked. Every `ostiary serve` must have it, "
                   "or the app answers 503; /readyz and `ostiary doctor` (run with the servers' environment) "
                   "name the app until it is fixed.", err=True)


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
                                  allow_http=ctx.settings.dev, environ=os.environ)
    _warn_secret_unseen(settings)
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
                                     allow_http=ctx.settings.dev, environ=os.environ)
    _warn_secret_unseen(settings)
    click.echo(f"domain {domain_name}: " + ("identity from the cookie " + settings.cookie_name if settings
                                            else "identity from Ostiary's handshake"))


# --- proxy configuration and diagnostics ------------------------------------------

@main.command()
@click.argument("app_name", required=False)
@click.option("--proxy", type=click.Choice(PROXIES), required=True)
@click.option("--upstream", default=None, help="Where the proxy reaches the app, e.g. http://grafana:3000 "
              "(default: a placeholder to replace).")
@click.option("--ostiary", "for_ostiary", is_flag=True,
              help="Print the configuration for Ostiary's own hosts (tenant and portal hosts) instead of an app's.")
@tenant_option
@pass_ctx
@handles_errors
def snippet(ctx, app_name, proxy, upstream, for_ostiary, tenant) -> None:
    """Print the proxy configuration for an app, or with --ostiary for Ostiary itself."""
    from ostiary.services.snippets import ostiary_hosts_config, snippet_for_app

    if for_ostiary == bool(app_name):
        raise click.UsageError("name an APP_NAME, or give --ostiary for Ostiary's own hosts (not both)")
    if for_ostiary:
        text = ostiary_hosts_config(ctx.store, ctx.settings, ctx.tenant_id(tenant), proxy)
    else:
        text = snippet_for_app(ctx.store, ctx.settings, ctx.tenant_id(tenant), app_name, proxy, upstream=upstream)
    click.echo(text, nl=False)


@main.command("proxy-files")
@click.argument("directory", type=click.Path(file_okay=False))
def proxy_files(directory) -> None:
    """Write the files the proxies load into DIRECTORY: HAProxy's Lua action
    (ostiary_forward_auth.lua) and Traefik's local plugin (plugins-local/...)."""
    from pathlib import Path

    from ostiary.proxies import haproxy, traefik

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    (target / haproxy.LUA_FILE).write_text(haproxy.lua_script(), encoding="utf-8")
    plugin = traefik.write_plugin(target)
    click.echo(f"wrote {target / haproxy.LUA_FILE} (HAProxy) and {plugin} (Traefik: run Traefik in {target})")


@main.command()
@click.argument("domain_name", required=False)
@tenant_option
@pass_ctx
@handles_errors
def doctor(ctx, domain_name, tenant) -> None:
    """Check domains and apps for what would break sign-in."""
    from ostiary.services.doctor import run_doctor

    sys.exit(run_doctor(ctx.store, ctx.settings, ctx.tenant_id(tenant), domain_name, click.echo))
