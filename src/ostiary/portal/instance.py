"""Which Ostiary serves a portal request, and which of its hosts the request
came to: a tenant host, a protected domain's portal host, or neither."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ostiary.config import Settings
from ostiary.hostnames import split_host_port
from ostiary.snapshot.follower import SnapshotHolder
from ostiary.snapshot.model import DomainView, TenantView
from ostiary.store import Store
from ostiary.wire import CSRF_COOKIE, CSRF_COOKIE_DEV, SESSION_COOKIE, SESSION_COOKIE_DEV


@dataclass
class Instance:
    """The running Ostiary a portal request is served by."""

    settings: Settings
    store: Store
    holder: SnapshotHolder

    @property
    def session_cookie(self) -> str:
        return SESSION_COOKIE_DEV if self.settings.dev else SESSION_COOKIE

    @property
    def csrf_cookie(self) -> str:
        return CSRF_COOKIE_DEV if self.settings.dev else CSRF_COOKIE


def instance(request: Request) -> Instance:
    return request.app.state.instance


def request_host(request: Request) -> str | None:
    hp = split_host_port(request.headers.get("host", ""))
    return hp[0] if hp else None


def tenant_for(request: Request) -> TenantView | None:
    return instance(request).holder.snapshot.tenant_hosts.get(request_host(request) or "")


def portal_domain_for(request: Request) -> DomainView | None:
    return instance(request).holder.snapshot.portal_hosts.get(request_host(request) or "")
