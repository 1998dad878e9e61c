"""The organisation's settings: how long sessions last (what `ostiary tenant
session-limits` and `PATCH /api/v1/tenant` set, through the same service),
and where its other tenant-wide switches live."""

from __future__ import annotations

from starlette.responses import Response

from ostiary.portal.admin.guard import AdminContext, admin_action, admin_page, problems
from ostiary.portal.i18n import N_, gettext as _, ngettext
from ostiary.services.queries import pages as admin_views
from ostiary.services.rules import tenants
from ostiary.services.base.errors import InvalidInput, Problem, ServiceError

# The units the form offers; the limits themselves (and their rules) are the service's, in seconds.
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
FIELDS = (("idle_seconds", "idle"), ("absolute_seconds", "absolute"))


def in_units(seconds: int) -> tuple[int, str]:
    """A number of seconds as the largest unit that says it exactly: 28800 is (8, "hours")."""
    for unit in ("days", "hours", "minutes"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return seconds // UNITS[unit], unit
    return seconds, "seconds"


# The units as the form and the page name them, in the page's language.
UNIT_LABELS = {"seconds": N_("seconds"), "minutes": N_("minutes"), "hours": N_("hours"), "days": N_("days")}


def in_words(seconds: int) -> str:
    amount, unit = in_units(seconds)
    said = {"seconds": ngettext("%(num)d second", "%(num)d seconds", amount),
            "minutes": ngettext("%(num)d minute", "%(num)d minutes", amount),
            "hours": ngettext("%(num)d hour", "%(num)d hours", amount),
            "days": ngettext("%(num)d day", "%(num)d days", amount)}[unit]
    return said % {"num": amount}


def _seconds(form) -> dict[str, int]:
    """The form's two limits in seconds; a refusal naming the field when one is not a whole number."""
    found, refused = {}, []
    for field, _unit in FIELDS:
        amount, unit = str(form.get(field, "")).strip(), str(form.get(field.replace("seconds", "unit"), ""))
        if unit not in UNITS:
            refused.append(Problem(field.replace("seconds", "unit"), N_("choose one of %(units)s"), units=", ".join(UNITS)))
        elif not amount.isdigit() or len(amount) > 9:
            refused.append(Problem(field, N_('"%(amount)s" is not a whole number of %(unit)s'), amount=amount[:20], unit=unit))
        else:
            found[field] = int(amount) * UNITS[unit]
    if refused:
        raise InvalidInput(refused)
    return found


@admin_page
async def settings_page(ctx: AdminContext) -> Response:
    return await _page(ctx)


async def _page(ctx: AdminContext, status: int = 200, errors=(), form=None) -> Response:
    summary = await ctx.call(admin_views.tenant_summary, ctx.inst.store, ctx.tenant.id)
    policy = await ctx.call(tenants.second_factor_policy, ctx.inst.store, ctx.tenant.id)
    if form is None:
        form = {}
        for field, _unit in FIELDS:
            amount, unit = in_units(getattr(summary, f"session_{field}"))
            form[field], form[field.replace("seconds", "unit")] = str(amount), unit
    return ctx.page("admin/settings.html", status=status, t=summary, policy=policy, errors=list(errors), form=form,
                    units=list(UNITS), unit_labels=UNIT_LABELS, in_words=in_words)


@admin_action
async def session_limits(ctx: AdminContext, form) -> Response:
    shown = {k: str(form.get(k, ""))[:20] for k in ("idle_seconds", "idle_unit", "absolute_seconds", "absolute_unit")}
    try:
        limits = _seconds(form)
        await ctx.call(tenants.set_session_limits, ctx.inst.store, ctx.tenant.id, ctx.actor,
                       limits["idle_seconds"], limits["absolute_seconds"])
    except ServiceError as exc:
        return await _page(ctx, 422, problems(exc), shown)
    return ctx.back("/admin/settings", _("Sessions now end after %(idle)s unused and %(absolute)s at most, open ones included.")
                    % {"idle": in_words(limits["idle_seconds"]), "absolute": in_words(limits["absolute_seconds"])})
