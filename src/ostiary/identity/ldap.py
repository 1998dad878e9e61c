"""Signing in against LDAP or Active Directory with ldap3: search for the
person with the directory's filter (bound as a service account, or
anonymously), then bind as the entry found with the password given. Always
over TLS (LDAPS, or StartTLS on ldap://) verified against the system CAs or
a CA file. Groups come from `memberOf` or a group search, mapped to Ostiary
groups like a provider's (docs/identity-providers.md)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPSocketOpenError, LDAPStartTLSError
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from ostiary.identity.provider import ProviderConfig, ProviderUnavailable, UpstreamPerson
from ostiary.identity.secrets import SecretUnavailable, read_secret

CONNECT_TIMEOUT = 5
RECEIVE_TIMEOUT = 10


@dataclass(frozen=True)
class DirectoryOptions:
    start_tls: bool
    ca_file: str
    user_base: str
    user_filter: str  # "{login}" is replaced by the escaped login
    group_base: str  # empty: groups from the memberOf attribute
    group_filter: str  # "{dn}" is replaced by the escaped entry DN

    @classmethod
    def of(cls, config: ProviderConfig) -> "DirectoryOptions":
        o = config.options
        return cls(start_tls=bool(o.get("start_tls")), ca_file=o.get("ca_file", ""), user_base=o.get("user_base", ""),
                   user_filter=o.get("user_filter", ""), group_base=o.get("group_base", ""),
                   group_filter=o.get("group_filter") or "(|(member={dn})(uniqueMember={dn}))")


class WrongCredentials(Exception):
    """No such entry (or it is excluded by the filter, e.g. disabled), or a wrong password."""


def _server(config: ProviderConfig, options: DirectoryOptions) -> ldap3.Server:
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=options.ca_file or None,
                    version=ssl.PROTOCOL_TLS_CLIENT)
    return ldap3.Server(config.issuer, use_ssl=config.issuer.lower().startswith("ldaps://"), tls=tls,
                        get_info=ldap3.NONE, connect_timeout=CONNECT_TIMEOUT)


def _bound(config: ProviderConfig, options: DirectoryOptions, user: str | None, password: str | None) -> ldap3.Connection:
    """An open, TLS-protected connection bound as `user` (anonymous when None); WrongCredentials when
    the directory refuses the bind, ProviderUnavailable when it cannot be reached or TLS fails."""
    conn = ldap3.Connection(_server(config, options), user=user, password=password, receive_timeout=RECEIVE_TIMEOUT,
                            raise_exceptions=False, auto_referrals=False)
    try:
        conn.open()
        if options.start_tls and not conn.start_tls():
            raise ProviderUnavailable(f"StartTLS with the directory failed: {conn.result.get('description')}")
        if not conn.bind():
            conn.unbind()
            raise WrongCredentials()
    except (LDAPSocketOpenError, LDAPStartTLSError, ssl.SSLError, OSError) as exc:
        raise ProviderUnavailable(f"the directory at {config.issuer} is not answering ({type(exc).__name__})") from None
    except LDAPException as exc:
        raise ProviderUnavailable(f"the directory at {config.issuer} answered an error ({type(exc).__name__})") from None
    return conn


def _service_bind(config: ProviderConfig, options: DirectoryOptions) -> ldap3.Connection:
    if not config.client_id:
        return _bound(config, options, None, None)
    try:
        password = read_secret(config.client_secret_ref)
    except SecretUnavailable as exc:
        raise ProviderUnavailable(str(exc).replace("client secret", "bind password")) from None
    try:
        return _bound(config, options, config.client_id, password)
    except WrongCredentials:
        raise ProviderUnavailable("the directory refused the service account's bind DN or password") from None


def _first(entry, attribute: str) -> str:
    if not attribute or attribute not in entry:
        return ""
    values = entry[attribute].values
    return str(values[0]) if values else ""


def _group_names(conn: ldap3.Connection, config: ProviderConfig, options: DirectoryOptions, entry) -> tuple[str, ...]:
    if options.group_base:
        query = options.group_filter.replace("{dn}", escape_filter_chars(entry.entry_dn))
        if not conn.search(options.group_base, query, attributes=["cn"], size_limit=1000) \
                and conn.result.get("result") not in (0, 32):
            raise ProviderUnavailable(f"the group search failed: {conn.result.get('description')}")
        return tuple(sorted(_first(g, "cn") for g in conn.entries if _first(g, "cn")))
    attribute = config.claims.get("groups") or ""
    if not attribute or attribute not in entry:
        return ()
    # A memberOf value is a group's DN: its name is the value of the first part (cn=NAME,...).
    names = []
    for dn in entry[attribute].values:
        try:
            names.append(str(parse_dn(str(dn))[0][1]))
        except (LDAPException, IndexError, ValueError):
            continue
    return tuple(sorted(names))


def authenticate(config: ProviderConfig, login: str, password: str) -> UpstreamPerson:
    """The directory's person for this login and password; WrongCredentials or ProviderUnavailable otherwise."""
    options = DirectoryOptions.of(config)
    if not login or not password:  # an empty password would be an unauthenticated bind that "succeeds"
        raise WrongCredentials()
    claims = config.claims
    attributes = [a for a in {claims.get("username"), claims.get("email"), claims.get("display_name"),
                              claims.get("groups"), "entryUUID", "objectGUID"} if a]
    conn = _service_bind(config, options)
    try:
        query = options.user_filter.replace("{login}", escape_filter_chars(login))
        if not conn.search(options.user_base, query, attributes=attributes, size_limit=2) \
                and conn.result.get("result") not in (0, 4, 32):
            raise ProviderUnavailable(f"the user search failed: {conn.result.get('description')}")
        entries = list(conn.entries)
        if len(entries) != 1:  # none, or an ambiguous filter: never guess which entry is meant
            raise WrongCredentials()
        entry = entries[0]
        groups = _group_names(conn, config, options, entry)
    finally:
        conn.unbind()
    person = _bound(config, options, entry.entry_dn, password)  # the password is checked by the directory
    person.unbind()
    subject = _first(entry, "entryUUID") or _first(entry, "objectGUID") or entry.entry_dn
    return UpstreamPerson(
        subject=subject, email=_first(entry, claims.get("email", "")),
        # The organisation's own directory: its email is as verified as the admin who set it up trusts
        # it; linking by email still needs the domain listed as trusted.
        email_verified=True, username=_first(entry, claims.get("username", "")),
        display_name=_first(entry, claims.get("display_name", "")), groups=groups)
