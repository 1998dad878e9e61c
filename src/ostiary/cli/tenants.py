"""Tenants (`ostiary tenant ...`): adding, listing, and their session limits.
The password switch lives with the providers (cli/providers.py)."""

from __future__ import annotations

import click

from ostiary.cli.base import (
    Context, handles_errors, json_option, main, pass_ctx, print_json, print_record, print_table, tenant_option, utc,
)
from ostiary.services.queries import pages
from ostiary.services.rules import tenants as tenants_service
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import InvalidInput, Problem


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


def _tenant_view(ctx: Context, row) -> dict:
    return dict(pages.tenant_summary(ctx.store, row.id).__dict__)


@tenant.command("list")
@json_option
@pass_ctx
@handles_errors
def tenant_list(ctx: Context, as_json: bool) -> None:
    views = [_tenant_view(ctx, row) for row in tenants_service.list_tenants(ctx.store)]
    if as_json:
        return print_json(views)
    print_table(["SLUG", "NAME", "HOST", "IDLE", "ABSOLUTE"],
                [[v["slug"], v["name"], v["host"], _duration(v["session_idle_seconds"]),
                  _duration(v["session_absolute_seconds"])] for v in views], empty="no tenants yet: run `ostiary init`")


@tenant.command("show")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def tenant_show(ctx: Context, tenant: str | None, as_json: bool) -> None:
    """A tenant: its host, session limits and password sign-in."""
    view = _tenant_view(ctx, tenants_service.resolve_tenant(ctx.store, tenant))
    if as_json:
        return print_json(view)
    print_record([("slug", view["slug"]), ("name", view["name"]), ("host", view["host"]),
                  ("sessions end after idle", _duration(view["session_idle_seconds"])),
                  ("sessions end at most after", _duration(view["session_absolute_seconds"])),
                  ("password sign-in", "on" if view["password_sign_in"] else "off (providers only; admins keep it)"),
                  ("created", utc(view["created_at"]))])


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _seconds(value: str, field: str) -> int:
    """"600", "600s", "10m", "8h" or "14d" as seconds."""


    text = value.strip().lower()
    factor = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(text[-1:], None)
    number = text[:-1] if factor else text
    if not number.isdigit():
        raise InvalidInput([Problem(field, f'"{value}" is not a duration: give seconds, or a number with s, m, h '
                                           "or d, e.g. 8h or 14d")])
    return int(number) * (factor or 1)


@tenant.command("session-limits")
@click.option("--idle", required=True, metavar="DURATION",
              help="A session unused this long ends (60 s to 30 d; e.g. 8h).")
@click.option("--absolute", required=True, metavar="DURATION",
              help="No session lasts longer than this (5 min to 366 d; e.g. 14d).")
@tenant_option
@pass_ctx
@handles_errors
def tenant_session_limits(ctx: Context, idle: str, absolute: str, tenant: str | None) -> None:
    """Set how long sessions last; shorter limits apply to sessions already open."""


    problems = []
    values = {}
    for field, text in (("idle_seconds", idle), ("absolute_seconds", absolute)):
        try:
            values[field] = _seconds(text, field)
        except InvalidInput as exc:
            problems += exc.problems
    if problems:
        raise InvalidInput(problems)
    tid = ctx.tenant_id(tenant)
    tenants_service.set_session_limits(ctx.store, tid, CLI_ACTOR, values["idle_seconds"], values["absolute_seconds"])
    click.echo(f"sessions now end after {_duration(values['idle_seconds'])} unused and "
               f"{_duration(values['absolute_seconds'])} at most, open ones included")


@tenant.group("branding")
def tenant_branding() -> None:
    """The organisation's name, accent colour, who to ask, and logo (docs/admin.md, "Branding")."""


def _print_branding(view, as_json: bool) -> None:
    from ostiary.services.rules import branding as branding_service

    data = view.as_dict()
    if as_json:
        return print_json(data)
    logo = (f"{data['logo_type']}, {data['logo_width']}×{data['logo_height']} px" if data["logo"] else "none")
    print_record([("display name", data["display_name"]), ("accent colour", data["accent_colour"] or "default"),
                  ("contact", data["contact"] or "none"), ("logo", logo),
                  ("logo limits", f"PNG, JPEG or WebP; at most {branding_service.MAX_LOGO_BYTES // 1024} KiB and "
                                  f"{branding_service.MAX_LOGO_PIXELS} px a side")])


@tenant_branding.command("show")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def tenant_branding_show(ctx: Context, tenant: str | None, as_json: bool) -> None:
    """The branding as the pages show it."""
    from ostiary.services.rules import branding as branding_service

    _print_branding(branding_service.get_branding(ctx.store, ctx.tenant_id(tenant)), as_json)


@tenant_branding.command("set")
@click.option("--name", "display_name", default=None, help="The organisation's name on its pages.")
@click.option("--accent", "accent_colour", default=None, metavar="#RRGGBB", help='An accent colour, or "none".')
@click.option("--contact", default=None, help='Who to ask for access: an email address or a line of text; "none".')
@tenant_option
@json_option
@pass_ctx
@handles_errors
def tenant_branding_set(ctx: Context, display_name: str | None, accent_colour: str | None, contact: str | None,
                        tenant: str | None, as_json: bool) -> None:
    """Change what is given; every value is checked before anything is written."""
    from ostiary.services.rules import branding as branding_service

    view = branding_service.set_branding(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, display_name=display_name,
                                         accent_colour=accent_colour, contact=contact)
    _print_branding(view, as_json)


@tenant_branding.command("logo")
@click.argument("image", type=click.Path(dir_okay=False, path_type=str))
@tenant_option
@json_option
@pass_ctx
@handles_errors
def tenant_branding_logo(ctx: Context, image: str, tenant: str | None, as_json: bool) -> None:
    """Upload IMAGE (PNG, JPEG or WebP; SVG is refused) as the logo."""
    from ostiary.services.rules import branding as branding_service

    try:
        with open(image, "rb") as f:
            data = f.read(branding_service.MAX_LOGO_BYTES + 1)
    except OSError as exc:
        raise InvalidInput([Problem("logo", f"cannot read {image}: {exc.strerror}")]) from None
    _print_branding(branding_service.set_logo(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR, data), as_json)


@tenant_branding.command("remove-logo")
@tenant_option
@json_option
@pass_ctx
@handles_errors
def tenant_branding_remove_logo(ctx: Context, tenant: str | None, as_json: bool) -> None:
    """Remove the logo."""
    from ostiary.services.rules import branding as branding_service

    _print_branding(branding_service.remove_logo(ctx.store, ctx.tenant_id(tenant), CLI_ACTOR), as_json)
