"""Settings: OSTIARY_* environment variables, or a TOML file named by
OSTIARY_CONFIG (environment wins). Validated once at start-up; every problem
is reported at once, each naming the setting, the rule and the fix."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class ConfigError(Exception):
    """Settings are invalid; `problems` lists every one of them."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SMTP_SECURITY = ("starttls", "tls", "none")
SMTP_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def config_file_problem() -> str | None:
    """Why the file OSTIARY_CONFIG names cannot be used, or None when it can
    (or none is named): a file that is silently skipped would be worse."""
    named = os.environ.get("OSTIARY_CONFIG")
    if not named:
        return None
    path = Path(named).absolute()
    if not path.exists():
        return f"OSTIARY_CONFIG names {path}, which does not exist: fix the path, or unset OSTIARY_CONFIG"
    if not path.is_file():
        return f"OSTIARY_CONFIG names {path}, which is not a file: name the TOML file itself"
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return f"OSTIARY_CONFIG names {path}, which cannot be read ({exc.strerror}): check its permissions"
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return f"OSTIARY_CONFIG names {path}, which is not valid TOML ({exc}): see docs/configuration.md"
    return None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# DNS servers as (address, port); empty: the system's resolvers.
Resolvers = tuple[tuple[str, int], ...]
DEFAULT_DNS_PORT = 53


def _items(value: object, setting: str) -> list[str]:
    """The entries of a list setting: "a,b" (environment, TOML string) or ["a", "b"] (TOML array)."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, (list, tuple)):
        parts = [p if isinstance(p, str) else str(p) for p in value]
    else:
        raise ValueError(f"must be a comma-separated list (a {type(value).__name__} was given) for {setting}")
    return [p.strip() for p in parts if p.strip()]


def parse_networks(value: object) -> tuple[Network, ...]:
    """"10.0.0.0/8, ::1/128" (or a list of them, or networks) as networks; ValueError names the bad entry."""
    if isinstance(value, (list, tuple)) and all(isinstance(n, (ipaddress.IPv4Network, ipaddress.IPv6Network))
                                                for n in value):
        return tuple(value)
    networks = []
    for part in _items(value, "networks"):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f'"{part}" is not a CIDR such as 10.0.0.0/8 or ::1/128') from None
    return tuple(networks)


def in_networks(address: str, networks: tuple[Network, ...]) -> bool:
    """Whether `address` (an IP address as text) lies in one of `networks`; False for anything not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


class ResolverConfigError(ValueError):
    """`OSTIARY_DNS_RESOLVERS` (or a value shaped like it) cannot be used."""


def parse_resolvers(value: object) -> Resolvers:
    """Parse "host[:port],host[:port]" into ((ip, port), ...); empty means the system's.

    IPv6 addresses take a port only in brackets: "[::1]:5353"; a bare "::1" uses port 53.
    """
    if isinstance(value, (list, tuple)) and all(isinstance(r, tuple) for r in value):
        value = [f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in value]  # already parsed: check again
    return tuple(_parse_resolver(item) for item in _items(value, "resolvers"))


def _parse_resolver(item: str) -> tuple[str, int]:
    host, port_text = item, ""
    if item.startswith("["):
        host, sep, rest = item[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ResolverConfigError(
                f'DNS resolver "{item}" is not "[IPv6]:port": write it like "[::1]:5353"'
            )
        port_text = rest[1:] if rest else ""
        if rest and not port_text:
            raise ResolverConfigError(f'DNS resolver "{item}" has an empty port: write "[::1]:5353"')
    elif item.count(":") == 1:
        host, port_text = item.split(":")
        if not port_text:
            raise ResolverConfigError(f'DNS resolver "{item}" has an empty port: write "{host}:53"')
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ResolverConfigError(
            f'DNS resolver "{item}" is not an IP address: give the server\'s address, '
            'such as "192.0.2.53" or "[2001:db8::53]:5353"'
        ) from None
    port = DEFAULT_DNS_PORT
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ResolverConfigError(
                f'DNS resolver "{item}" has port "{port_text}": use a number from 1 to 65535'
            )
        port = int(port_text)
    return str(address), port


def parse_listen(value: str) -> tuple[str | None, int | None]:
    """"127.0.0.1:9464" / "[::1]:9464" -> (host, port); (None, None) when it is neither."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None, None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None, None
    return host, int(port)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OSTIARY_", extra="forbid", frozen=True)

    data_dir: Path = Path("ostiary-data")
    database_url: str | None = None
    dev: bool = False
    # Port browsers use to reach tenant and portal hosts; None means the scheme's default.
    public_port: int | None = None
    forward_auth_cookie_ttl: int = 3600
    # How long the handshake token lives; the contract caps it at 60 s.
    handshake_token_ttl: int = 60
    # How often each worker looks for changes in the change log, in seconds.
    change_poll_interval: float = 0.2
    # Old signing keys keep verifying for this long after a rotation.
    key_overlap_seconds: int = 7 * 24 * 3600
    # DNS servers asked for verification, re-verification and doctor: "host[:port],…",
    # read once here; empty: the system's (docs/domains.md).
    dns_resolvers: Annotated[Resolvers, NoDecode] = ()
    dns_timeout: float = 5.0
    # Proxies whose X-Forwarded-For names the client (comma-separated CIDRs, read once here).
    trusted_proxies: Annotated[tuple[Network, ...], NoDecode] = ()
    # Besides loopback and the trusted proxies, where direct requests may read
    # /metrics and /readyz details (e.g. a Prometheus server); docs/operations.md.
    operator_networks: Annotated[tuple[Network, ...], NoDecode] = ()
    # Where operators' proxies reach Ostiary for /check (e.g. http://127.0.0.1:9090);
    # empty: the snippets use each domain's portal URL.
    proxy_upstream: str = ""
    # This instance's public addresses, for `ostiary doctor` (comma-separated IPs).
    public_addresses: str = ""
    # An NTP server for `ostiary doctor`'s clock check; empty: no network call.
    ntp_server: str = ""
    # How often domains are re-verified, and how long a vanished record is
    # tolerated (flagged) before the domain is disabled.
    reverify_interval: int = 6 * 3600
    domain_grace_seconds: int = 72 * 3600
    # Audit entries older than this many days are deleted by the periodic job
    # (0: kept forever); docs/admin.md, "Audit log".
    audit_retention_days: int = 365
    log_level: str = "info"
    # One event per line, as text or JSON (observability/logs.py, docs/operations.md "Logs").
    log_format: str = "text"
    # Where `ostiary serve` answers Prometheus with every worker's metrics summed; "off" for nowhere.
    metrics_listen: str = "127.0.0.1:9464"
    # The key file sealing signing keys and TOTP secrets at rest (ostiary/secretbox.py);
    # `ostiary serve` refuses to start without it unless OSTIARY_DEV=1 (docs/operations.md).
    secret_key_file: Path | None = None
    # Email for invitations, password resets and email changes (docs/email.md); no host: no email.
    smtp_host: str = ""
    smtp_port: int | None = None  # None: 587 for starttls, 465 for tls, 25 for none
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password_file: Path | None = None
    smtp_from: str = ""
    smtp_timeout: float = 10.0
    # Whether a passkey must prove the person (PIN, fingerprint) as well as
    # the device: required | preferred | discouraged (docs/sign-in.md).
    webauthn_user_verification: str = "preferred"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("OSTIARY_CONFIG")
        if toml_path and config_file_problem() is None:  # a bad file is reported by load_settings
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, v: object) -> object:
        if isinstance(v, str) and v.strip().lower() in LOG_LEVELS:
            return v.strip().lower()
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, v: object) -> object:
        if isinstance(v, str) and v.strip().lower() in ("text", "json"):
            return v.strip().lower()
        raise ValueError("must be text or json")

    @field_validator("metrics_listen")
    @classmethod
    def _metrics_listen(cls, v: str) -> str:
        v = v.strip()
        if v.lower() in ("", "off"):
            return "off"
        host, port = parse_listen(v)
        if host is None or port is None:
            raise ValueError(f'"{v}" is not ADDRESS:PORT such as 127.0.0.1:9464 or [::1]:9464 (or "off")')
        ip = ipaddress.ip_address(host)
        if ip.is_unspecified or not (ip.is_loopback or ip.is_private or ip.is_link_local):
            raise ValueError(f"{host} is not a loopback or private address: metrics show every tenant's activity, "
                             "so they are never served on a public address (docs/operations.md, \"Metrics\")")
        return v

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of the metrics listener, or None when it is off."""
        if self.metrics_listen == "off":
            return None
        host, port = parse_listen(self.metrics_listen)
        return host, port

    @field_validator("webauthn_user_verification", mode="before")
    @classmethod
    def _user_verification(cls, v: object) -> object:
        if isinstance(v, str) and v.strip().lower() in ("required", "preferred", "discouraged"):
            return v.strip().lower()
        raise ValueError("must be one of required, preferred, discouraged")

    @field_validator("secret_key_file", mode="before")
    @classmethod
    def _secret_key_file(cls, v: object) -> object:
        if v in (None, ""):
            return None
        from ostiary.secretbox import SecretKeyProblem, read_key_file

        try:
            read_key_file(Path(str(v)))
        except SecretKeyProblem as exc:
            raise ValueError(f"names {exc}") from None
        return Path(str(v)).absolute()

    @field_validator("smtp_security", mode="before")
    @classmethod
    def _smtp_security(cls, v: object) -> object:
        if isinstance(v, str) and v.strip().lower() in SMTP_SECURITY:
            return v.strip().lower()
        raise ValueError(f"must be one of {', '.join(SMTP_SECURITY)}")

    @field_validator("smtp_password_file", mode="before")
    @classmethod
    def _smtp_password_file(cls, v: object) -> object:
        if v in (None, ""):
            return None
        path = Path(str(v)).absolute()
        try:
            text = path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise ValueError(f"names {path}, which cannot be read ({reason}): fix the path or its permissions") from None
        if not text:
            raise ValueError(f"names {path}, which is empty: write the SMTP password into it")
        return path

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from(cls, v: str) -> str:
        from email.headerregistry import Address

        v = v.strip()
        if v and ("@" not in v or any(c in v for c in "<>\"\r\n ,;")):
            raise ValueError(f'"{v}" is not a bare address such as sso@example.com (the tenant\'s name is added as the sender name)')
        if v:
            try:
                Address(addr_spec=v)
            except (ValueError, IndexError):
                raise ValueError(f'"{v}" is not a bare address such as sso@example.com') from None
        return v

    @field_validator("smtp_port")
    @classmethod
    def _smtp_port(cls, v: int | None) -> int | None:
        if v is not None and not 1 <= v <= 65535:
            raise ValueError("must be between 1 and 65535")
        return v

    @field_validator("smtp_timeout")
    @classmethod
    def _smtp_timeout(cls, v: float) -> float:
        if not 0 < v <= 120:
            raise ValueError("must be more than 0 and at most 120 seconds")
        return v

    @model_validator(mode="after")
    def _smtp_complete(self) -> "Settings":
        if self.smtp_host and not self.smtp_from:
            raise ValueError("OSTIARY_SMTP_FROM is required with OSTIARY_SMTP_HOST: the address messages come from, "
                             "such as sso@example.com")
        if self.smtp_user and self.smtp_password_file is None:
            raise ValueError("OSTIARY_SMTP_USER needs OSTIARY_SMTP_PASSWORD_FILE: a file holding the SMTP password")
        return self

    @property
    def email_enabled(self) -> bool:
        """Whether Ostiary sends email at all (docs/email.md)."""
        return bool(self.smtp_host)

    @property
    def effective_smtp_port(self) -> int:
        return self.smtp_port or SMTP_DEFAULT_PORTS[self.smtp_security]

    @field_validator("key_overlap_seconds")
    @classmethod
    def _overlap(cls, v: int) -> int:
        if not 0 <= v <= 365 * 86400:
            raise ValueError("must be between 0 and 31536000 seconds (365 days)")
        return v

    @field_validator("public_port")
    @classmethod
    def _port_in_range(cls, v: int | None) -> int | None:
        if v is not None and not 1 <= v <= 65535:
            raise ValueError("must be between 1 and 65535")
        return v

    @field_validator("forward_auth_cookie_ttl")
    @classmethod
    def _cookie_ttl(cls, v: int) -> int:
        if not 60 <= v <= 7 * 24 * 3600:
            raise ValueError("must be between 60 seconds and 7 days")
        return v

    @field_validator("handshake_token_ttl")
    @classmethod
    def _token_ttl(cls, v: int) -> int:
        if not 5 <= v <= 60:
            raise ValueError("must be between 5 and 60 seconds (the contract caps tokens at 60 s)")
        return v

    @field_validator("change_poll_interval")
    @classmethod
    def _poll(cls, v: float) -> float:
        if not 0.02 <= v <= 0.5:
            raise ValueError("must be between 0.02 and 0.5 seconds so changes apply within 1 s")
        return v

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql:// (postgresql+psycopg:// also works)")
        return v

    @field_validator("trusted_proxies", "operator_networks", mode="before")
    @classmethod
    def _cidrs(cls, v: object) -> tuple[Network, ...]:
        return parse_networks(v)

    @field_validator("dns_resolvers", mode="before")
    @classmethod
    def _resolvers(cls, v: object) -> Resolvers:
        return parse_resolvers(v)

    @field_validator("proxy_upstream")
    @classmethod
    def _upstream(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL such as http://127.0.0.1:9090")
        return v.rstrip("/")

    @field_validator("public_addresses")
    @classmethod
    def _addresses(cls, v: str) -> str:
        for part in filter(None, (p.strip() for p in v.split(","))):
            try:
                ipaddress.ip_address(part)
            except ValueError:
                raise ValueError(f'"{part}" is not an IP address') from None
        return v

    @field_validator("reverify_interval")
    @classmethod
    def _reverify(cls, v: int) -> int:
        if not 60 <= v <= 7 * 24 * 3600:
            raise ValueError("must be between 60 seconds and 7 days")
        return v

    @field_validator("audit_retention_days")
    @classmethod
    def _audit_retention(cls, v: int) -> int:
        if not 0 <= v <= 36500:
            raise ValueError("must be a whole number of days from 0 (keep every entry) to 36500")
        return v

    @field_validator("domain_grace_seconds")
    @classmethod
    def _grace(cls, v: int) -> int:
        if not 0 <= v <= 90 * 24 * 3600:
            raise ValueError("must be between 0 and 90 days")
        return v

    @field_validator("dns_timeout")
    @classmethod
    def _dns_timeout(cls, v: float) -> float:
        if not 0 < v <= 60:
            raise ValueError("must be more than 0 and at most 60 seconds")
        return v

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            return url
        return f"sqlite:///{(self.data_dir / 'ostiary.db').resolve()}"

    def secret_box(self):
        """The box sealing stored secrets with the key file (none: stored in the clear)."""
        from ostiary.secretbox import SecretBox

        return SecretBox.from_file(self.secret_key_file)

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def public_scheme(self) -> str:
        return "http" if self.dev else "https"

    def public_url(self, host: str, path: str = "/") -> str:
        """Absolute URL of `path` on one of Ostiary's own hosts, as browsers see it."""
        default = 80 if self.public_scheme == "http" else 443
        port = f":{self.public_port}" if self.public_port and self.public_port != default else ""
        return f"{self.public_scheme}://{host}{port}{path}"


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings, listing every problem at once."""
    file_problem = config_file_problem()
    problems = [file_problem] if file_problem else []
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            env = f"OSTIARY_{field.upper()}" if err["type"] != "extra_forbidden" else field
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "is not a known setting: check the spelling against docs/configuration.md"
            # A rule across settings (e.g. OSTIARY_SMTP_HOST needs OSTIARY_SMTP_FROM) names them itself.
            problems.append(f"{env} {msg}" if err["loc"] else msg)
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return settings
