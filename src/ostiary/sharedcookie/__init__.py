"""Shared-cookie single sign-on: a chat app's JWT cookie signs people in to its consoles (docs/contract.md §9).

Two halves:

- ``ostiary.sharedcookie.verifier``: verifies the chat's cookie. The gate
  imports only this half (PyJWT and the standard library).
- ``ostiary.sharedcookie.tooling``: the cookie doctor, the Caddy and Traefik
  snippets, the Set-Cookie rewrite, the ASGI and WSGI middlewares and the
  ``ostiary cookie-doctor`` command (httpx, publicsuffixlist, PyYAML,
  Starlette, click).

This package face names the public parts of both and imports a module only
when one of its names is first used: ``from ostiary.sharedcookie import
SharedCookieSource`` loads the verifier and nothing of the tooling.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_VERIFIER = "ostiary.sharedcookie.verifier"
_TOOLING = "ostiary.sharedcookie.tooling"

# Each public name, and the module that defines it.
_HOME: dict[str, str] = {
    **dict.fromkeys(("PUBLISHED_DEFAULT_SECRETS", "NotSignedIn", "SharedCookieConfigError", "SharedCookieIdentity",
                     "SharedCookieSource", "sign_in_link", "verify_shared_cookie"), f"{_VERIFIER}.jwtcookie"),
    **dict.fromkeys(("BrokenSource", "SharedCookieSettings", "build_source"), f"{_VERIFIER}.source_config"),
    "SharedCookieASGIMiddleware": f"{_TOOLING}.asgi",
    "SharedCookieWSGIMiddleware": f"{_TOOLING}.wsgi",
    **dict.fromkeys(("caddy_same_origin", "caddy_sibling_subdomains"), f"{_TOOLING}.caddy_snippets"),
    **dict.fromkeys(("TraefikSnippet", "traefik_same_origin", "traefik_sibling_subdomains"),
                    f"{_TOOLING}.traefik_snippets"),
    **dict.fromkeys(("DEFAULT_COOKIE_NAMES", "SetCookieRewrite", "SnippetSettingsError", "set_cookie_rewrites"),
                    f"{_TOOLING}.setcookie_rewrite"),
    **dict.fromkeys(("Finding", "SetCookie", "Severity", "breaks_sharing", "diagnose", "fetch_set_cookie_lines",
                     "parse_set_cookie", "render_findings"), f"{_TOOLING}.cookie_doctor"),
    "safe_next_path": "ostiary.urlrules",  # the one rule for a local return path, shared with the portal
}

# Names from before the shared-cookie rename, kept working (docs/upgrading.md).
ALIASES: dict[str, str] = {"ExternalJwtSource": "SharedCookieSource"}

__all__ = sorted([*_HOME, *ALIASES])


def __getattr__(name: str) -> Any:
    """Import the defining module on first use (PEP 562) and remember the name here."""
    target = ALIASES.get(name, name)
    home = _HOME.get(target)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), target)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and editors see; nothing is imported at run time
    from ostiary.sharedcookie.tooling.asgi import SharedCookieASGIMiddleware
    from ostiary.sharedcookie.tooling.caddy_snippets import caddy_same_origin, caddy_sibling_subdomains
    from ostiary.sharedcookie.tooling.cookie_doctor import (
        Finding, SetCookie, Severity, breaks_sharing, diagnose, fetch_set_cookie_lines, parse_set_cookie,
        render_findings,
    )
    from ostiary.urlrules import safe_next_path
    from ostiary.sharedcookie.tooling.setcookie_rewrite import (
        DEFAULT_COOKIE_NAMES, SetCookieRewrite, SnippetSettingsError, set_cookie_rewrites,
    )
    from ostiary.sharedcookie.tooling.traefik_snippets import (
        TraefikSnippet, traefik_same_origin, traefik_sibling_subdomains,
    )
    from ostiary.sharedcookie.tooling.wsgi import SharedCookieWSGIMiddleware
    from ostiary.sharedcookie.verifier.jwtcookie import (
        PUBLISHED_DEFAULT_SECRETS, NotSignedIn, SharedCookieConfigError, SharedCookieIdentity, SharedCookieSource,
        sign_in_link, verify_shared_cookie,
    )
    from ostiary.sharedcookie.verifier.jwtcookie import SharedCookieSource as ExternalJwtSource
    from ostiary.sharedcookie.verifier.source_config import BrokenSource, SharedCookieSettings, build_source
