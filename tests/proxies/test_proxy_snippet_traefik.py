"""The Traefik snippets: YAML and labels validate against Traefik's schema and agree."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from ostiary.proxies import render_snippet
from ostiary.proxies.traefik import dynamic_config
from ostiary.proxies.traefik_labels import labels_to_dynamic_config
from tests.proxies.variants import facts_variants

VARIANTS = facts_variants("/c", "/k")


def _labels(text: str) -> dict[str, str]:
    entries = yaml.safe_load(text)["labels"]
    return dict(entry.split("=", 1) for entry in entries)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_traefik_yaml_validates_against_traefik_v3_schema(traefik_schema, variant):
    config = yaml.safe_load(render_snippet(VARIANTS[variant], "traefik"))
    jsonschema.validate(config, traefik_schema)
    assert config == dynamic_config(VARIANTS[variant])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_traefik_labels_translate_to_the_yaml_structure_and_validate(traefik_schema, variant):
    facts = VARIANTS[variant]
    labels = _labels(render_snippet(facts, "traefik-labels"))
    config = labels_to_dynamic_config(labels, traefik_schema, server_host=facts.upstream_host)
    jsonschema.validate(config, traefik_schema)
    assert config == yaml.safe_load(render_snippet(facts, "traefik"))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_traefik_forward_auth_copies_exactly_the_enabled_headers(variant):
    facts = VARIANTS[variant]
    config = yaml.safe_load(render_snippet(facts, "traefik"))
    (auth,) = [m["forwardAuth"] for m in config["http"]["middlewares"].values() if "forwardAuth" in m]
    assert auth.get("authResponseHeaders", []) == list(facts.header_names)
    assert auth["trustForwardHeader"] is False
    assert auth["address"] == f"{facts.check_url}/{facts.portal_host}"
    assert auth["authRequestHeaders"] == ["Cookie", "Accept", "Sec-Fetch-Mode", "X-Requested-With"]


def test_traefik_strips_every_client_identity_header_before_forward_auth():
    config = yaml.safe_load(render_snippet(VARIANTS["no-headers"], "traefik"))["http"]
    (router,) = config["routers"].values()
    strip, auth, cookie = router["middlewares"]
    assert "forwardAuth" in config["middlewares"][auth]
    assert config["middlewares"][cookie] == {"plugin": {"ostiary": {"stripCookies": "_ostiary_fa"}}}
    removed = config["middlewares"][strip]["headers"]["customRequestHeaders"]
    # Alias spellings (X_Forwarded-User...) go at the entry point: aliasHeadersStrategy: delete.
    assert removed == {f"X-Forwarded-{base}": "" for base in ("User", "Email", "Groups", "Display-Name")}


def test_label_translator_refuses_an_option_traefik_does_not_have(traefik_schema):
    with pytest.raises(ValueError, match='no option "trustforwardheaders"'):
        labels_to_dynamic_config(
            {"traefik.http.middlewares.a.forwardauth.trustforwardheaders": "false"}, traefik_schema, server_host="x"
        )


def test_label_translator_reads_option_names_case_insensitively(traefik_schema):
    config = labels_to_dynamic_config(
        {"traefik.http.middlewares.a.forwardauth.AUTHRESPONSEHEADERS": "X-A,X-B"}, traefik_schema, server_host="x"
    )
    assert config == {"http": {"middlewares": {"a": {"forwardAuth": {"authResponseHeaders": ["X-A", "X-B"]}}}}}
