"""Upstream identity providers per tenant (OpenID Connect, and GitHub's
OAuth 2): adding, changing and removing them, their group mappings, and
the tenant's switch for password sign-in. Client secrets are referenced
("file:/path" or "env:NAME"), read when used, and never stored or shown
(docs/identity-providers.md)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Row, select, update

from ostiary.hostnames import normalise_hostname
from ostiary.identity.presets import ENTRA_MULTI_TENANT, PRESETS, entra_directory, entra_issuer, is_multi_tenant
from ostiary.identity.provider import ProviderConfig
from ostiary.identity.secrets import SecretUnavailable, read_secret, secret_ref_problem
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, NotFound, Problems
from ostiary.services.base.text_rules import control_character_problem
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity, record_change
from ostiary.store.tables import groups, identity_providers, linked_identities, provider_group_map, tenants

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
CLAIM_RE = re.compile(r"^[A-Za-z0-9_:.\-/]{1,100}$")
DIRECTORY_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CLAIM_KEYS = ("username", "email", "display_name", "groups")
LDAP_OPTIONS = ("start_tls", "ca_file", "user_base", "user_filter", "group_base", "group_filter")
POLICIES = ("existing", "create")


@dataclass(frozen=True)
class ProviderSettings:
    """What an admin sets; None leaves a value as it is (on change) or takes the preset's (on add)."""

    preset: str | None = None
    display_name: str | None = None
    issuer: str | None = None
    directory: str | None = None  # Entra: a directory (tenant) id or domain, or common / organizations
    allowed_directories: list[str] | None = None
    client_id: str | None = None
    client_secret_ref: str | None = None
    scopes: str | None = None
    claims: dict | None = None
    account_policy: str | None = None
    create_domains: list[str] | None = None
    trusted_domains: list[str] | None = None
    enabled: bool | None = None
    # LDAP only (the issuer is the ldaps:// or ldap:// URL, client_id the bind DN, the secret its password).
    start_tls: bool | None = None
    ca_file: str | None = None
    user_base: str | None = None
    user_filter: str | None = None
    group_base: str | None = None
    group_filter: str | None = None

    def directory_options(self) -> dict:
        return {k: getattr(self, k) for k in LDAP_OPTIONS if getattr(self, k) is not None}


# --- validation ------------------------------------------------------------------------------

def _validate_name(name: str, problems: Problems) -> str:
    name = (name or "").strip().lower()
    if not NAME_RE.match(name):
        problems.add("name", N_('"%(name)s" is not a provider name: use 1-63 lowercase letters, digits and inner '
                                'hyphens, e.g. "google" (it appears in the redirect URI)'), name=name)
    return name


def _validate_issuer(value: str, problems: Problems, allow_http: bool, field: str = "issuer") -> str:
    value = (value or "").strip().rstrip("/")
    scheme, sep, rest = value.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0] if sep else ""
    if not sep or scheme not in (("https", "http") if allow_http else ("https",)) or not host \
            or "?" in value or "#" in value or "@" in rest or control_character_problem(value):
        problems.add(field, N_('"%(value)s" is not an issuer URL: use https://host[/path] with no query or fragment')
                     if allow_http else
                     N_('"%(value)s" is not an issuer URL: use https://host[/path] with no query or fragment '
                        '(http only in development mode)'), value=value)
    return value


def _validate_domains(values: list[str], problems: Problems, field: str) -> list[str]:
    out = []
    for raw in values:
        name = normalise_hostname((raw or "").strip().lstrip("@"))
        if name is None or "." not in name:
            problems.add(field, N_('"%(domain)s" is not an email domain such as example.com'), domain=raw)
        elif name not in out:
            out.append(name)
    return out


def _validate_claims(claims: dict, problems: Problems) -> dict:
    out = {}
    for key, value in claims.items():
        if key not in CLAIM_KEYS:
            problems.add("claims", N_('"%(key)s" is not a claim Ostiary maps: use %(keys)s'), key=key, keys=", ".join(CLAIM_KEYS))
        elif value in ("", None) and key == "groups":
            out[key] = ""
        elif not isinstance(value, str) or not CLAIM_RE.match(value):
            problems.add(f"claims.{key}", N_('"%(value)s" is not a claim name (letters, digits and _ : . - /; dots '
                                             "reach into objects, e.g. realm_access.roles)"), value=value)
        else:
            out[key] = value
    return out


def _entra_issuer(directory: str | None, problems: Problems) -> str:
    directory = (directory or "").strip()
    if not directory or not (DIRECTORY_RE.match(directory) or directory in ENTRA_MULTI_TENANT
                             or normalise_hostname(directory)):
        problems.add("directory", N_("Microsoft Entra ID needs the directory (tenant) id, e.g. "
                                     "00000000-0000-0000-0000-000000000000, or common / organizations with "
                                     "--allowed-directory for each admitted directory"))
        return ""
    return entra_issuer(directory)


def _check_secret(ref: str, problems: Problems) -> str:
    ref = (ref or "").strip()
    problem = secret_ref_problem(ref)
    if problem:
        problems.add("client_secret", problem)
        return ref
    try:
        read_secret(ref)
    except SecretUnavailable as exc:
        problems.add("client_secret", N_("%(problem)s: the server reads it at every sign-in"),
                     problem=str(exc).removeprefix("client secret: "))
    return ref


def _values(current: dict, s: ProviderSettings, problems: Problems, allow_http: bool) -> dict:
    """The row's values after applying `s` over `current` (a row as a dict, or the preset's defaults)."""
    v = dict(current)
    if s.preset is not None and s.preset not in PRESETS:
        problems.add("preset", N_('"%(preset)s" is not a preset: choose one of %(presets)s'), preset=s.preset,
                     presets=", ".join(PRESETS))
        return v
    if s.display_name is not None:
        v["display_name"] = s.display_name.strip()
    if not v["display_name"] or len(v["display_name"]) > 100 or control_character_problem(v["display_name"]):
        problems.add("display_name", N_("must be 1-100 characters without control characters"))
    if s.directory is not None:
        if v["preset"] != "entra":
            problems.add("directory", N_("is only for the entra preset: give other providers an issuer"))
        v["issuer"] = _entra_issuer(s.directory, problems)
    ldap = PRESETS[v["preset"]].protocol == "ldap"
    if s.issuer is not None:
        v["issuer"] = _validate_ldap_url(s.issuer, problems) if ldap else _validate_issuer(s.issuer, problems, allow_http)
    if not v["issuer"]:
        if v["preset"] == "entra":
            problems.add("directory", N_("is required: the Entra directory (tenant) id"))
        else:
            problems.add("issuer", N_("is required: the provider's issuer URL, e.g. %(example)s"),
                         example="https://id.example.com")
    if s.allowed_directories is not None:
        bad = [d for d in s.allowed_directories if not DIRECTORY_RE.match(d.strip())]
        for d in bad:
            problems.add("allowed_directories", N_('"%(directory)s" is not an Entra directory (tenant) id (a GUID)'), directory=d)
        v["allowed_directories"] = json.dumps(sorted({d.strip().lower() for d in s.allowed_directories}))
    if v["issuer"] and is_multi_tenant(v["issuer"]) and not json.loads(v["allowed_directories"]):
        problems.add("allowed_directories", N_("the multi-tenant endpoint (%(endpoint)s) admits any "
                                               "Microsoft directory: list each admitted directory id"),
                     endpoint=entra_directory(v["issuer"]))
    if s.client_id is not None:
        v["client_id"] = s.client_id.strip()
    if (not v["client_id"] and not ldap) or len(v["client_id"]) > 255 or control_character_problem(v["client_id"]):
        problems.add("client_id", N_("is required: the client (application) id the provider gave, at most 255 "
                                     "characters"))
    if s.client_secret_ref is not None:
        v["client_secret_ref"] = _check_secret(s.client_secret_ref, problems)
    elif not v["client_secret_ref"] and (v["client_id"] or not ldap):
        problems.add("client_secret", N_("is required: --client-secret-file PATH or --client-secret-env NAME "
                                         "(the bind DN's password)") if ldap else
                     N_("is required: --client-secret-file PATH or --client-secret-env NAME"))
    if ldap:
        v["options"] = json.dumps(_directory_options({**json.loads(v["options"]), **settings_options(s)}, v["issuer"],
                                                     problems), sort_keys=True)
    elif settings_options(s):
        problems.add(next(iter(settings_options(s))), N_("is only for LDAP directories (preset ldap)"))
    if s.scopes is not None:
        v["scopes"] = " ".join(s.scopes.replace(",", " ").split())
    if PRESETS[v["preset"]].protocol == "oidc" and "openid" not in v["scopes"].split():
        problems.add("scopes", N_('must include "openid" for an OpenID Connect provider'))
    if len(v["scopes"]) > 400 or control_character_problem(v["scopes"]):
        problems.add("scopes", N_("must be at most 400 characters without control characters"))
    if s.claims is not None:
        v["claims"] = json.dumps({**json.loads(v["claims"]), **_validate_claims(s.claims, problems)}, sort_keys=True)
    if s.account_policy is not None:
        if s.account_policy not in POLICIES:
            problems.add("account_policy", N_('"%(account_policy)s" is not a policy: "existing" admits only people '
                                              'who already have an account, "create" also creates accounts'), account_policy=s.account_policy)
        v["account_policy"] = s.account_policy
    if s.create_domains is not None:
        v["create_domains"] = json.dumps(_validate_domains(s.create_domains, problems, "create_domains"))
    if s.trusted_domains is not None:
        v["trusted_domains"] = json.dumps(_validate_domains(s.trusted_domains, problems, "trusted_domains"))
    if s.enabled is not None:
        v["enabled"] = bool(s.enabled)
    return v


def settings_options(s: ProviderSettings) -> dict:
    return s.directory_options()


def _validate_ldap_url(value: str, problems: Problems) -> str:
    value = (value or "").strip().rstrip("/")
    scheme, sep, rest = value.partition("://")
    host = rest.rsplit(":", 1)[0] if sep else ""
    port = rest.rsplit(":", 1)[1] if sep and ":" in rest else "389"
    if scheme.lower() not in ("ldap", "ldaps") or not normalise_hostname(host.strip("[]")) and not host.startswith("[") \
            or "/" in rest or not port.isdigit() or control_character_problem(value):
        problems.add("issuer", N_('"%(value)s" is not a directory URL: use ldaps://host[:port] or '
                                  "ldap://host[:port] (with StartTLS)"), value=value)
    return value


def _directory_options(o: dict, url: str, problems: Problems) -> dict:
    o = {k: (v.strip() if isinstance(v, str) else v) for k, v in o.items() if k in LDAP_OPTIONS}
    o["start_tls"] = bool(o.get("start_tls"))
    if url.lower().startswith("ldap://") and not o["start_tls"]:
        problems.add("start_tls", N_("ldap:// sends passwords in the clear: turn StartTLS on, or use ldaps://"))
    if url.lower().startswith("ldaps://") and o["start_tls"]:
        problems.add("start_tls", N_("ldaps:// is already TLS: StartTLS is for ldap:// only"))
    if o.get("ca_file"):
        if not Path(o["ca_file"]).is_absolute() or not Path(o["ca_file"]).is_file():
            problems.add("ca_file", N_('"%(ca_file)s" is not a readable file given by its absolute path'), ca_file=o["ca_file"])
    if not o.get("user_base"):
        problems.add("user_base", N_("is required: the DN people are searched under, e.g. ou=people,dc=example,dc=com"))
    if "{login}" not in (o.get("user_filter") or "") or not o["user_filter"].startswith("("):
        problems.add("user_filter", N_("must be an LDAP filter with {login}, e.g. "
                                       "(&(objectClass=inetOrgPerson)(uid={login}))"))
    if o.get("group_filter") and "{dn}" not in o["group_filter"]:
        problems.add("group_filter", N_("must contain {dn}, e.g. (member={dn})"))
    for key in ("user_base", "user_filter", "group_base", "group_filter", "ca_file"):
        if o.get(key) and (len(o[key]) > 1000 or control_character_problem(o[key])):
            problems.add(key, N_("must be at most 1000 characters without control characters"))
    return o


def _defaults(preset_name: str) -> dict:
    preset = PRESETS.get(preset_name) or PRESETS["oidc"]
    return {"preset": preset.name, "display_name": preset.display_name, "issuer": preset.issuer, "client_id": "",
            "client_secret_ref": "", "scopes": preset.scopes, "claims": json.dumps(preset.claims, sort_keys=True),
            "allowed_directories": "[]", "account_policy": "existing", "create_domains": "[]",
            "trusted_domains": "[]", "enabled": True, "options": "{}"}


# --- reads -----------------------------------------------------------------------------------

def _by_name(scope: TenantScope, name: str) -> Row:
    row = scope.one(identity_providers, identity_providers.c.name == (name or "").strip().lower())
    if row is None:
        raise NotFound("provider", N_('no provider "%(name)s" in this tenant: see `ostiary provider list`'), name=name)
    return row


def get_provider(store: Store, tenant_id: int, name: str) -> Row:
    with store.read() as conn:
        return _by_name(TenantScope(conn, tenant_id), name)


def get_provider_by_id(store: Store, tenant_id: int, provider_id: int) -> Row:
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(identity_providers, identity_providers.c.id == provider_id)
    if row is None:
        raise NotFound("provider", N_("no provider with id %(provider_id)s in this tenant"), provider_id=provider_id)
    return row


def list_providers(store: Store, tenant_id: int, limit: int = 1000, offset: int = 0) -> list[Row]:
    with store.read() as conn:
        return TenantScope(conn, tenant_id).rows(identity_providers, order_by=identity_providers.c.name,
                                                 limit=limit, offset=offset)


def count_providers(store: Store, tenant_id: int) -> int:
    with store.read() as conn:
        return TenantScope(conn, tenant_id).count(identity_providers)


def config_for(store: Store, tenant_id: int, name: str) -> ProviderConfig | None:
    """The enabled provider of that name, as the sign-in flow uses it; None otherwise."""
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(identity_providers, identity_providers.c.name == name,
                                               identity_providers.c.enabled.is_(True))
    return ProviderConfig.from_row(row) if row is not None else None


def mappings(store: Store, tenant_id: int, provider_id: int) -> list[tuple[str, str]]:
    """(upstream group, Ostiary group) pairs, sorted."""
    with store.read() as conn:
        rows = conn.execute(
            select(provider_group_map.c.upstream_group, groups.c.name)
            .join(groups, groups.c.id == provider_group_map.c.group_id)
            .where(provider_group_map.c.tenant_id == tenant_id, provider_group_map.c.provider_id == provider_id)
        )
        return sorted((r.upstream_group, r.name) for r in rows)


def redirect_path(name: str) -> str:
    return f"/sign-in/with/{name}/callback"


# --- changes ---------------------------------------------------------------------------------

def add_provider(store: Store, tenant_id: int, actor: Actor, name: str, settings: ProviderSettings,
                 allow_http: bool = False) -> Row:
    problems = Problems()
    name = _validate_name(name, problems)
    values = _values(_defaults(settings.preset or "oidc"), settings, problems, allow_http)
    problems.raise_if_any()
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        if scope.one(identity_providers, identity_providers.c.name == name):
            raise Conflict("name", N_('provider "%(name)s" already exists in this tenant: choose another name'), name=name)
        pid = scope.insert(identity_providers, name=name, created_at=now, updated_at=now, **values)
        scope.audit(actor.name, "provider.add", "provider", pid, actor.addr, **_audit_detail(name, values))
        scope.changed(Entity.PROVIDER, pid)
        return scope.one(identity_providers, identity_providers.c.id == pid)


def _audit_detail(name: str, values: dict) -> dict:
    # The secret's reference is recorded (where it is read from), never a secret.
    return {"name": name, **{k: values[k] for k in ("preset", "issuer", "client_id", "client_secret_ref", "scopes",
                                                      "account_policy", "enabled", "options") if k in values}}


def update_provider(store: Store, tenant_id: int, actor: Actor, name: str, settings: ProviderSettings,
                    allow_http: bool = False) -> Row:
    if settings.preset is not None:
        raise Conflict("preset", N_("a provider's preset cannot change: remove it and add it again"))
    current = get_provider(store, tenant_id, name)
    problems = Problems()
    before = {k: getattr(current, k) for k in _defaults(current.preset)}
    values = _values(before, settings, problems, allow_http)
    problems.raise_if_any()
    changed = {k: v for k, v in values.items() if v != before[k]}
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        scope.update(identity_providers, identity_providers.c.id == current.id, updated_at=time.time(), **changed)
        scope.audit(actor.name, "provider.change", "provider", current.id, actor.addr, name=current.name,
                    changed=sorted(changed))
        scope.changed(Entity.PROVIDER, current.id)
        return scope.one(identity_providers, identity_providers.c.id == current.id)


def remove_provider(store: Store, tenant_id: int, actor: Actor, name: str) -> int:
    """Removes the provider, its mappings and every identity linked through it; answers how many links
    went. Sessions already open stay: sign the people out to end them."""
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row = _by_name(scope, name)
        links = scope.delete(linked_identities, linked_identities.c.provider_id == row.id)
        scope.delete(provider_group_map, provider_group_map.c.provider_id == row.id)
        scope.delete(identity_providers, identity_providers.c.id == row.id)
        scope.audit(actor.name, "provider.remove", "provider", row.id, actor.addr, name=row.name, links=links)
        scope.changed(Entity.PROVIDER, row.id)
        return links


def map_group(store: Store, tenant_id: int, actor: Actor, name: str, upstream_group: str, group: str,
              remove: bool = False) -> None:
    """Members of `upstream_group` at the provider are put in `group` at every sign-in, and taken
    out of it when the provider no longer lists them there."""
    upstream_group = (upstream_group or "").strip()
    problems = Problems()
    if not upstream_group or len(upstream_group) > 255 or control_character_problem(upstream_group):
        problems.add("upstream_group", N_("must be 1-255 characters: the group or role name (or id) the provider "
                                          "sends"))
    problems.raise_if_any()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row = _by_name(scope, name)
        target = scope.one(groups, groups.c.name == (group or "").strip())
        if target is None:
            raise NotFound("group", N_('no group "%(name)s" in this tenant: see `ostiary group list`'), name=group)
        where = (provider_group_map.c.provider_id == row.id, provider_group_map.c.upstream_group == upstream_group,
                 provider_group_map.c.group_id == target.id)
        if remove:
            if not scope.delete(provider_group_map, *where):
                raise NotFound("mapping", N_('"%(upstream_group)s" is not mapped to "%(group)s" for provider '
                                             '"%(name)s"'), upstream_group=upstream_group, group=group, name=row.name)
        elif scope.one(provider_group_map, *where) is None:
            scope.insert(provider_group_map, provider_id=row.id, upstream_group=upstream_group, group_id=target.id)
        else:
            return
        scope.audit(actor.name, "provider.unmap" if remove else "provider.map", "provider", row.id, actor.addr,
                    upstream_group=upstream_group, group=target.name)
        scope.changed(Entity.PROVIDER, row.id)


# --- the tenant's password switch ------------------------------------------------------------

def password_sign_in(store: Store, tenant_id: int) -> bool:
    with store.read() as conn:
        return bool(conn.execute(select(tenants.c.password_sign_in).where(tenants.c.id == tenant_id)).scalar())


def set_password_sign_in(store: Store, tenant_id: int, actor: Actor, on: bool) -> None:
    """Off: people sign in only through providers; administrators keep their password as the
    break-glass way in (docs/identity-providers.md)."""
    with store.write() as conn:
        conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(password_sign_in=on))
        TenantScope(conn, tenant_id).audit(actor.name, "tenant.password_sign_in", "tenant", tenant_id, actor.addr,
                                           on=on)
        record_change(conn, tenant_id, Entity.TENANT, tenant_id)


def password_refused(store: Store, tenant_id: int, user: Row) -> bool:
    """With password sign-in off, only administrators may still use a password (break-glass)."""
    return not user.is_admin and not password_sign_in(store, tenant_id)


@dataclass(frozen=True)
class SignInOptions:
    password: bool
    providers: list[tuple[str, str]]  # (name, display name) of enabled providers
    directories: list[tuple[str, str]] = ()  # the same, for LDAP directories (a form of their own)


def sign_in_options(store: Store, tenant_id: int) -> SignInOptions:
    with store.read() as conn:
        scope = TenantScope(conn, tenant_id)
        rows = scope.rows(identity_providers, identity_providers.c.enabled.is_(True),
                          order_by=identity_providers.c.display_name)
        on = conn.execute(select(tenants.c.password_sign_in).where(tenants.c.id == tenant_id)).scalar()
    return SignInOptions(bool(on), [(r.name, r.display_name) for r in rows if r.preset != "ldap"],
                         [(r.name, r.display_name) for r in rows if r.preset == "ldap"])
