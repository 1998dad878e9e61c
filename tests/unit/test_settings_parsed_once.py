"""Trusted proxies, operator networks and DNS resolvers are typed settings:
parsed and validated once when the settings load, refused there with a
message naming the setting (docs/configuration.md)."""

from __future__ import annotations

import ipaddress

import pytest

from ostiary.config import ConfigError, load_settings


def test_network_settings_load_as_networks(monkeypatch, tmp_path):
    monkeypatch.delenv("OSTIARY_CONFIG", raising=False)
    monkeypatch.setenv("OSTIARY_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8")
    monkeypatch.setenv("OSTIARY_OPERATOR_NETWORKS", "::1")
    settings = load_settings(data_dir=tmp_path)
    assert settings.trusted_proxies == (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))
    assert settings.operator_networks == (ipaddress.ip_network("::1/128"),)


def test_a_toml_array_works_as_well_as_a_comma_separated_string(monkeypatch, tmp_path):
    toml = tmp_path / "ostiary.toml"
    toml.write_text('trusted_proxies = ["192.0.2.0/24"]\ndns_resolvers = "127.0.0.1:5353"\n')
    monkeypatch.delenv("OSTIARY_TRUSTED_PROXIES", raising=False)
    monkeypatch.delenv("OSTIARY_DNS_RESOLVERS", raising=False)
    monkeypatch.setenv("OSTIARY_CONFIG", str(toml))
    settings = load_settings(data_dir=tmp_path)
    assert settings.trusted_proxies == (ipaddress.ip_network("192.0.2.0/24"),)
    assert settings.dns_resolvers == (("127.0.0.1", 5353),)


@pytest.mark.parametrize("name, value, words", [
    ("OSTIARY_TRUSTED_PROXIES", "10.0.0.0/8, proxy.lan", '"proxy.lan" is not a CIDR'),
    ("OSTIARY_OPERATOR_NETWORKS", "10.0.0.0/33", '"10.0.0.0/33" is not a CIDR'),
    ("OSTIARY_DNS_RESOLVERS", "127.0.0.1:0", "use a number from 1 to 65535"),
])
def test_a_bad_value_is_refused_at_load_naming_the_setting(monkeypatch, tmp_path, name, value, words):
    monkeypatch.delenv("OSTIARY_CONFIG", raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        load_settings(data_dir=tmp_path)
    [problem] = refused.value.problems
    assert problem.startswith(name + " ") and words in problem
