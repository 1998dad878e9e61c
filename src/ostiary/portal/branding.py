"""A tenant's logo and accent colour as Ostiary serves them to its own pages
(docs/admin.md, "Branding"): no external asset, nothing the CSP would have to
allow. The accent is a tiny stylesheet (style-src 'self'), the logo an image
(img-src 'self') served with its checked type, nosniff and a sandboxing CSP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ostiary.portal.instance import instance, portal_domain_for, tenant_for
from ostiary.portal.rendering import TEMPLATES
from ostiary.portal.redirects import RdRefused, validate_rd
from ostiary.services.rules import branding
from ostiary.wire import AUTHORIZE_PATH

_CACHE_VERSIONED = "public, max-age=31536000, immutable"
_CACHE_UNVERSIONED = "public, max-age=300"


def _tenant(request: Request):
    tenant = tenant_for(request)
    if tenant is None:
        domain = portal_domain_for(request)
        tenant = instance(request).holder.snapshot.tenants.get(domain.tenant_id) if domain is not None else None
    return tenant


def _not_found() -> Response:
    return Response("no such file\n", status_code=404, media_type="text/plain",
                    headers={"cache-control": "no-store", "x-content-type-options": "nosniff"})


async def logo(request: Request) -> Response:
    tenant = _tenant(request)
    if tenant is None:
        return _not_found()
    found = await run_in_threadpool(branding.get_logo, instance(request).store, tenant.id)
    if found is None:
        return _not_found()
    versioned = request.query_params.get("v") == found.version
    return Response(found.data, media_type=found.content_type, headers={
        "cache-control": _CACHE_VERSIONED if versioned else _CACHE_UNVERSIONED,
        "etag": f'"{found.version}"',
        "x-content-type-options": "nosniff",
        "content-disposition": "inline; filename=logo",
        "content-security-policy": "default-src 'none'; sandbox",
        "cross-origin-resource-policy": "same-origin",
    })


async def theme(request: Request) -> Response:
    """The accent colour as CSS custom properties (text on the accent in black or white, whichever reads better)."""
    tenant = _tenant(request)
    accent = tenant.accent_colour if tenant is not None else None
    body = ""
    if accent:
        body = f":root {{ --accent: {accent}; --on-accent: {branding.on_accent(accent)}; }}\n"
    versioned = accent is not None and request.query_params.get("v") == accent[1:]
    return Response(body, media_type="text/css", headers={
        "cache-control": _CACHE_VERSIONED if versioned else _CACHE_UNVERSIONED,
        "x-content-type-options": "nosniff",
    })


def destination_app(request: Request, tenant, next_url: str) -> str | None:
    """The display name of the app a sign-in continues to: the app the handshake's
    `rd` names, through the same matching as /forward-auth/authorize, on a
    protected domain of this tenant. Never any text of the URL itself."""
    try:
        parts = urlsplit(next_url)
    except ValueError:
        return None
    if parts.path != AUTHORIZE_PATH or parts.netloc:
        return None
    params = parse_qs(parts.query)
    inst = instance(request)
    snap = inst.holder.snapshot
    domain = snap.portal_hosts.get((params.get("portal") or [""])[0])
    if domain is None or tenant is None or domain.tenant_id != tenant.id:
        return None
    try:
        return validate_rd((params.get("rd") or [""])[0], snap, domain, inst.settings.dev).name
    except RdRefused:
        return None


TEMPLATES.globals["destination_app"] = destination_app


def contact_of(request: Request):
    """(contact text, is it an email address) of the tenant the request came to, for "who to ask"."""
    tenant = _tenant(request)
    contact = tenant.contact if tenant is not None else None
    return (contact, branding.is_email(contact)) if contact else None


TEMPLATES.globals["contact_of"] = contact_of
