"""The API for a tenant's branding: the same service calls, rules and audit
entries as `ostiary tenant branding` and /admin/branding (docs/admin.md,
"Branding"). The logo is uploaded as the request body of PUT /branding/logo."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from ostiary.portal.api.auth import Caller, reader, writer
from ostiary.portal.api.models import ErrorOut, Strict
from ostiary.services.rules import branding
from ostiary.services.base.errors import InvalidInput, Problem

ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut},
          422: {"model": ErrorOut, "description": "bad input: each problem names its field"}}


class BrandingOut(BaseModel):
    display_name: str
    accent_colour: Optional[str] = Field(None, description="#rrggbb, or null for Ostiary's own colours")
    contact: Optional[str] = Field(None, description="who to ask for access: an email address or a line of text")
    contact_is_email: bool
    logo: bool
    logo_type: Optional[str] = None
    logo_width: Optional[int] = None
    logo_height: Optional[int] = None
    logo_version: Optional[str] = Field(None, description="changes with every new logo")


class BrandingPatch(Strict):
    display_name: Optional[str] = Field(None, description="the organisation's name on its pages")
    accent_colour: Optional[str] = Field(None, description='#rrggbb, or "" for the default')
    contact: Optional[str] = Field(None, description='an email address or a line of text; "" for none')


router = APIRouter(prefix="/branding", tags=["tenant"], responses=ERRORS)


@router.get("", response_model=BrandingOut, summary="The tenant's display name, accent colour, contact and logo")
def get_branding(c: Caller = Depends(reader)):
    return BrandingOut(**branding.get_branding(c.store, c.tenant_id).as_dict())


@router.patch("", response_model=BrandingOut, summary="Change what is given; every field is checked first")
def edit_branding(body: BrandingPatch, c: Caller = Depends(writer)):
    done = branding.set_branding(c.store, c.tenant_id, c.actor, display_name=body.display_name,
                                 accent_colour=body.accent_colour, contact=body.contact)
    return BrandingOut(**done.as_dict())


@router.put("/logo", response_model=BrandingOut,
            summary=f"Upload the logo as the body: PNG, JPEG or WebP, at most {branding.MAX_LOGO_BYTES // 1024} KiB "
                    f"and {branding.MAX_LOGO_PIXELS}×{branding.MAX_LOGO_PIXELS} pixels; SVG is refused")
async def put_logo(request: Request, c: Caller = Depends(writer)):
    from starlette.concurrency import run_in_threadpool

    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > branding.MAX_LOGO_BYTES:
            raise InvalidInput([Problem("logo", f"is larger than {branding.MAX_LOGO_BYTES // 1024} KiB: "
                                                f"at most {branding.MAX_LOGO_BYTES // 1024} KiB is accepted")])
    done = await run_in_threadpool(branding.set_logo, c.store, c.tenant_id, c.actor, bytes(data))
    return BrandingOut(**done.as_dict())


@router.delete("/logo", response_model=BrandingOut, summary="Remove the logo")
def delete_logo(c: Caller = Depends(writer)):
    return BrandingOut(**branding.remove_logo(c.store, c.tenant_id, c.actor).as_dict())


ROUTERS = [router]
