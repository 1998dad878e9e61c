import pytest

from ostiary.config import ConfigError, ResolverConfigError, load_settings, parse_resolvers
from ostiary.dns.resolvers import format_resolvers


@pytest.mark.parametrize(
    "value, expected",
    [
        ("127.0.0.1:5353", (("127.0.0.1", 5353),)),
        ("192.0.2.53", (("192.0.2.53", 53),)),
        ("[::1]:5353", (("::1", 5353),)),
        ("[2001:db8::53]", (("2001:db8::53", 53),)),
        ("::1", (("::1", 53),)),
        ("2001:db8::1", (("2001:db8::1", 53),)),
        (" 127.0.0.1:5353 , [::1]:5354,192.0.2.1 ", (("127.0.0.1", 5353), ("::1", 5354), ("192.0.2.1", 53))),
        ("127.0.0.1,", (("127.0.0.1", 53),)),
        (["127.0.0.1:5353", "[::1]"], (("127.0.0.1", 5353), ("::1", 53))),  # a TOML array
    ],
)
def test_parse_resolvers_reads_hosts_with_and_without_ports(value, expected):
    assert parse_resolvers(value) == expected


@pytest.mark.parametrize("value", [None, "", "   ", ","])
def test_parse_resolvers_returns_nothing_for_the_system_resolvers_when_unset(value):
    assert parse_resolvers(value) == ()


@pytest.mark.parametrize(
    "value, words",
    [
        ("dns.example.com", "is not an IP address"),
        ("127.0.0.1:", "empty port"),
        ("127.0.0.1:99999", "use a number from 1 to 65535"),
        ("127.0.0.1:abc", "use a number from 1 to 65535"),
        ("[::1", '"[IPv6]:port"'),
        ("[::1]5353", '"[IPv6]:port"'),
        ("[::1]:", "empty port"),
        ("127.0.0.1:53, resolver.lan", '"resolver.lan" is not an IP address'),
    ],
)
def test_parse_resolvers_refuses_bad_entries_naming_the_entry_and_the_fix(value, words):
    with pytest.raises(ResolverConfigError) as refused:
        parse_resolvers(value)
    assert words in str(refused.value)


def test_format_resolvers_brackets_ipv6_and_names_the_system_default():
    assert format_resolvers([("127.0.0.1", 5353), ("::1", 53)]) == "127.0.0.1:5353, [::1]:53"
    assert format_resolvers(None) == "the system's resolvers"


def test_the_setting_is_parsed_once_at_load_and_a_bad_entry_is_refused_naming_it(monkeypatch):
    monkeypatch.setenv("OSTIARY_DNS_RESOLVERS", "127.0.0.1:5353, [::1]")
    assert load_settings().dns_resolvers == (("127.0.0.1", 5353), ("::1", 53))
    monkeypatch.setenv("OSTIARY_DNS_RESOLVERS", "127.0.0.1:53, resolver.lan")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert refused.value.problems == [
        'OSTIARY_DNS_RESOLVERS DNS resolver "resolver.lan" is not an IP address: give the server\'s address, '
        'such as "192.0.2.53" or "[2001:db8::53]:5353"']
