"""The API for OIDC clients: the same service calls, rules and audit entries
as `ostiary oidc-client` and /admin/oidc-clients. A client secret is answered
once, when it is made (add, rotate-secret), and never again
(docs/oidc-provider.md)."""

from __future__ import annotations

import json
from typing import Optional

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from ostiary.issuer import clients
from ostiary.portal.api.auth import Caller, reader, writer
from ostiary.portal.api.models import ErrorOut, Strict

ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut},
          422: {"model": ErrorOut, "description": "bad input: each problem names its field"}}


class _Settings(Strict):
    redirect_uris: Optional[list[str]] = Field(None, description="where the app receives its sign-in; matched exactly")
    post_logout_redirect_uris: Optional[list[str]] = Field(None, description="end-session may return here; exact")
    backchannel_logout_uri: Optional[str] = Field(None, description="where sign-out is announced to the app")
    scopes: Optional[str] = Field(None, description="space-separated: " + " ".join(clients.SCOPES))
    all_users: Optional[bool] = Field(None, description="every user of the tenant may use it")
    require_2fa: Optional[bool] = None
    skip_consent: Optional[bool] = None
    access_token_seconds: Optional[int] = Field(None, description="access and ID tokens, 60-86400")
    refresh_token_seconds: Optional[int] = Field(None, description="300-31536000")


class ClientIn(_Settings):
    name: str
    public: bool = Field(False, description="no secret; the app must use PKCE with S256")
    groups: list[str] = Field(default_factory=list, description="groups whose members (and subgroups) may use it")


class ClientPatch(_Settings):
    enabled: Optional[bool] = None


class ClientOut(BaseModel):
    id: int
    name: str
    client_id: str
    public: bool
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: Optional[str]
    scopes: str
    all_users: bool
    groups: list[str]
    require_2fa: bool
    skip_consent: bool
    enabled: bool
    access_token_seconds: int
    refresh_token_seconds: int

    @classmethod
    def of(cls, c: Caller, row) -> "ClientOut":
        return cls(id=row.id, name=row.name, client_id=row.client_id, public=row.secret_hash is None,
                   redirect_uris=json.loads(row.redirect_uris),
                   post_logout_redirect_uris=json.loads(row.post_logout_redirect_uris),
                   backchannel_logout_uri=row.backchannel_logout_uri, scopes=row.scopes, all_users=row.all_users,
                   groups=clients.grant_names(c.store, c.tenant_id, row.id), require_2fa=row.require_2fa,
                   skip_consent=row.skip_consent, enabled=row.enabled,
                   access_token_seconds=row.access_token_seconds, refresh_token_seconds=row.refresh_token_seconds)


class NewClientOut(ClientOut):
    client_secret: Optional[str] = Field(description="shown only in this answer; null for a public client")


class SecretOut(BaseModel):
    client_secret: str = Field(description="shown only in this answer; the old secret no longer works")


class ClientPage(BaseModel):
    items: list[ClientOut]
    total: int


router = APIRouter(prefix="/oidc-clients", tags=["oidc-clients"], responses=ERRORS)


@router.get("", response_model=ClientPage, summary="Apps that sign people in through this tenant's issuer")
def list_clients(c: Caller = Depends(reader)):
    rows = clients.list_clients(c.store, c.tenant_id)
    return ClientPage(items=[ClientOut.of(c, r) for r in rows], total=len(rows))


@router.post("", response_model=NewClientOut, status_code=201,
             summary="Add a client; the answer holds its secret, shown only this once")
def add_client(body: ClientIn, c: Caller = Depends(writer)):
    defaults = clients.ClientSettings()
    given = {k: v for k, v in body.model_dump(exclude={"name"}).items() if v is not None}
    settings = clients.ClientSettings(**{**defaults.__dict__, **given})
    new = clients.add_client(c.store, c.tenant_id, c.actor, body.name, settings, allow_http=c.settings.dev)
    return NewClientOut(**ClientOut.of(c, new.row).model_dump(), client_secret=new.secret)


@router.get("/{name}", response_model=ClientOut)
def get_client(name: str, c: Caller = Depends(reader)):
    return ClientOut.of(c, clients.get_client(c.store, c.tenant_id, name))


@router.patch("/{name}", response_model=ClientOut, summary="Change what is given; everything else stays")
def edit_client(name: str, body: ClientPatch, c: Caller = Depends(writer)):
    row = clients.update_client(c.store, c.tenant_id, c.actor, name, allow_http=c.settings.dev,
                                **body.model_dump())
    return ClientOut.of(c, row)


@router.post("/{name}/rotate-secret", response_model=SecretOut, summary="A new secret, shown only this once")
def rotate_secret(name: str, c: Caller = Depends(writer)):
    return SecretOut(client_secret=clients.rotate_secret(c.store, c.tenant_id, c.actor, name))


@router.put("/{name}/grants/{group}", response_model=ClientOut, summary="Members of group may use the client")
def grant(name: str, group: str, c: Caller = Depends(writer)):
    clients.grant(c.store, c.tenant_id, c.actor, name, group)
    return get_client(name, c)


@router.delete("/{name}/grants/{group}", response_model=ClientOut)
def revoke(name: str, group: str, c: Caller = Depends(writer)):
    clients.revoke(c.store, c.tenant_id, c.actor, name, group)
    return get_client(name, c)


@router.delete("/{name}", status_code=204, response_class=Response,
               summary="Delete the client; every token it holds stops working at once")
def delete_client(name: str, c: Caller = Depends(writer)):
    clients.delete_client(c.store, c.tenant_id, c.actor, name)
    return Response(status_code=204)


ROUTERS = [router]
