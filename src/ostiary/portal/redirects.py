"""Which `rd` targets Ostiary will redirect to (docs/contract.md §4). One
function, used by /start, /authorize, /callback and the portal sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from ostiary.access import match_app
from ostiary.hostnames import split_host_port
from ostiary.snapshot.model import AppView, DomainView, Snapshot
from ostiary.translations import N_, Message
from ostiary.urlrules import normalise_request_path

MAX_RD = 4096


class RdRefused(Exception):
    """`rd` is not a target Ostiary redirects to; the message (a translations.Message, English as text) says why."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(message)


def validate_rd(rd: str | None, snap: Snapshot, domain: DomainView, allow_http: bool) -> AppView:
    """The app `rd` names, or RdRefused. `rd` must be an absolute https URL
    (http only in development mode) on an enabled app of `domain`."""
    if not rd:
        raise RdRefused(Message(N_("the address to return to (rd) is missing")))
    if len(rd) > MAX_RD:
        raise RdRefused(Message(N_("the address to return to is too long")))
    if any(ord(c) <= 32 or ord(c) >= 127 for c in rd):
        raise RdRefused(Message(N_("the address to return to contains spaces, control or non-ASCII characters")))
    if "\\" in rd:
        raise RdRefused(Message(N_("the address to return to contains a backslash")))
    schemes = ("https", "http") if allow_http else ("https",)
    scheme = rd.split("://", 1)[0] if "://" in rd else ""
    if scheme not in schemes:
        raise RdRefused(Message(N_("the address to return to must be an absolute https:// URL")))
    rest = rd[len(scheme) + 3:]
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if not netloc or "@" in netloc:
        raise RdRefused(Message(N_("the address to return to has no host, or has a user name in it")))
    try:
        parts = urlsplit(rd)
    except ValueError:
        raise RdRefused(Message(N_("the address to return to is not a valid URL"))) from None
    if parts.netloc != netloc:
        raise RdRefused(Message(N_("the address to return to is not a valid URL")))
    hp = split_host_port(netloc)
    host_text = netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
    if hp is None or hp[0] != host_text:
        raise RdRefused(Message(N_('"%(host)s" is not a plain lowercase host name'), host=netloc))
    path = parts.path or "/"
    uri = path + ("?" + parts.query if parts.query else "")
    app = match_app(snap, scheme, hp[0], hp[1], normalise_request_path(uri))
    if app is None or app.domain_id != domain.id or app.tenant_id != domain.tenant_id:
        raise RdRefused(Message(N_('"%(host)s" is not an app that %(portal)s signs in to'), host=netloc,
                                portal=domain.portal_host))
    return app
