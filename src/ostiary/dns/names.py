"""Rules for the names a tenant registers: the protected domain and its portal host.

Each rule returns None when the name passes, or one sentence naming the field, the rule and the fix.
"""

from __future__ import annotations

import functools
import ipaddress
import re

import idna
from publicsuffixlist import PublicSuffixList

from ostiary.hostnames import to_a_labels
from ostiary.translations import N_, Message

MAX_NAME_LENGTH = 253
_LDH_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@functools.cache
def _public_suffix_list() -> PublicSuffixList:
    return PublicSuffixList()


def is_public_suffix(name: str) -> bool:
    """True for names anyone can register under, such as "com", "co.uk" or "github.io"."""
    return _public_suffix_list().is_public(normalise_domain(name))


def normalise_domain(name: str) -> str:
    """Lowercase, without surrounding spaces or the trailing dot, and in IDNA A-labels where it converts.

    A name that cannot be converted comes back only lowercased; `domain_problem` then says why.
    """
    name = name.strip().rstrip(".").lower()
    if name.isascii():
        return name
    return to_a_labels(name) or name


def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


# What a name is called in a reason (a Message, so a page translates it with the reason).
_WHAT = {"domain": N_("domain"), "portal host": N_("portal host")}


def host_name_problem(name: str, field: str = "domain") -> Message | None:
    """Whether `name` is a DNS host name at all: not empty, not an IP, valid labels, two labels or more."""
    raw = name
    name = normalise_domain(name)
    what = Message(_WHAT.get(field, field))
    if not name:
        return Message(N_('%(what)s is empty: enter a DNS name such as "acme-corp.com"'), what=what)
    if is_ip_address(name):
        return Message(N_('%(what)s "%(name)s" is an IP address: enter a DNS name such as "acme-corp.com"'),
                       what=what, name=raw)
    if not name.isascii():
        return Message(N_('%(what)s "%(name)s" is not a valid internationalised name (IDNA): '
                          "check its spelling or enter its xn-- form"), what=what, name=raw)
    if len(name) > MAX_NAME_LENGTH:
        return Message(N_('%(what)s "%(name)s" is longer than %(max)d characters: choose a shorter name'),
                       what=what, name=raw, max=MAX_NAME_LENGTH)
    for label in name.split("."):
        problem = _label_problem(label)
        if problem:
            return Message(N_('%(what)s "%(name)s" has %(problem)s'), what=what, name=raw, problem=problem)
    if "." not in name:
        return Message(N_('%(what)s "%(name)s" is a single label (browsers share no cookie across it): '
                          'enter the full domain name, such as "acme-corp.com"'), what=what, name=raw)
    return None


def _label_problem(label: str) -> Message | None:
    if not label:
        return Message(N_('an empty label (two dots in a row): remove the extra "."'))
    if len(label) > 63:
        return Message(N_('the label "%(label)s…" longer than 63 characters: shorten it'), label=label[:20])
    if _LDH_LABEL.match(label):
        if label[2:4] == "--" and not label.startswith("xn--"):
            return Message(N_('the label "%(label)s" with "--" in third and fourth position: remove those hyphens'),
                           label=label)
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except idna.IDNAError:
                return Message(N_('the label "%(label)s" that is not valid IDNA: check the xn-- form'), label=label)
        return None
    if label.startswith("-") or label.endswith("-"):
        return Message(N_('the label "%(label)s" starting or ending with a hyphen: remove the hyphen'), label=label)
    return Message(N_('the label "%(label)s" with characters other than letters, digits and hyphens: '
                      'use only a-z, 0-9 and "-"'), label=label)


def domain_problem(domain: str) -> Message | None:
    """Why `domain` cannot be registered as a protected domain, or None."""
    problem = host_name_problem(domain, "domain")
    if problem:
        return problem
    name = normalise_domain(domain)
    if is_public_suffix(name):
        return Message(N_('domain "%(domain)s" is a public suffix (anyone can register names under it, '
                          "so browsers refuse cookies for it): register a domain under it that you control, "
                          'such as "yourname.%(name)s"'), domain=domain, name=name)
    return None


def portal_host_problem(portal_host: str, domain: str) -> Message | None:
    """Why `portal_host` cannot serve `domain`'s sign-in, or None. Assumes `domain` itself passed."""
    problem = host_name_problem(portal_host, "portal host")
    if problem:
        return problem
    host, base = normalise_domain(portal_host), normalise_domain(domain)
    if host != base and not host.endswith("." + base):
        return Message(N_('portal host "%(host)s" is not under "%(base)s": '
                          'choose "%(base)s" or a name ending in ".%(base)s", such as "login.%(base)s"'),
                       host=portal_host, base=base)
    return None


def registration_problems(domain: str, portal_host: str) -> list[tuple[str, str]]:
    """Every (field, reason) why the pair cannot be registered, all at once; empty when it can.

    Fields are "domain" and "portal_host". Store the names as `normalise_domain` returns them.
    """
    problem = domain_problem(domain)
    if problem:
        host_problem = host_name_problem(portal_host, "portal host")
        return [("domain", problem)] + ([("portal_host", host_problem)] if host_problem else [])
    problem = portal_host_problem(portal_host, domain)
    return [("portal_host", problem)] if problem else []
