"""The API for upstream sign-in providers: the same service calls, rules and
audit entries as `ostiary provider` and /admin/providers. A client secret is
given only as where the server reads it from, and never answered back
(docs/identity-providers.md)."""

from __future__ import annotations

import json
from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field, model_validator

from ostiary.portal.api.auth import Caller, reader, writer
from ostiary.portal.api.models import ErrorOut, Strict
from ostiary.services.rules import providers
from ostiary.services.base.errors import InvalidInput, Problem
from ostiary.services.rules.providers import ProviderSettings

ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut},
          422: {"model": ErrorOut, "description": "bad input: each problem names its field"}}
Preset = Literal["oidc", "google", "entra", "gitlab", "github", "ldap"]
ClaimKey = Literal["username", "email", "display_name", "groups"]


class _Common(Strict):
    display_name: Optional[str] = Field(None, description="the sign-in button's label (default: the preset's)")
    issuer: Optional[str] = Field(None, description="issuer URL for OpenID discovery; GitHub Enterprise: its web URL")
    directory: Optional[str] = Field(None, description="entra: the directory (tenant) id, or common / organizations")
    allowed_directories: Optional[list[str]] = Field(None, description="entra common: the directory ids admitted")
    client_id: Optional[str] = None
    client_secret_file: Optional[str] = Field(None, description="absolute path of a file the server reads the secret from")
    client_secret_env: Optional[str] = Field(None, description="environment variable of the server holding the secret")
    scopes: Optional[str] = Field(None, description='space-separated, e.g. "openid email profile groups"')
    claims: Optional[dict[ClaimKey, str]] = Field(None, description="which claim carries each value; dots reach into objects")
    account_policy: Optional[Literal["existing", "create"]] = None
    create_domains: Optional[list[str]] = Field(None, description="with policy create: only these email domains (empty: any)")
    trusted_domains: Optional[list[str]] = Field(
        None, description="existing users are linked by an email the provider says is verified, only in these domains")
    start_tls: Optional[bool] = Field(None, description="ldap: StartTLS on an ldap:// URL (required there)")
    ca_file: Optional[str] = Field(None, description="ldap: CA certificate file the directory is verified with")
    user_base: Optional[str] = Field(None, description="ldap: DN people are searched under")
    user_filter: Optional[str] = Field(None, description="ldap: search filter with {login}")
    group_base: Optional[str] = Field(None, description="ldap: DN groups are searched under (omit: memberOf)")
    group_filter: Optional[str] = Field(None, description="ldap: group filter with {dn}")

    @model_validator(mode="after")
    def one_secret_source(self):
        if self.client_secret_file and self.client_secret_env:
            raise ValueError("give client_secret_file or client_secret_env, not both")
        return self

    def secret_ref(self) -> str | None:
        if self.client_secret_file:
            return f"file:{self.client_secret_file}"
        return f"env:{self.client_secret_env}" if self.client_secret_env else None

    def settings(self, preset: str | None = None, enabled: bool | None = None) -> ProviderSettings:
        return ProviderSettings(
            preset=preset, display_name=self.display_name, issuer=self.issuer, directory=self.directory,
            allowed_directories=self.allowed_directories, client_id=self.client_id,
            client_secret_ref=self.secret_ref(), scopes=self.scopes, claims=self.claims,
            account_policy=self.account_policy, create_domains=self.create_domains,
            trusted_domains=self.trusted_domains, enabled=enabled, start_tls=self.start_tls, ca_file=self.ca_file,
            user_base=self.user_base, user_filter=self.user_filter, group_base=self.group_base,
            group_filter=self.group_filter)


class ProviderIn(_Common):
    name: str = Field(description="lowercase letters, digits and hyphens; part of the redirect URI")
    preset: Preset = "oidc"


class ProviderPatch(_Common):
    enabled: Optional[bool] = None


class MappingOut(BaseModel):
    upstream_group: str
    group: str


class ProviderOut(BaseModel):
    id: int
    name: str
    display_name: str
    preset: str
    issuer: str
    client_id: str
    client_secret_source: str = Field(description='where the server reads the secret ("file:..." or "env:..."); '
                                                   "the secret itself is never answered")
    scopes: str
    claims: dict[str, str]
    allowed_directories: list[str]
    account_policy: str
    create_domains: list[str]
    trusted_domains: list[str]
    enabled: bool
    redirect_uri: str = Field(description="to register at the provider (LDAP directories have none: empty)")
    directory_options: dict = Field(description="ldap: start_tls, ca_file, user_base, user_filter, group_base, group_filter")
    mappings: list[MappingOut]

    @classmethod
    def of(cls, c: Caller, row) -> "ProviderOut":
        from ostiary.services.rules.tenants import get_base_domain, list_tenants, tenant_host

        slug = next(t.slug for t in list_tenants(c.store) if t.id == c.tenant_id)
        host = tenant_host(get_base_domain(c.store) or "", slug)
        return cls(
            id=row.id, name=row.name, display_name=row.display_name, preset=row.preset, issuer=row.issuer,
            client_id=row.client_id, client_secret_source=row.client_secret_ref, scopes=row.scopes,
            claims=json.loads(row.claims), allowed_directories=json.loads(row.allowed_directories),
            account_policy=row.account_policy, create_domains=json.loads(row.create_domains),
            trusted_domains=json.loads(row.trusted_domains), enabled=bool(row.enabled),
            redirect_uri="" if row.preset == "ldap" else c.settings.public_url(host, providers.redirect_path(row.name)),
            directory_options=json.loads(row.options or "{}"),
            mappings=[MappingOut(upstream_group=u, group=g) for u, g in providers.mappings(c.store, c.tenant_id, row.id)])


class ProviderPage(BaseModel):
    items: list[ProviderOut]
    total: int
    limit: int
    offset: int


class PasswordSignInIn(Strict):
    enabled: bool = Field(strict=True, description="false: only providers sign people in; admins keep their password")


class PasswordSignInOut(BaseModel):
    enabled: bool


router = APIRouter(prefix="/providers", tags=["providers"], responses=ERRORS)


@router.get("", response_model=ProviderPage, summary="Upstream sign-in providers, by name")
def list_providers(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0), c: Caller = Depends(reader)):
    rows = providers.list_providers(c.store, c.tenant_id, limit, offset)
    return ProviderPage(items=[ProviderOut.of(c, r) for r in rows], total=providers.count_providers(c.store, c.tenant_id),
                        limit=limit, offset=offset)


@router.post("", response_model=ProviderOut, status_code=201,
             summary="Add a provider; the answer has the redirect URI to register at it")
def add_provider(body: ProviderIn, c: Caller = Depends(writer)):
    row = providers.add_provider(c.store, c.tenant_id, c.actor, body.name, body.settings(body.preset),
                                 allow_http=c.settings.dev)
    return ProviderOut.of(c, row)


@router.get("/{name}", response_model=ProviderOut)
def get_provider(name: str, c: Caller = Depends(reader)):
    return ProviderOut.of(c, providers.get_provider(c.store, c.tenant_id, name))


@router.patch("/{name}", response_model=ProviderOut, summary="Change what is given; everything else stays")
def edit_provider(name: str, body: ProviderPatch, c: Caller = Depends(writer)):
    row = providers.update_provider(c.store, c.tenant_id, c.actor, name, body.settings(enabled=body.enabled),
                                    allow_http=c.settings.dev)
    return ProviderOut.of(c, row)


@router.delete("/{name}", status_code=204, response_class=Response,
               summary="Remove the provider, its mappings and the identities linked through it")
def remove_provider(name: str, c: Caller = Depends(writer)):
    providers.remove_provider(c.store, c.tenant_id, c.actor, name)
    return Response(status_code=204)


@router.put("/{name}/mappings/{upstream_group}/{group}", response_model=ProviderOut,
            summary="Members of upstream_group at the provider are in group here, re-applied at every sign-in")
def map_group(name: str, upstream_group: str, group: str, c: Caller = Depends(writer)):
    providers.map_group(c.store, c.tenant_id, c.actor, name, upstream_group, group)
    return get_provider(name, c)


@router.delete("/{name}/mappings/{upstream_group}/{group}", response_model=ProviderOut)
def unmap_group(name: str, upstream_group: str, group: str, c: Caller = Depends(writer)):
    providers.map_group(c.store, c.tenant_id, c.actor, name, upstream_group, group, remove=True)
    return get_provider(name, c)


password = APIRouter(prefix="/password-sign-in", tags=["providers"], responses=ERRORS)


@password.get("", response_model=PasswordSignInOut, summary="Whether people may sign in with a password")
def get_password_sign_in(c: Caller = Depends(reader)):
    return PasswordSignInOut(enabled=providers.password_sign_in(c.store, c.tenant_id))


@password.put("", response_model=PasswordSignInOut,
              summary="Off: only providers sign people in; administrators keep their password (break-glass)")
def set_password_sign_in(body: PasswordSignInIn, c: Caller = Depends(writer)):
    if not body.enabled and providers.count_providers(c.store, c.tenant_id) == 0:
        raise InvalidInput([Problem("enabled", "add a provider first: nobody but admins could sign in")])
    providers.set_password_sign_in(c.store, c.tenant_id, c.actor, body.enabled)
    return PasswordSignInOut(enabled=body.enabled)


ROUTERS = [router, password]
