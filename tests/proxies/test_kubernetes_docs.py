"""docs/proxies/kubernetes.md: Traefik's Middleware resources are the
file-provider snippet's middlewares, and each validates against Traefik's schema."""

from __future__ import annotations

import jsonschema
import yaml

from ostiary.proxies.traefik import dynamic_config
from tests.proxies.docs_sample import docs_crds


def test_traefik_middleware_resources_validate_against_traefiks_schema(traefik_schema):
    documents = list(yaml.safe_load_all(docs_crds()))
    assert [d["kind"] for d in documents] == ["Middleware"] * 3
    for document in documents:
        assert document["apiVersion"] == "traefik.io/v1alpha1"
        # A Middleware's spec is one middleware of the dynamic configuration.
        config = {"http": {"middlewares": {document["metadata"]["name"]: document["spec"]}}}
        jsonschema.validate(config, traefik_schema)


def test_traefik_middleware_resources_say_what_the_file_provider_snippet_says():
    from ostiary.proxies import AppFacts

    facts = AppFacts.for_app("Grafana", "https://grafana.acme-corp.com", "https://auth.acme-corp.com",
                             ostiary_address="http://ostiary.ostiary.svc:9090", upstream="http://grafana:3000")
    middlewares = dynamic_config(facts)["http"]["middlewares"]
    documents = list(yaml.safe_load_all(docs_crds()))
    assert {d["metadata"]["name"]: d["spec"] for d in documents} == middlewares
