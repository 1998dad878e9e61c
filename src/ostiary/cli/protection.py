"""Protected domains, proxy apps, external identity sources, snippets and `ostiary doctor`."""

from __future__ import annotations

import os
import sys

import click

from ostiary.cli.base import (
    ExitCode, handles_errors, json_option, main, pass_ctx, print_json, print_record, print_table, tenant_option, utc,
    waiting,
)
from ostiary.proxies import PROXIES
from ostiary.services import admin_views
from ostiary.services import apps as apps_service
from ostiary.services import domains as domains_service
from ostiary.services.actor import CLI_ACTOR
from ostiary.services import groups as groups_service
from ostiary.services.errors import InvalidInput, NotFound, Problem


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
               f"{utc(domains_service.expires_at(row))} (an unverified registration then expires):")
    click.echo(f"  {record}  TXT  \"{value}\"")


@domain.command("verify")
@click.argument("name")
@tenant_option
@pass_ctx
@handles_errors
def domain_verify(ctx, name, tenant) -> None:
    from ostiary.dns.verification import parse_resolvers

    resolvers = parse_resolvers(ctx.settings.dns_resolvers) if ctx.settings.dns_resolvers else None
    tid = ctx.tenant_id(tenant)
    record, _ = domains_service.txt_record(domains_service.get_domain(ctx.store, tid, name))
    asked = ", ".join(f"{host}:{port}" for host, port in resolvers) if resolvers else "the system's resolvers"
    waiting(f"looking up the TXT record {record} at {asked} (up to {ctx.settings.dns_timeout:g} s)")
    try:
        row = domains_service.verify_domain(ctx.store, tid, CLI_ACTOR, name, resolvers, ctx.settings.dns_timeout)
    except domains_service.DnsUnanswered as exc:
        # A timeout proves nothing about the record: say so, and leave the domain as it was.
        click.echo(f"domain {exc.domain.name}: learned nothing, nothing changed: {exc}")
        sys.exit(ExitCode.FAILURE)
    click.echo(f"domain {row.name}: {row.status}: {row.status_reason}")
    if row.status != "verified":
        sys.exit(ExitCode.FAILURE)


@domain.command("delete")
@click.argument("name")
@tenant_option
@pass_ctx
@handles_errors
def domain_delete(ctx, name, tenant) -> None:
    """Delete a protected domain (a pending registration, say); refused while apps use it."""
    domains_service.delete_domain(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name)
    click.echo(f"domain {name} deleted")


def _domain_out(row) -> dict:
    from ostiary.portal.api.models import DomainOut

    out = DomainOut.of(row).model_dump(mode="json")
    out["expires_at"] = domains_service.expires_at(row)
    return out


def _domain_state(row) -> str:
    state = row.status
    if row.flagged_at is not None and row.status == "verified":
        state = f"verified, flagged since {utc(row.flagged_at)}"
    expires = domains_service.expires_at(row)
    if expires is not None:
        state = f"{state}, expires {utc(expires)} unless verified"
    return state


@domain.command("list")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def domain_list(ctx, tenant, as_json) -> None:
    rows = domains_service.list_domains(ctx.store, ctx.tenant_id(tenant), limit=1_000_000)
    if as_json:
        return print_json([_domain_out(row) for row in rows])
    print_table(["DOMAIN", "PORTAL HOST", "STATE", "REASON"],
                [[row.name, row.portal_host, _domain_state(row), row.status_reason] for row in rows],
                empty="no protected domains: add one with `ostiary domain add`")


@domain.command("show")
@click.argument("name")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def domain_show(ctx, name, tenant, as_json) -> None:
    """A protected domain: its state, the TXT record that verifies it, and its apps."""
    tid = ctx.tenant_id(tenant)
    row = domains_service.get_domain(ctx.store, tid, name)
    out = _domain_out(row)
    out["apps"] = [a.name for a in apps_service.list_apps(ctx.store, tid, limit=1_000_000) if a.domain_id == row.id]
    if as_json:
        return print_json(out)
    print_record([("domain", row.name), ("portal host", row.portal_host), ("state", _domain_state(row)),
                  ("reason", row.status_reason), ("TXT record", f'{out["txt_name"]}  TXT  "{out["txt_value"]}"'),
                  ("verified", utc(row.verified_at)), ("last checked", utc(row.last_checked_at)),
                  ("apps", out["apps"])])


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


def _app_out(summary) -> dict:
    from ostiary.portal.api.models import AppOut

    return AppOut.of(summary).model_dump(mode="json")


def _who(out: dict) -> str:
    return "all users" if out["all_users"] else ", ".join(out["groups"]) or "no one"


@app.command("list")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def app_list(ctx, tenant, as_json) -> None:
    tid = ctx.tenant_id(tenant)
    views, offset = [], 0
    while offset is not None:  # every app, a page at a time
        page = admin_views.apps_page(ctx.store, tid, limit=500, offset=offset)
        views += [_app_out(s) for s in page.items]
        offset = page.next_offset
    if as_json:
        return print_json(views)
    print_table(["APP", "URL", "STATE", "2FA", "WHO MAY ENTER"],
                [[v["name"], v["url"], "enabled" if v["enabled"] else "disabled", v["require_2fa"], _who(v)]
                 for v in views], empty="no proxy apps: add one with `ostiary app add`")


@app.command("show")
@click.argument("app_name")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def app_show(ctx, app_name, tenant, as_json) -> None:
    """An app: where it lives, what is public, which headers it gets and who may enter."""
    out = _app_out(admin_views.app_summary(ctx.store, ctx.tenant_id(tenant), app_name))
    if as_json:
        return print_json(out)
    print_record([("app", out["name"]), ("url", out["url"]), ("domain", out["domain"]),
                  ("state", "enabled" if out["enabled"] else "disabled"),
                  ("second factor required", out["require_2fa"]), ("public paths", out["public_paths"]),
                  ("identity headers", out["headers"] or "none"), ("who may enter", _who(out))])


@app.command("change")
@click.argument("app_name")
@click.option("--url", default=None, help="A new external URL (under a protected domain of the tenant).")
@click.option("--public-path", "public_paths", multiple=True,
              help="Path open to all: /exact or /prefix/* (repeat; replaces the list).")
@click.option("--no-public-paths", is_flag=True, help="Make no path public.")
@click.option("--headers", default=None, help="Identity headers to send: user,email,groups,display_name or none")
@click.option("--all/--not-all", "all_users", default=None,
              help="Every user of the tenant may enter (or, --not-all, only the granted groups).")
@click.option("--require-2fa/--no-require-2fa", "require_2fa", default=None,
              help="Every visitor must have passed a second factor.")
@click.option("--grant", "grants", multiple=True, help="Also let this group (and its subgroups) enter (repeat).")
@click.option("--revoke", "revokes", multiple=True, help="No longer let this group enter (repeat).")
@tenant_option
@pass_ctx
@handles_errors
def app_change(ctx, app_name, url, public_paths, no_public_paths, headers, all_users, require_2fa, grants, revokes,
               tenant) -> None:
    """Change what is given; everything else stays."""
    tid = ctx.tenant_id(tenant)
    if public_paths and no_public_paths:
        raise InvalidInput([Problem("public_paths", "give --public-path or --no-public-paths, not both")])
    # Every group named must be there, and every revoked grant too, before anything is written.
    summary = admin_views.app_summary(ctx.store, tid, app_name)
    for group_name in grants:
        groups_service.get_group(ctx.store, tid, group_name)
    for group_name in revokes:
        if groups_service.get_group(ctx.store, tid, group_name).name not in summary.grants:
            raise NotFound(f'revoke: "{group_name}" has no grant on "{summary.app.name}"')
    if not any((url, public_paths, no_public_paths, headers is not None, all_users is not None,
                require_2fa is not None, grants, revokes)):
        raise InvalidInput([Problem("app", "nothing to change: see `ostiary app change --help`")])
    paths = [] if no_public_paths else (list(public_paths) if public_paths else None)
    apps_service.update_app(ctx.store, tid, CLI_ACTOR, app_name, url=url, public_paths=paths, headers=headers,
                            all_users=all_users, require_2fa=require_2fa, allow_http=ctx.settings.dev)
    for group_name in grants:
        apps_service.grant(ctx.store, tid, CLI_ACTOR, app_name, group_name)
    for group_name in revokes:
        apps_service.revoke(ctx.store, tid, CLI_ACTOR, app_name, group_name)
    out = _app_out(admin_views.app_summary(ctx.store, tid, summary.app.id))
    click.echo(f"app {out['name']} changed: {out['url']}, {'second factor required, ' if out['require_2fa'] else ''}"
               f"who may enter: {_who(out)}")


@app.command("delete")
@click.argument("app_name")
@tenant_option
@pass_ctx
@handles_errors
def app_delete(ctx, app_name, tenant) -> None:
    """Delete an app and its grants; the gate stops answering for its URL within a second."""
    apps_service.delete_app(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, app_name)
    click.echo(f"app {app_name} deleted")


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

    sys.exit(run_doctor(ctx.store, ctx.settings, ctx.tenant_id(tenant), domain_name, click.echo, progress=waiting))
