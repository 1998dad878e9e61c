"""Protected domains, shared-cookie identity sources, snippets and `ostiary doctor` (proxy apps: cli/apps.py)."""

from __future__ import annotations

import copy
import os
import sys

import click

from ostiary.cli.apps import app
from ostiary.cli.base import (
    ExitCode, handles_errors, json_option, main, pass_ctx, print_json, print_record, print_table, tenant_option, utc,
    waiting,
)
from ostiary.dns.status import DomainStatus
from ostiary.proxies import PROXIES
from ostiary.services.rules import apps as apps_service
from ostiary.services.rules import domains as domains_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import InvalidInput, Problem


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
    from ostiary.dns.resolvers import format_resolvers

    resolvers = ctx.settings.dns_resolvers
    tid = ctx.tenant_id(tenant)
    record, _ = domains_service.txt_record(domains_service.get_domain(ctx.store, tid, name))
    asked = format_resolvers(resolvers)
    waiting(f"looking up the TXT record {record} at {asked} (up to {ctx.settings.dns_timeout:g} s)")
    try:
        row = domains_service.verify_domain(ctx.store, tid, CLI_ACTOR, name, resolvers, ctx.settings.dns_timeout)
    except domains_service.DnsUnanswered as exc:
        # A timeout proves nothing about the record: say so, and leave the domain as it was.
        click.echo(f"domain {exc.domain.name}: learned nothing, nothing changed: {exc}")
        sys.exit(ExitCode.FAILURE)
    click.echo(f"domain {row.name}: {row.status}: {row.status_reason}")
    if row.status != DomainStatus.VERIFIED:
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
    if row.flagged_at is not None and row.status == DomainStatus.VERIFIED:
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


def _shared_cookie_options(fn):
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


def _shared_cookie_settings(sign_in_url, cookie_name, secret_env, secret_file, user_claim, required_claims, off):
    from ostiary.sharedcookie.verifier.source_config import SharedCookieSettings

    if off:
        return None
    if not sign_in_url:
        raise InvalidInput([Problem("sign_in_url", "is required (or pass --off): the chat's sign-in page")])
    return SharedCookieSettings(
        sign_in_url=sign_in_url, cookie_name=cookie_name,
        secret_env=None if secret_file else (secret_env or "JWT_REFRESH_SECRET"), secret_file=secret_file,
        user_id_claim=user_claim, required_claims=tuple(required_claims) or ("id", "sessionId"),
    )


def _warn_secret_unseen(settings) -> None:
    """The servers, not this shell, must hold the secret: say so when this shell cannot check it."""
    from ostiary.services.rules import shared_cookie

    missing = settings and shared_cookie.secret_missing_here(settings, os.environ)
    if missing:
        click.echo(f"warning: {missing}, so its value was not checked. Every `ostiary serve` must have it, "
                   "or the app answers 503; /readyz and `ostiary doctor` (run with the servers' environment) "
                   "name the app until it is fixed.", err=True)


def _keep_old_name(group: click.Group, command: click.Command, old_name: str) -> None:
    """The command's name from before a rename keeps working, hidden from --help (docs/upgrading.md)."""
    alias = copy.copy(command)
    alias.name, alias.hidden = old_name, True
    group.add_command(alias, old_name)


@app.command("shared-cookie")
@click.argument("app_name")
@_shared_cookie_options
@tenant_option
@pass_ctx
@handles_errors
def app_shared_cookie(ctx, app_name, tenant, **options) -> None:
    """Take identity for APP from the chat's shared cookie (LibreChat defaults)."""
    from ostiary.services.rules import shared_cookie

    settings = _shared_cookie_settings(**options)
    shared_cookie.set_for_app(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, app_name, settings,
                              allow_http=ctx.settings.dev, environ=os.environ)
    _warn_secret_unseen(settings)
    click.echo(f"app {app_name}: " + ("identity from the cookie " + settings.cookie_name if settings
                                      else "identity from Ostiary's handshake"))


@domain.command("shared-cookie")
@click.argument("domain_name")
@_shared_cookie_options
@tenant_option
@pass_ctx
@handles_errors
def domain_shared_cookie(ctx, domain_name, tenant, **options) -> None:
    """Take identity for every app of DOMAIN from the chat's shared cookie."""
    from ostiary.services.rules import shared_cookie

    settings = _shared_cookie_settings(**options)
    shared_cookie.set_for_domain(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, domain_name, settings,
                                 allow_http=ctx.settings.dev, environ=os.environ)
    _warn_secret_unseen(settings)
    click.echo(f"domain {domain_name}: " + ("identity from the cookie " + settings.cookie_name if settings
                                            else "identity from Ostiary's handshake"))


_keep_old_name(app, app_shared_cookie, "external-identity")
_keep_old_name(domain, domain_shared_cookie, "external-identity")


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
    from ostiary.services.queries.snippets import ostiary_hosts_config, snippet_for_app

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
@json_option
@pass_ctx
@handles_errors
def doctor(ctx, domain_name, tenant, as_json) -> None:
    """Check domains and apps for what would break sign-in."""
    from ostiary.services.queries.sign_in_doctor import run_doctor

    if not as_json:
        sys.exit(run_doctor(ctx.store, ctx.settings, ctx.tenant_id(tenant), domain_name, click.echo, progress=waiting))
    findings: list[dict] = []
    status = run_doctor(ctx.store, ctx.settings, ctx.tenant_id(tenant), domain_name, lambda _text: None,
                        progress=waiting, found=lambda line: findings.append({"subject": line.subject,
                                                                            **line.finding.__dict__}))
    print_json({"breaks_sign_in": status != 0, "findings": findings})
    sys.exit(status)
