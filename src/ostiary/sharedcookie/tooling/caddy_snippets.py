"""Caddyfile snippets for a chat and its consoles sharing the chat's cookie.

Checked against Caddy 2.6.2 and 2.11 by the tests, which run exactly this text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ostiary.sharedcookie.tooling.setcookie_rewrite import (
    DEFAULT_COOKIE_NAMES,
    check_path_prefixes,
    set_cookie_rewrites,
    shared_cookie_domain,
)


def caddy_same_origin(chat_address: str, chat_upstream: str, consoles: Mapping[str, str], *,
                      tls: str | None = None) -> str:
    """Consoles under path prefixes of the chat's own host: the cookie is shared as is.

    ``consoles`` maps a path prefix (``/console``) to its upstream. The prefix
    is kept on the request, so each console must serve under it (configure its
    middleware with ``unauthorized_path="/console/unauthorized"``). A console
    gated by Ostiary's ``/check`` instead: paste the body of its generated
    Caddy snippet (the matcher and the ``route``) into this site block.
    """
    lines = [f"{chat_address} {{"] + _tls(tls)
    for index, (prefix, upstream) in enumerate(check_path_prefixes(consoles).items()):
        matcher = f"@console{index}"
        lines += [f"\t{matcher} path {prefix} {prefix}/*",
                  f"\thandle {matcher} {{",
                  f"\t\treverse_proxy {upstream}",
                  "\t}"]
    # Not in a `handle`: Caddy orders a bare reverse_proxy after `handle` and `route`, so the
    # forward-auth `route` Ostiary generates for a gated /console can be pasted into this block.
    lines += [f"\treverse_proxy {chat_upstream}", "}"]
    return "\n".join(lines) + "\n"


def caddy_sibling_subdomains(chat_address: str, chat_upstream: str, siblings: Mapping[str, str], *,
                             cookie_domain: str | None = None,
                             cookie_names: Sequence[str] = DEFAULT_COOKIE_NAMES,
                             tls: str | None = None) -> str:
    """Consoles on sibling subdomains; the chat's Set-Cookie gains Domain= and SameSite=Lax.

    ``siblings`` maps each console's site address to its upstream.
    """
    domain = shared_cookie_domain([chat_address, *siblings], cookie_domain)
    lines = [f"# Share the chat's cookies ({', '.join(cookie_names)}) with every host under {domain}.",
             "# The same rewrite hits the expired cookie the chat sends at sign-out.",
             f"{chat_address} {{"] + _tls(tls) + [f"\treverse_proxy {chat_upstream} {{"]
    for rewrite in set_cookie_rewrites(cookie_names, domain):
        lines.append(f"\t\theader_down Set-Cookie {_quoted(rewrite.regex)} {_quoted(rewrite.replacement)}")
    lines += ["\t}", "}"]
    for address, upstream in siblings.items():
        lines += ["", f"{address} {{"] + _tls(tls) + [f"\treverse_proxy {upstream}", "}"]
    return "\n".join(lines) + "\n"


def _tls(tls: str | None) -> list[str]:
    return [f"\ttls {tls}"] if tls else []


def _quoted(token: str) -> str:
    # Caddyfile double-quoted token: only `"` needs escaping; backslashes pass through.
    return '"' + token.replace('"', '\\"') + '"'

