"""Proxy apps: where they live, what is public, which identity headers they
get and who may enter (`ostiary app ...`)."""

from __future__ import annotations

import click

from ostiary.cli.base import (
    handles_errors, json_option, main, pass_ctx, print_json, print_record, print_table, tenant_option,
)
from ostiary.services.queries import pages
from ostiary.services.rules import apps as apps_service
from ostiary.services.rules import groups as groups_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import InvalidInput, NotFound, Problem


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
        page = pages.apps_page(ctx.store, tid, limit=500, offset=offset)
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
    out = _app_out(pages.app_summary(ctx.store, ctx.tenant_id(tenant), app_name))
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
    summary = pages.app_summary(ctx.store, tid, app_name)
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
    out = _app_out(pages.app_summary(ctx.store, tid, summary.app.id))
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
