"""The proxy-side Set-Cookie rewrite that lets sibling subdomains share a host-only cookie.

The chat (LibreChat) sets ``refreshToken`` host-only with ``SameSite=Strict``.
For ``console.example.com`` to receive it, the proxy in front of the chat
rewrites each matching ``Set-Cookie`` value: drop any ``Domain``, add
``Domain=<parent>``, and turn ``SameSite=Strict`` into ``Lax`` (so links from
other sites into a console arrive signed in). The same rules hit the expired
cookie the chat sends at sign-out; without that the shared copy would outlive
the sign-out on every sibling.

The rules are Go RE2 expressions with ``$1``-style replacements, applied to
each ``Set-Cookie`` value on its own: Caddy's ``header_down`` (2.6 and 2.11)
and the Traefik rewrite-headers plugin both work that way. Replacements avoid
``${1}``: Caddy would read ``{1}`` as an unknown placeholder and blank it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

DEFAULT_COOKIE_NAMES: tuple[str, ...] = ("refreshToken", "token_provider")

# RFC 6265 token characters, so a name can never smuggle regex or header syntax.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{2,63}$")


@functools.cache
def public_suffixes() -> PublicSuffixList:
    """The public suffix list (shared with cookie_doctor.py), read when first needed: not at
    import, which every CLI command pays."""
    return PublicSuffixList()


class SnippetSettingsError(ValueError):
    """A snippet setting cannot work; the message names the setting and the fix."""


@dataclass(frozen=True)
class SetCookieRewrite:
    regex: str
    replacement: str


def set_cookie_rewrites(cookie_names: Sequence[str], cookie_domain: str) -> list[SetCookieRewrite]:
    """The ordered rewrites for every ``Set-Cookie`` value of the named cookies."""
    names = check_cookie_names(cookie_names)
    domain = check_cookie_domain(cookie_domain)
    named = "(?:" + "|".join(re.escape(n) for n in names) + ")"
    # Group 1: the cookie's name=value plus the attributes before the one being changed.
    head = f"^({named}=[^;]*(?:;[^;]*)*?)"
    return [
        SetCookieRewrite(f"{head}(?i:;\\s*Domain=[^;]*)(.*)$", "$1$2"),
        SetCookieRewrite(f"^({named}=[^;]*)(.*)$", f"$1; Domain={domain}$2"),
        SetCookieRewrite(f"{head}(?i:;\\s*SameSite=Strict)(.*)$", "$1; SameSite=Lax$2"),
    ]


def check_cookie_names(cookie_names: Iterable[str]) -> tuple[str, ...]:
    names = tuple(cookie_names)
    if not names:
        raise SnippetSettingsError("cookie_names is empty: name the chat's cookies (LibreChat: refreshToken, "
                                   "token_provider)")
    for name in names:
        if not _COOKIE_NAME.match(name):
            raise SnippetSettingsError(f"cookie name {name!r} is not a valid cookie name (RFC 6265 token)")
        if name.startswith("__Host-"):
            raise SnippetSettingsError(f"cookie {name!r}: a __Host- cookie can never carry Domain=, so it cannot "
                                       "be shared with sibling subdomains; use the same-origin layout instead")
    return names


def check_cookie_domain(cookie_domain: str) -> str:
    domain = cookie_domain.strip().lower().lstrip(".")
    if not _HOST_NAME.match(domain):
        raise SnippetSettingsError(f"cookie_domain {cookie_domain!r} is not a DNS name like example.com")
    if public_suffixes().is_public(domain):
        raise SnippetSettingsError(f"cookie_domain {domain!r} is a public suffix: browsers refuse cookies for it; "
                                   f"use your own domain under it, e.g. example.{domain}")
    return domain


def host_of(address: str) -> str:
    """``chat.example.com:8443`` → ``chat.example.com``."""
    host = address.split("://", 1)[-1].split("/", 1)[0]
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def shared_cookie_domain(hosts: Sequence[str], cookie_domain: str | None) -> str:
    """The Domain= every host sits under: given, or the hosts' registrable domain."""
    names = [host_of(h) for h in hosts]
    domain = check_cookie_domain(cookie_domain or (public_suffixes().privatesuffix(names[0]) or names[0]))
    for name in names:
        if name != domain and not name.endswith("." + domain):
            raise SnippetSettingsError(f"host {name!r} is not under cookie_domain {domain!r}: put every sibling under "
                                       f"one domain, or gate it with Ostiary's forward-auth handshake instead")
    return domain


def check_path_prefixes(consoles: Mapping[str, str]) -> dict[str, str]:
    """Same-origin consoles: each prefix a plain path like /console."""
    if not consoles:
        raise SnippetSettingsError("consoles is empty: give at least one path prefix, e.g. {'/console': "
                                   "'127.0.0.1:8001'}")
    checked = {}
    for prefix, upstream in consoles.items():
        clean = "/" + prefix.strip("/")
        if clean == "/" or any(c in clean for c in " {}\"*?"):
            raise SnippetSettingsError(f"console prefix {prefix!r} must be a plain path like /console")
        checked[clean] = upstream
    return checked
