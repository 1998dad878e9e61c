"""`ostiary oidc-client` and `ostiary oidc-key`: the OpenID Connect issuer's
clients and signing keys (docs/oidc-provider.md)."""

from __future__ import annotations

import json

import click

from ostiary.cli.base import handles_errors, json_option, main, pass_ctx, print_json, print_table, tenant_option
from ostiary.issuer import clients as clients_service
from ostiary.issuer import keys as keys_service
from ostiary.services.base.actor import CLI_ACTOR


@main.group("oidc-client")
def oidc_client() -> None:
    """Apps that sign people in through Ostiary's OpenID Connect issuer."""


def _lifetimes(fn):
    fn = click.option("--access-token-seconds", type=int, default=None,
                      help="Access and ID token lifetime (60-86400; default 3600).")(fn)
    return click.option("--refresh-token-seconds", type=int, default=None,
                        help="Refresh token lifetime (300-31536000; default 30 days).")(fn)


@oidc_client.command("add")
@click.argument("name")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help="Where the app receives the sign-in; matched exactly. Repeat for more.")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="Where end-session may send the browser back to; matched exactly.")
@click.option("--backchannel-logout-uri", default=None, help="Where sign-out is announced to the app.")
@click.option("--scopes", default=" ".join(clients_service.DEFAULT_SCOPES), show_default=True,
              help="Scopes the app may ask for: " + " ".join(clients_service.SCOPES))
@click.option("--public", is_flag=True, help="A public client (a browser or mobile app): no secret, PKCE S256.")
@click.option("--all", "all_users", is_flag=True, help="Every user of the tenant may use it.")
@click.option("--group", "groups", multiple=True, help="A group whose members (and subgroups) may use it.")
@click.option("--require-2fa", is_flag=True, help="People pass a second factor before the app signs them in.")
@click.option("--skip-consent", is_flag=True, help="Never ask people to consent (an app the organisation owns).")
@_lifetimes
@tenant_option
@pass_ctx
@handles_errors
def client_add(ctx, name, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri, scopes, public,
               all_users, groups, require_2fa, skip_consent, access_token_seconds, refresh_token_seconds,
               tenant) -> None:
    settings = clients_service.ClientSettings(
        redirect_uris=redirect_uris, post_logout_redirect_uris=post_logout_redirect_uris,
        backchannel_logout_uri=backchannel_logout_uri, scopes=scopes, public=public, all_users=all_users,
        groups=groups, require_2fa=require_2fa, skip_consent=skip_consent,
        access_token_seconds=access_token_seconds or clients_service.ACCESS_SECONDS[2],
        refresh_token_seconds=refresh_token_seconds or clients_service.REFRESH_SECONDS[2])
    new = clients_service.add_client(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, settings,
                                     allow_http=ctx.settings.dev)
    click.echo(f"OIDC client {new.row.name} added")
    click.echo(f"  client_id:     {new.row.client_id}")
    if new.secret:
        click.echo(f"  client_secret: {new.secret}")
        click.echo("  (shown only now: store it in the app's configuration)")
    else:
        click.echo("  public client: no secret; the app must use PKCE with S256")
    if not all_users and not groups:
        click.echo(f"nobody may use it yet: `ostiary oidc-client grant {new.row.name} GROUP`, or add it with --all")


@oidc_client.command("update")
@click.argument("name")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Replaces the redirect URIs.")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option("--backchannel-logout-uri", default=None)
@click.option("--scopes", default=None)
@click.option("--all/--groups-only", "all_users", default=None)
@click.option("--require-2fa/--no-require-2fa", default=None)
@click.option("--skip-consent/--ask-consent", default=None)
@click.option("--enable/--disable", "enabled", default=None)
@_lifetimes
@tenant_option
@pass_ctx
@handles_errors
def client_update(ctx, name, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri, scopes, all_users,
                  require_2fa, skip_consent, enabled, access_token_seconds, refresh_token_seconds, tenant) -> None:
    row = clients_service.update_client(
        ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, allow_http=ctx.settings.dev,
        redirect_uris=list(redirect_uris) or None, post_logout_redirect_uris=list(post_logout_redirect_uris) or None,
        backchannel_logout_uri=backchannel_logout_uri, scopes=scopes, all_users=all_users, require_2fa=require_2fa,
        skip_consent=skip_consent, enabled=enabled, access_token_seconds=access_token_seconds,
        refresh_token_seconds=refresh_token_seconds)
    click.echo(f"OIDC client {row.name} updated")


def _client_out(ctx, tenant_id: int, row):
    """The API's ClientOut (docs/cli.md: --json prints the API's shapes)."""
    from types import SimpleNamespace

    from ostiary.portal.api.oidc_clients import ClientOut

    return ClientOut.of(SimpleNamespace(store=ctx.store, tenant_id=tenant_id), row)


@oidc_client.command("list")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def client_list(ctx, tenant, as_json) -> None:
    tenant_id = ctx.tenant_id(tenant)
    rows = clients_service.list_clients(ctx.store, tenant_id)
    if as_json:
        return print_json([_client_out(ctx, tenant_id, row) for row in rows])
    print_table(["NAME", "CLIENT ID", "TYPE", "STATE", "REDIRECT URIS"],
                [[row.name, row.client_id, "public" if row.secret_hash is None else "confidential",
                  "enabled" if row.enabled else "disabled", " ".join(json.loads(row.redirect_uris))] for row in rows],
                empty="no OIDC clients: add one with `ostiary oidc-client add`")


@oidc_client.command("show")
@click.argument("name")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def client_show(ctx, name, tenant, as_json) -> None:
    tenant_id = ctx.tenant_id(tenant)
    row = clients_service.get_client(ctx.store, tenant_id, name)
    if as_json:
        return print_json(_client_out(ctx, tenant_id, row))
    granted = clients_service.grant_names(ctx.store, tenant_id, row.id)
    issuer = ctx.settings.public_url(_tenant_host(ctx, tenant_id), "").rstrip("/")
    lines = [
        ("name", row.name), ("client_id", row.client_id),
        ("type", "public (PKCE S256)" if row.secret_hash is None else "confidential (secret stored hashed)"),
        ("enabled", "yes" if row.enabled else "no"), ("issuer", issuer),
        ("discovery", issuer + "/.well-known/openid-configuration"),
        ("redirect_uris", " ".join(json.loads(row.redirect_uris))),
        ("post_logout_redirect_uris", " ".join(json.loads(row.post_logout_redirect_uris)) or "-"),
        ("backchannel_logout_uri", row.backchannel_logout_uri or "-"), ("scopes", row.scopes),
        ("who may use it", "every user" if row.all_users else (", ".join(granted) or "nobody yet")),
        ("require_2fa", "yes" if row.require_2fa else "no"), ("skip_consent", "yes" if row.skip_consent else "no"),
        ("access_token_seconds", row.access_token_seconds), ("refresh_token_seconds", row.refresh_token_seconds),
    ]
    for key, value in lines:
        click.echo(f"{key + ':':28}{value}")


def _tenant_host(ctx, tenant_id: int) -> str:
    from ostiary.services.rules import tenants as tenants_service

    slug = next(t.slug for t in tenants_service.list_tenants(ctx.store) if t.id == tenant_id)
    return tenants_service.tenant_host(tenants_service.get_base_domain(ctx.store) or "", slug)


@oidc_client.command("delete")
@click.argument("name")
@tenant_option
@pass_ctx
@handles_errors
def client_delete(ctx, name, tenant) -> None:
    """Delete a client; every token it holds stops working at once."""
    clients_service.delete_client(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name)
    click.echo(f"OIDC client {name} deleted")


@oidc_client.command("rotate-secret")
@click.argument("name")
@tenant_option
@pass_ctx
@handles_errors
def client_rotate_secret(ctx, name, tenant) -> None:
    """A new client secret, shown once; the old one stops working at once."""
    secret = clients_service.rotate_secret(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name)
    click.echo(f"client_secret: {secret}")
    click.echo("(shown only now: the old secret no longer works)")


@oidc_client.command("grant")
@click.argument("name")
@click.argument("group")
@tenant_option
@pass_ctx
@handles_errors
def client_grant(ctx, name, group, tenant) -> None:
    clients_service.grant(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, group)
    click.echo(f"group {group} may use OIDC client {name}")


@oidc_client.command("revoke")
@click.argument("name")
@click.argument("group")
@tenant_option
@pass_ctx
@handles_errors
def client_revoke(ctx, name, group, tenant) -> None:
    clients_service.revoke(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, name, group)
    click.echo(f"group {group} may no longer use OIDC client {name}")


@main.group("oidc-key")
def oidc_key() -> None:
    """The issuer's signing keys (RS256 and ES256)."""


@oidc_key.command("list")
@json_option
@pass_ctx
@handles_errors
def key_list(ctx, as_json) -> None:
    import datetime

    if as_json:
        return print_json([{"kid": r.kid, "alg": r.alg, "created_at": r.created_at, "retired_at": r.retired_at,
                            "drop_at": r.drop_at} for r in keys_service.list_keys(ctx.store)])

    def utc(ts):
        return "-" if ts is None else datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC")

    for row in keys_service.list_keys(ctx.store):
        state = "signing" if row.retired_at is None else f"published until {utc(row.drop_at)}"
        click.echo(f"{row.kid}\t{row.alg}\tcreated {utc(row.created_at)}\t{state}")


@oidc_key.command("rotate")
@click.option("--overlap-seconds", type=int, default=keys_service.LONGEST_TOKEN, show_default=True,
              help="How long old keys stay published: by default until every token they signed has expired; "
                   "0 after a leak (every ID token they signed is refused at once).")
@pass_ctx
@handles_errors
def key_rotate(ctx, overlap_seconds) -> None:
    kids = keys_service.rotate_keys(ctx.store, CLI_ACTOR, overlap_seconds)
    click.echo(f"new signing keys {', '.join(kids)}; older keys stay published for {overlap_seconds} s")
