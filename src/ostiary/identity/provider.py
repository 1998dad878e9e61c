"""One upstream provider as the sign-in flow sees it, and the person it
vouched for."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ostiary.identity.presets import PRESETS


@dataclass(frozen=True)
class ProviderConfig:
    id: int
    tenant_id: int
    name: str
    display_name: str
    preset: str
    issuer: str
    client_id: str
    client_secret_ref: str
    scopes: str
    claims: dict
    allowed_directories: tuple[str, ...]
    account_policy: str
    create_domains: tuple[str, ...]
    trusted_domains: tuple[str, ...]
    enabled: bool
    options: dict = field(default_factory=dict)  # LDAP: identity.ldap.DirectoryOptions

    @property
    def protocol(self) -> str:
        return PRESETS[self.preset].protocol if self.preset in PRESETS else "oidc"

    @classmethod
    def from_row(cls, row) -> "ProviderConfig":
        return cls(
            id=row.id, tenant_id=row.tenant_id, name=row.name, display_name=row.display_name, preset=row.preset,
            issuer=row.issuer, client_id=row.client_id, client_secret_ref=row.client_secret_ref, scopes=row.scopes,
            claims=json.loads(row.claims or "{}"), allowed_directories=tuple(json.loads(row.allowed_directories or "[]")),
            account_policy=row.account_policy, create_domains=tuple(json.loads(row.create_domains or "[]")),
            trusted_domains=tuple(json.loads(row.trusted_domains or "[]")), enabled=bool(row.enabled),
            options=json.loads(row.options or "{}"),
        )


@dataclass(frozen=True)
class UpstreamPerson:
    """What a provider asserted, after its answer was verified."""

    subject: str  # stable at this provider: the only thing a link is keyed on
    email: str
    email_verified: bool
    username: str
    display_name: str
    groups: tuple[str, ...]


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with an error: the
    person sees which provider, a retry and the other ways in; nothing changes."""


class AnswerRefused(Exception):
    """The provider's answer did not verify (a token, state or nonce that is
    wrong, expired, replayed or forged): refused and audited."""
