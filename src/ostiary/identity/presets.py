"""Presets only fill in defaults for a provider; every value can be changed.
What to register at each provider is in docs/identity-providers.md."""

from __future__ import annotations

from dataclasses import dataclass, field

ENTRA_MULTI_TENANT = ("common", "organizations")


@dataclass(frozen=True)
class Preset:
    name: str
    display_name: str
    issuer: str  # "" when the operator must give one
    scopes: str
    claims: dict = field(default_factory=dict)
    protocol: str = "oidc"  # oidc | github (plain OAuth 2 and its user API)


STANDARD_CLAIMS = {"username": "preferred_username", "email": "email", "display_name": "name", "groups": "groups"}

PRESETS = {
    "oidc": Preset("oidc", "OpenID Connect", "", "openid email profile", STANDARD_CLAIMS),
    "google": Preset("google", "Google", "https://accounts.google.com", "openid email profile",
                     {**STANDARD_CLAIMS, "username": "email", "groups": ""}),
    # The issuer is completed with the directory (tenant) id: entra_issuer().
    "entra": Preset("entra", "Microsoft", "", "openid email profile", STANDARD_CLAIMS),
    "gitlab": Preset("gitlab", "GitLab", "https://gitlab.com", "openid email profile",
                     {**STANDARD_CLAIMS, "username": "nickname", "groups": "groups"}),
    # LDAP / Active Directory: the issuer is the directory's ldaps:// or ldap:// URL (docs/identity-providers.md).
    "ldap": Preset("ldap", "Directory", "", "", {"username": "uid", "email": "mail", "display_name": "cn",
                                                 "groups": "memberOf"}, "ldap"),
    "github": Preset("github", "GitHub", "https://github.com", "read:user user:email",
                     {"username": "login", "email": "email", "display_name": "name", "groups": ""}, "github"),
}


def entra_issuer(directory: str) -> str:
    return f"https://login.microsoftonline.com/{directory}/v2.0"


def entra_directory(issuer: str) -> str | None:
    """The directory part of an Entra issuer URL, or None when it is not one."""
    prefix = "https://login.microsoftonline.com/"
    if not issuer.startswith(prefix) or not issuer.endswith("/v2.0"):
        return None
    return issuer[len(prefix):-len("/v2.0")]


def is_multi_tenant(issuer: str) -> bool:
    return entra_directory(issuer) in ENTRA_MULTI_TENANT
