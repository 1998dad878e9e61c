"""Shared-cookie single sign-on: a chat app's JWT cookie signs people in to its consoles (docs/contract.md §9)."""

from ostiary.sharedcookie.asgi import SharedCookieASGIMiddleware
from ostiary.sharedcookie.caddy_snippets import caddy_same_origin, caddy_sibling_subdomains
from ostiary.sharedcookie.doctor import (
    Finding,
    SetCookie,
    Severity,
    breaks_sharing,
    diagnose,
    fetch_set_cookie_lines,
    parse_set_cookie,
    render_findings,
)
from ostiary.sharedcookie.jwtcookie import (
    PUBLISHED_DEFAULT_SECRETS,
    ExternalJwtSource,
    NotSignedIn,
    SharedCookieConfigError,
    SharedCookieIdentity,
    verify_shared_cookie,
)
from ostiary.sharedcookie.notsignedin import safe_next_path, sign_in_link
from ostiary.sharedcookie.setcookie_rewrite import (
    DEFAULT_COOKIE_NAMES,
    SetCookieRewrite,
    SnippetSettingsError,
    set_cookie_rewrites,
)
from ostiary.sharedcookie.traefik_snippets import TraefikSnippet, traefik_same_origin, traefik_sibling_subdomains
from ostiary.sharedcookie.wsgi import SharedCookieWSGIMiddleware

__all__ = [
    "DEFAULT_COOKIE_NAMES",
    "PUBLISHED_DEFAULT_SECRETS",
    "ExternalJwtSource",
    "Finding",
    "NotSignedIn",
    "SetCookie",
    "SetCookieRewrite",
    "Severity",
    "SharedCookieASGIMiddleware",
    "SharedCookieConfigError",
    "SharedCookieIdentity",
    "SharedCookieWSGIMiddleware",
    "SnippetSettingsError",
    "TraefikSnippet",
    "breaks_sharing",
    "caddy_same_origin",
    "caddy_sibling_subdomains",
    "diagnose",
    "fetch_set_cookie_lines",
    "parse_set_cookie",
    "render_findings",
    "safe_next_path",
    "set_cookie_rewrites",
    "sign_in_link",
    "traefik_same_origin",
    "traefik_sibling_subdomains",
    "verify_shared_cookie",
]
