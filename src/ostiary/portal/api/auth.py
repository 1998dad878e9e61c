"""Bearer API tokens: who is calling, for which tenant, with which scope."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request

from ostiary.portal.client_address import client_address
from ostiary.portal.instance import instance, tenant_for
from ostiary.services.rules import api_tokens
from ostiary.services.base.actor import Actor


class ApiRefusal(Exception):
    def __init__(self, status: int, error: str, message: str):
        self.status, self.error, self.message = status, error, message


@dataclass(frozen=True)
class Caller:
    tenant_id: int
    token: api_tokens.TokenHolder
    actor: Actor
    store: object  # ostiary.store.Store
    settings: object


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def caller(request: Request) -> Caller:
    tenant = tenant_for(request)
    if tenant is None:
        raise ApiRefusal(404, "not_found", "this host is not an Ostiary tenant host: call the API on your tenant host")
    token = _bearer(request)
    if token is None:
        raise ApiRefusal(401, "unauthorized", "send an API token as `Authorization: Bearer <token>`; admins create them at /admin/tokens")
    inst = instance(request)
    holder = api_tokens.authenticate(inst.store, tenant.id, token)
    if holder is None:
        raise ApiRefusal(401, "unauthorized", "the API token is unknown, revoked or expired for this tenant")
    actor = Actor(f"api:{holder.name}#{holder.id}", client_address(request))
    return Caller(tenant.id, holder, actor, inst.store, inst.settings)


def reader(c: Caller = Depends(caller)) -> Caller:
    return c  # every live token may read


def writer(c: Caller = Depends(caller)) -> Caller:
    if not c.token.allows("write"):
        raise ApiRefusal(403, "forbidden", f'token "{c.token.name}" has scope "read": this call needs "write"')
    return c
