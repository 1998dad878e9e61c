"""Upstream identity providers (`ostiary provider ...`) and the tenant's
password switch (`ostiary tenant password-sign-in`). See
docs/identity-providers.md for what to register at each provider."""

from __future__ import annotations

import json

import click

from ostiary.cli.base import (
    Context, ExitCode, fail, handles_errors, json_option, main, pass_ctx, print_json, print_record, print_table,
    tenant_option,
)
from ostiary.cli.tenants import tenant as tenant_group
from ostiary.identity.presets import PRESETS
from ostiary.services.rules import providers as providers_service
from ostiary.services.rules import tenants as tenants_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.rules.providers import ProviderSettings


@main.group()
def provider() -> None:
    """Upstream sign-in providers: OpenID Connect (Google, Microsoft Entra ID, GitLab, any other) and GitHub."""


def _secret_ref(secret_file: str | None, secret_env: str | None) -> str | None:
    if secret_file and secret_env:
        fail("client_secret: give --client-secret-file or --client-secret-env, not both")
    if secret_file:
        from pathlib import Path

        return f"file:{Path(secret_file).resolve()}"
    return f"env:{secret_env}" if secret_env else None


def _claims(pairs: tuple[str, ...]) -> dict | None:
    if not pairs:
        return None
    claims = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            fail(f'claim: "{pair}" is not KEY=CLAIM, e.g. username=preferred_username or groups=roles')
        claims[key.strip()] = value.strip()
    return claims


def _settings(preset, display_name, issuer, directory, allowed_directory, client_id, secret_file, secret_env,
              scopes, claim, policy, create_domain, trust_domain, enabled=None, ldap=None) -> ProviderSettings:
    ldap = ldap or {}
    if ldap.get("bind_dn") is not None:
        client_id = ldap["bind_dn"]
    secret_file = secret_file or ldap.get("bind_password_file")
    secret_env = secret_env or ldap.get("bind_password_env")
    return ProviderSettings(
        start_tls=ldap.get("start_tls"), ca_file=ldap.get("ca_file"), user_base=ldap.get("user_base"),
        user_filter=ldap.get("user_filter"), group_base=ldap.get("group_base"), group_filter=ldap.get("group_filter"),
        preset=preset, display_name=display_name, issuer=issuer, directory=directory,
        allowed_directories=list(allowed_directory) or None, client_id=client_id,
        client_secret_ref=_secret_ref(secret_file, secret_env), scopes=scopes, claims=_claims(claim),
        account_policy=policy, create_domains=list(create_domain) or None, trusted_domains=list(trust_domain) or None,
        enabled=enabled)


def provider_options(fn):
    options = [
        click.option("--name", "display_name", default=None, help="The button's label (default: the preset's)."),
        click.option("--issuer", default=None, help="Issuer URL (OpenID discovery); GitHub Enterprise: its web URL."),
        click.option("--directory", default=None,
                     help="entra: the directory (tenant) id, or common / organizations with --allowed-directory."),
        click.option("--allowed-directory", multiple=True, help="entra common: a directory id admitted (repeat)."),
        click.option("--client-id", default=None),
        click.option("--client-secret-file", default=None, help="File the server reads the client secret from."),
        click.option("--client-secret-env", default=None, help="Environment variable holding the client secret."),
        click.option("--scopes", default=None, help='Space-separated, e.g. "openid email profile groups".'),
        click.option("--claim", multiple=True, metavar="KEY=CLAIM",
                     help="username, email, display_name or groups = the claim carrying it (repeat)."),
        click.option("--policy", type=click.Choice(["existing", "create"]), default=None,
                     help="existing: only people who have an account; create: also create accounts."),
        click.option("--create-domain", multiple=True, help="With --policy create: only for this email domain (repeat)."),
        click.option("--trust-domain", multiple=True,
                     help="Link existing users by a verified email in this domain (repeat)."),
        click.option("--bind-dn", default=None, help="ldap: the service account that searches (omit: anonymous)."),
        click.option("--bind-password-file", default=None, help="ldap: file the server reads the bind password from."),
        click.option("--bind-password-env", default=None, help="ldap: environment variable holding the bind password."),
        click.option("--start-tls/--no-start-tls", default=None, help="ldap: StartTLS on an ldap:// URL."),
        click.option("--ca-file", default=None, help="ldap: CA certificate file to verify the directory with."),
        click.option("--user-base", default=None, help="ldap: DN people are searched under."),
        click.option("--user-filter", default=None, help="ldap: filter with {login}, e.g. (uid={login})."),
        click.option("--group-base", default=None, help="ldap: DN groups are searched under (omit: memberOf)."),
        click.option("--group-filter", default=None, help="ldap: group filter with {dn}, default (member={dn})."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _redirect_uri(ctx: Context, tenant_id: int, name: str) -> str:
    base = tenants_service.get_base_domain(ctx.store)
    slug = next(t.slug for t in tenants_service.list_tenants(ctx.store) if t.id == tenant_id)
    host = tenants_service.tenant_host(base or "BASE_DOMAIN", slug)
    return ctx.settings.public_url(host, providers_service.redirect_path(name))


@provider.command("add")
@click.argument("name")
@click.option("--preset", type=click.Choice(list(PRESETS)), default="oidc", show_default=True)
@provider_options
@tenant_option
@pass_ctx
@handles_errors
def provider_add(ctx, name, preset, display_name, issuer, directory, allowed_directory, client_id,
                 client_secret_file, client_secret_env, scopes, claim, policy, create_domain, trust_domain,
                 tenant, **ldap) -> None:
    """Add a provider (or, with --preset ldap, a directory); prints the redirect URI to register at it."""
    tid = ctx.tenant_id(tenant)
    settings = _settings(preset, display_name, issuer, directory, allowed_directory, client_id, client_secret_file,
                         client_secret_env, scopes, claim, policy, create_domain, trust_domain, ldap=ldap)
    row = providers_service.add_provider(ctx.store, tid, CLI_ACTOR, name, settings, allow_http=ctx.settings.dev)
    click.echo(f"provider {row.name} added ({row.display_name})")
    if row.preset != "ldap":
        click.echo(f"register this redirect URI at the provider: {_redirect_uri(ctx, tid, row.name)}")


@provider.command("change")
@click.argument("name")
@provider_options
@click.option("--enable/--disable", "enabled", default=None)
@tenant_option
@pass_ctx
@handles_errors
def provider_change(ctx, name, display_name, issuer, directory, allowed_directory, client_id, client_secret_file,
                    client_secret_env, scopes, claim, policy, create_domain, trust_domain, enabled, tenant,
                    **ldap) -> None:
    """Change what is given; everything else stays."""
    settings = _settings(None, display_name, issuer, directory, allowed_directory, client_id, client_secret_file,
                         client_secret_env, scopes, claim, policy, create_domain, trust_domain, enabled, ldap=ldap)
    row = providers_service.update_provider(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, settings,
                                            allow_http=ctx.settings.dev)
    click.echo(f"provider {row.name} changed")


def _provider_out(ctx: Context, tenant_id: int, row):
    """The API's shape (ProviderOut): the secret's source, never the secret."""
    from types import SimpleNamespace

    from ostiary.portal.api.providers import ProviderOut

    return ProviderOut.of(SimpleNamespace(store=ctx.store, settings=ctx.settings, tenant_id=tenant_id), row)


@provider.command("list")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def provider_list(ctx, tenant, as_json) -> None:
    tid = ctx.tenant_id(tenant)
    rows = providers_service.list_providers(ctx.store, tid, limit=1_000_000)
    if as_json:
        return print_json([_provider_out(ctx, tid, row) for row in rows])
    print_table(["PROVIDER", "PRESET", "NAME", "ISSUER", "STATE"],
                [[r.name, r.preset, r.display_name, r.issuer, "enabled" if r.enabled else "disabled"] for r in rows],
                empty="no providers: add one with `ostiary provider add`")


@provider.command("show")
@click.argument("name")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def provider_show(ctx, name, tenant, as_json) -> None:
    """Everything about a provider but its secret (only where the server reads it from)."""
    tid = ctx.tenant_id(tenant)
    row = providers_service.get_provider(ctx.store, tid, name)
    if as_json:
        return print_json(_provider_out(ctx, tid, row))
    lines = [
        ("name", row.name), ("display name", row.display_name), ("preset", row.preset), ("issuer", row.issuer),
        ("client id", row.client_id), ("client secret from", row.client_secret_ref), ("scopes", row.scopes),
        ("claims", ", ".join(f"{k}={v}" for k, v in sorted(json.loads(row.claims).items()))),
        ("account policy", row.account_policy),
        ("creates accounts for", ", ".join(json.loads(row.create_domains)) or "any domain"),
        ("links verified emails in", ", ".join(json.loads(row.trusted_domains)) or "no domain"),
        ("allowed directories", ", ".join(json.loads(row.allowed_directories)) or "-"),
        ("enabled", "yes" if row.enabled else "no"),
    ]
    if row.preset == "ldap":
        lines += [(f"directory {k.replace('_', ' ')}", v) for k, v in sorted(json.loads(row.options).items())]
    else:
        lines.append(("redirect URI", _redirect_uri(ctx, tid, row.name)))
    for upstream, group in providers_service.mappings(ctx.store, tid, row.id):
        lines.append(("group mapping", f"{upstream} -> {group}"))
    print_record(lines)


@provider.command("remove")
@click.argument("name")
@tenant_option
@pass_ctx
@handles_errors
def provider_remove(ctx, name, tenant) -> None:
    links = providers_service.remove_provider(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name)
    click.echo(f"provider {name} removed, with {links} linked identit{'y' if links == 1 else 'ies'}; "
               "sessions already open stay until their users are signed out")


@provider.command("map")
@click.argument("name")
@click.argument("upstream_group")
@click.argument("group")
@click.option("--remove", is_flag=True, help="Remove the mapping instead.")
@tenant_option
@pass_ctx
@handles_errors
def provider_map(ctx, name, upstream_group, group, remove, tenant) -> None:
    """Members of UPSTREAM_GROUP at the provider are in GROUP here, re-applied at every sign-in."""
    providers_service.map_group(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, upstream_group, group, remove)
    click.echo(f"{upstream_group} at {name} " + ("no longer maps to" if remove else "maps to") + f" {group}")


@tenant_group.command("password-sign-in")
@click.argument("state", type=click.Choice(["on", "off"]))
@tenant_option
@pass_ctx
@handles_errors
def tenant_password_sign_in(ctx, state, tenant) -> None:
    """Off: people sign in only through providers; administrators keep their password (break-glass)."""
    tid = ctx.tenant_id(tenant)
    if state == "off" and providers_service.count_providers(ctx.store, tid) == 0:
        fail("password_sign_in: add a provider first (`ostiary provider add`): nobody but admins could sign in",
             ExitCode.CONFLICT)
    providers_service.set_password_sign_in(ctx.store, tid, CLI_ACTOR, state == "on")
    click.echo(f"password sign-in {state}" + ("; administrators can still sign in at /sign-in?with=password"
                                              if state == "off" else ""))


@tenant_group.command("second-factor")
@click.argument("policy", type=click.Choice(["off", "admins", "everyone"]))
@tenant_option
@pass_ctx
@handles_errors
def tenant_second_factor(ctx, policy, tenant) -> None:
    """Who must have a second factor (TOTP or a passkey): nobody, administrators, or everyone.
    A person without one sets it up right after their password, before any app (docs/sign-in.md)."""
    from ostiary.services.rules import tenants as tenants_service

    tenants_service.set_second_factor_policy(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, policy)
    click.echo(f"second factor policy: {policy}" + {
        "off": " (people who have one still pass it at every sign-in)",
        "admins": " (administrators without one set it up at their next sign-in)",
        "everyone": " (people without one set it up at their next sign-in)"}[policy])
