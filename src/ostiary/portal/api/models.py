"""The API's request and response shapes (and so its OpenAPI schema).

A row shape a query already defines (a dataclass in services/queries: a
session, the tenant, an audit entry) is not written again here: `_answer_of`
makes its schema from the dataclass, under the API's name, and the routes
serialise the query's rows with it."""

from __future__ import annotations

import dataclasses
import json
from typing import Generic, Literal, Optional, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from ostiary.services.queries.audit import AuditEntry
from ostiary.services.queries.pages import SessionEntry, TenantSummary

T = TypeVar("T")
HeaderKey = Literal["user", "email", "groups", "display_name"]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class ProblemOut(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    error: str
    message: str = ""
    problems: list[ProblemOut] = []


def _answer_of(shape: type, name: str, **descriptions: str) -> type[BaseModel]:
    """The schema of answers made of `shape`'s rows: its fields and types, in its order, each one in every
    answer (required), named `name` in the OpenAPI document; `descriptions` add words to some fields."""
    fields = dataclasses.fields(shape)
    unknown = set(descriptions) - {f.name for f in fields}
    if unknown:
        raise TypeError(f"{shape.__name__} has no field {sorted(unknown)}")
    hints = get_type_hints(shape)
    return create_model(name, __module__=__name__, __config__=ConfigDict(from_attributes=True),
                        **{f.name: (hints[f.name], Field(description=descriptions.get(f.name))) for f in fields})


class Strict(BaseModel):
    """Every request body: unknown fields refused, and no conversions
    (`"yes"` is not a boolean, `"5"` not a number), each naming its field."""
    model_config = ConfigDict(extra="forbid", strict=True)


class DomainIn(Strict):
    name: str = Field(description="the protected domain, e.g. acme-corp.com")
    portal_host: str = Field(description="the domain or a name under it that points at Ostiary")


class DomainOut(BaseModel):
    id: int
    name: str
    portal_host: str
    status: str
    status_reason: str
    txt_name: str
    txt_value: str
    verified_at: Optional[float]
    last_checked_at: Optional[float]
    flagged_at: Optional[float]

    @classmethod
    def of(cls, row) -> "DomainOut":
        from ostiary.services.rules.domains import txt_record

        name, value = txt_record(row)
        return cls(id=row.id, name=row.name, portal_host=row.portal_host, status=row.status,
                   status_reason=row.status_reason or "", txt_name=name, txt_value=value, verified_at=row.verified_at,
                   last_checked_at=row.last_checked_at, flagged_at=row.flagged_at)


class AppIn(Strict):
    name: str
    url: str
    public_paths: list[str] = []
    headers: list[HeaderKey] = Field(default=["user", "email", "groups", "display_name"])
    all_users: bool = False
    groups: list[str] = Field(default=[], description="groups granted; members of their descendants enter too")
    require_2fa: bool = Field(default=False, description="only sessions that passed a second factor may enter")


class AppPatch(Strict):
    url: Optional[str] = None
    public_paths: Optional[list[str]] = None
    headers: Optional[list[HeaderKey]] = None
    all_users: Optional[bool] = None
    enabled: Optional[bool] = None
    require_2fa: Optional[bool] = None


class AppOut(BaseModel):
    id: int
    name: str
    url: str
    domain: str
    public_paths: list[str]
    headers: list[str]
    all_users: bool
    enabled: bool
    require_2fa: bool
    groups: list[str]

    @classmethod
    def of(cls, s) -> "AppOut":
        a = s.app
        return cls(id=a.id, name=a.name, url=a.url, domain=s.domain, public_paths=s.public_paths,
                   headers=s.header_keys, all_users=bool(a.all_users), enabled=bool(a.enabled),
                   require_2fa=bool(a.require_2fa), groups=s.grants)


class SnippetOut(BaseModel):
    app: str
    proxy: str
    text: str


class UserIn(Strict):
    email: str
    username: Optional[str] = None
    display_name: Optional[str] = None
    password: Optional[str] = Field(default=None, description="omit to invite the user by email when email is "
                                    "configured (docs/email.md); otherwise they cannot sign in with a password yet")
    is_admin: bool = False


class InvitationIn(Strict):
    email: str
    username: Optional[str] = None
    display_name: Optional[str] = None
    is_admin: bool = False


class UserPatch(Strict):
    email: Optional[str] = None
    username: Optional[str] = None
    display_name: Optional[str] = None
    active: Optional[bool] = None
    is_admin: Optional[bool] = None
    password: Optional[str] = Field(default=None, description="a new password; ends every session of the user")


class UserOut(BaseModel):
    id: int
    email: str
    username: str
    display_name: str
    is_admin: bool
    active: bool
    totp_enabled: bool
    groups: Optional[list[str]] = None
    passkeys: Optional[int] = Field(default=None, description="how many passkeys the user has (on single users)")

    @classmethod
    def of(cls, row, groups: list[str] | None = None, passkeys: int | None = None) -> "UserOut":
        return cls(id=row.id, email=row.email, username=row.username, display_name=row.display_name,
                   is_admin=bool(row.is_admin), active=bool(row.active), totp_enabled=row.totp_enabled_at is not None,
                   groups=groups, passkeys=passkeys)


class SecondFactorPolicy(Strict):
    policy: Literal["off", "admins", "everyone"] = Field(
        description="who must have a second factor (TOTP or a passkey): nobody, administrators, or everyone")


class GroupIn(Strict):
    name: str
    parent: Optional[str] = None


class GroupPatch(Strict):
    parent: Optional[str] = Field(default=None, description="the new parent's name; null moves the group to the top "
                                                            "(leave it out to keep the group where it is)")
    name: Optional[str] = Field(default=None, description="a new name; members, subgroups and grants stay")


class GroupOut(BaseModel):
    id: int
    name: str
    parent: Optional[str]
    path: str


class GroupDetailOut(GroupOut):
    children: list[str]
    apps: list[str] = Field(description="apps granted to this group")
    inherited_apps: list[str] = Field(description="apps granted to an ancestor, which this group's members enter too")


# services/queries/pages.py's SessionEntry.
SessionOut = _answer_of(
    SessionEntry, "SessionOut",
    methods="how the person signed in: RFC 8176 amr values in the order used (pwd, otp, fed, hwk, swk); empty "
            "for sessions from before they were recorded",
    signed_in_with='the same for people, naming the provider or directory: "password + one-time code", "idp", '
                   '"directory corp"')

# services/queries/pages.py's TenantSummary: host is null until `ostiary init` has set the base domain.
TenantOut = _answer_of(TenantSummary, "TenantOut")


class TenantPatch(Strict):
    session_idle_seconds: int = Field(description="a session unused this long ends (60 s to 30 days)")
    session_absolute_seconds: int = Field(description="no session lasts longer (5 minutes to 366 days; "
                                                      "at least the idle limit); shorter limits apply to open sessions")


class EndedOut(BaseModel):
    ended: int


# services/queries/audit.py's AuditEntry, as recorded (the admin page's words for it stay on the page).
AuditOut = _answer_of(AuditEntry, "AuditOut")


class KeyOut(BaseModel):
    id: str
    created_at: float
    retire_at: Optional[float]
    signing: bool


class RotateIn(Strict):
    overlap_seconds: Optional[int] = Field(
        None, strict=True, description="every older key verifies for at most this long (0: they stop within 2 s); "
        "default: this server's OSTIARY_KEY_OVERLAP_SECONDS")


class RotatedOut(BaseModel):
    id: str
    overlap_seconds: int
    keys: list[KeyOut] = Field(description="every key after the rotation, with the window it now has")


class TokenOut(BaseModel):
    id: int
    name: str
    scopes: list[str]


def loads(text: str) -> list:
    return json.loads(text or "[]")
