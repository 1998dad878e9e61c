"""Everything a proxy snippet needs to know about one proxy app.

`AppFacts` is deliberately dumb: the caller (service layer, CLI, tests) fills
it in, `__post_init__` refuses anything that could break out of a generated
config (quotes, spaces, newlines, braces), and the renderers only read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ostiary import wire
from ostiary.hostnames import to_a_labels

DEFAULT_UPSTREAM = "http://127.0.0.1:3000"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_IPV6 = re.compile(r"^[0-9a-fA-F:.]+$")
# Only unreserved characters and "%" (already percent-encoded): nothing that
# means something to Caddyfile, nginx or YAML syntax.
_PATH_PREFIX = re.compile(r"^(/[A-Za-z0-9._~%-]+)+$")
_COOKIE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_FILE_PATH = re.compile(r"^/[A-Za-z0-9._/@+-]+$")


@dataclass(frozen=True, kw_only=True)
class AppFacts:
    """One proxy app as a reverse proxy sees it.

    - ``host``/``scheme``/``port``/``path_prefix``: the app's external URL
      (``port`` is None for the scheme's default port).
    - ``portal_url``: the portal host's public base URL, e.g.
      ``https://auth.acme-corp.test``; its host[:port] is the ``Host`` header
      every check subrequest carries, because ``/forward-auth/check`` knows
      the portal host only from that header.
    - ``ostiary_address``: where the proxy opens the connection for the check
      subrequest when that is not the portal URL itself, e.g. an internal
      ``http://127.0.0.1:9090``. The ``Host`` header stays the portal host.
    - ``upstream``: the app's own address (placeholder the operator edits).
    - ``tls_certificate``/``tls_certificate_key``: certificate files for the
      nginx server block (Caddy and Traefik manage certificates themselves).
    """

    app_name: str
    host: str
    portal_url: str
    scheme: str = "https"
    port: int | None = None
    path_prefix: str = ""
    identity_headers: tuple[str, ...] = wire.IDENTITY_HEADER_KEYS
    forward_auth_cookie: str = wire.FORWARD_AUTH_COOKIE
    upstream: str = DEFAULT_UPSTREAM
    ostiary_address: str | None = None
    tls_certificate: str | None = None
    tls_certificate_key: str | None = None
    _portal: tuple[str, str, int | None] = field(init=False, repr=False, compare=False)
    _ostiary: tuple[str, str, int | None] = field(init=False, repr=False, compare=False)
    _upstream: tuple[str, str, int | None] = field(init=False, repr=False, compare=False)

    @classmethod
    def for_app(cls, app_name: str, url: str, portal_url: str, **options) -> AppFacts:
        """Build facts from the app's external URL, e.g. ``https://grafana.acme-corp.test/x``."""
        parts = urlsplit(url)
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError(f'app URL "{url}" must not carry userinfo, a query or a fragment')
        if not parts.hostname:
            raise ValueError(f'app URL "{url}" has no host')
        path = parts.path.rstrip("/")
        return cls(
            app_name=app_name,
            scheme=parts.scheme,
            host=parts.hostname,
            port=parts.port,
            path_prefix=path,
            portal_url=portal_url,
            **options,
        )

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not self.app_name.strip() or any(ord(c) < 32 or c == "\x7f" for c in self.app_name):
            raise ValueError("app name must be non-empty and free of control characters")
        if self.scheme not in _DEFAULT_PORTS:
            raise ValueError(f'app URL scheme "{self.scheme}" must be http or https')
        set_(self, "host", _dns_name(self.host, "app URL host"))
        port = self.port
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"app URL port {port} must be between 1 and 65535")
        if port == _DEFAULT_PORTS[self.scheme]:
            set_(self, "port", None)
        if self.path_prefix and not _PATH_PREFIX.match(self.path_prefix):
            raise ValueError(
                f'app path prefix "{self.path_prefix}" must look like /name/more, using only '
                "letters, digits and . _ ~ % -"
            )
        if any(seg in (".", "..") for seg in self.path_prefix.split("/")):
            raise ValueError(f'app path prefix "{self.path_prefix}" must not contain . or .. segments')
        set_(self, "_portal", _origin(self.portal_url, "portal URL", names_only=True))
        set_(self, "_ostiary", _origin(self.ostiary_address or self.portal_url, "Ostiary address"))
        set_(self, "_upstream", _origin(self.upstream, "upstream address"))
        headers = tuple(self.identity_headers)
        unknown = [key for key in headers if key not in wire.IDENTITY_HEADERS]
        if unknown or len(set(headers)) != len(headers):
            raise ValueError(
                f"identity headers {list(headers)} must be distinct keys out of "
                f"{', '.join(wire.IDENTITY_HEADER_KEYS)}"
            )
        set_(self, "identity_headers", tuple(k for k in wire.IDENTITY_HEADER_KEYS if k in headers))
        if not _COOKIE_NAME.match(self.forward_auth_cookie):
            raise ValueError(f'forward-auth cookie name "{self.forward_auth_cookie}" must use letters, digits, _ . -')
        for name in ("tls_certificate", "tls_certificate_key"):
            value = getattr(self, name)
            if value is not None and not _FILE_PATH.match(value):
                raise ValueError(f'{name} "{value}" must be an absolute path without spaces or quotes')

    # -- the app as the browser sees it --------------------------------------

    @property
    def external_hostport(self) -> str:
        """``host`` or ``host:port`` when the port is not the scheme's default."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def external_url(self) -> str:
        return f"{self.scheme}://{self.external_hostport}{self.path_prefix}"

    @property
    def listen_port(self) -> int:
        return self.port or _DEFAULT_PORTS[self.scheme]

    @property
    def slug(self) -> str:
        """A name for routers, middlewares, maps and upstreams: lowercase letters, digits, ``-``."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.app_name.lower()).strip("-")
        return slug or re.sub(r"[^a-z0-9]+", "-", self.host).strip("-")

    @property
    def header_names(self) -> tuple[str, ...]:
        """Wire names of the enabled identity headers, in wire order."""
        return tuple(wire.IDENTITY_HEADERS[key] for key in self.identity_headers)

    @property
    def disabled_header_names(self) -> tuple[str, ...]:
        return tuple(name for key, name in wire.IDENTITY_HEADERS.items() if key not in self.identity_headers)

    # -- Ostiary as the proxy reaches it --------------------------------------

    @property
    def portal_host(self) -> str:
        """The ``Host`` header of every check subrequest: the portal host[:port]."""
        scheme, host, port = self._portal
        return host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"

    @property
    def portal_hostname(self) -> str:
        return self._portal[1]

    @property
    def ostiary_scheme(self) -> str:
        return self._ostiary[0]

    @property
    def ostiary_hostport(self) -> str:
        """``host:port`` the proxy connects to for the check (port always explicit)."""
        scheme, host, port = self._ostiary
        return _join_hostport(host, port or _DEFAULT_PORTS[scheme])

    @property
    def ostiary_base(self) -> str:
        """``scheme://host:port`` the proxy connects to for the check."""
        return f"{self.ostiary_scheme}://{self.ostiary_hostport}"

    @property
    def reaches_portal_by_name(self) -> bool:
        """True when the connection target is the portal URL itself (Host follows from the URL)."""
        return self._ostiary[:2] == self._portal[:2] and self.ostiary_hostport == _join_hostport(
            self._portal[1], self._portal[2] or _DEFAULT_PORTS[self._portal[0]]
        )

    @property
    def check_url(self) -> str:
        """The check endpoint at the connection target (send ``Host: portal_host`` with it)."""
        return self.ostiary_base + wire.CHECK_PATH

    @property
    def portal_check_url(self) -> str:
        """The check endpoint by the portal's public name."""
        return f"{self._portal[0]}://{self.portal_host}{wire.CHECK_PATH}"

    # -- the app's own server ------------------------------------------------

    @property
    def upstream_scheme(self) -> str:
        return self._upstream[0]

    @property
    def upstream_hostport(self) -> str:
        scheme, host, port = self._upstream
        return _join_hostport(host, port or _DEFAULT_PORTS[scheme])

    @property
    def upstream_host(self) -> str:
        return self._upstream[1]

    @property
    def upstream_port(self) -> int:
        scheme, _, port = self._upstream
        return port or _DEFAULT_PORTS[scheme]

    @property
    def upstream_url(self) -> str:
        return f"{self.upstream_scheme}://{self.upstream_hostport}"

    @property
    def nginx_certificate(self) -> str:
        return self.tls_certificate or f"/etc/letsencrypt/live/{self.host}/fullchain.pem"

    @property
    def nginx_certificate_key(self) -> str:
        return self.tls_certificate_key or f"/etc/letsencrypt/live/{self.host}/privkey.pem"


def _dns_name(value: str, what: str) -> str:
    name = value.strip().rstrip(".").lower()
    name = name if name.isascii() else to_a_labels(name)
    if name is None:
        raise ValueError(f'{what} "{value}" is not a valid DNS name')
    if not _DNS_NAME.match(name):
        raise ValueError(f'{what} "{value}" is not a valid DNS name')
    return name


def _join_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _origin(url: str, what: str, *, names_only: bool = False) -> tuple[str, str, int | None]:
    """Split ``scheme://host[:port]`` (no path, query or userinfo) and check each part."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(f'{what} "{url}" must start with http:// or https://')
    if parts.username or parts.password or parts.query or parts.fragment or parts.path.strip("/"):
        raise ValueError(f'{what} "{url}" must be scheme://host[:port] with nothing after it')
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f'{what} "{url}" has an invalid port') from None
    if _IPV4.match(host) or (":" in host and _IPV6.match(host)):
        if names_only:
            raise ValueError(f'{what} "{url}" must name the portal host, not an IP address')
        return parts.scheme, host, port
    return parts.scheme, _dns_name(host, f"{what} host"), port
