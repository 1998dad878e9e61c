"""Characters no database can store (NUL, lone surrogates) in any string
input of the portal — query strings, path parameters, JSON bodies, forms,
the unauthenticated sign-in form included — are refused before any handler
sees them, with the same answer on SQLite and PostgreSQL
(docs/api.md#input-rules). A property test drives every API endpoint (read
from the OpenAPI document) and every form with generated strings: no 5xx."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostiary.portal.admin.routes import admin_routes
from tests.admin.test_api_inputs import admin_client, csrf, fields

HOSTILE = st.text(alphabet=st.sampled_from(["\x00", "\ud800", "\udfff", "\udcff", "a", "/", "%", "Ø", ",", " ", "\n"]),
                  min_size=1, max_size=8)
TEXT = st.one_of(HOSTILE, st.text(max_size=16))
FORM_FIELDS = ["name", "url", "parent", "group", "email", "username", "display_name", "password", "login", "next",
               "public_paths", "headers", "portal_host", "q", "scope", "code", "current_password", "new_password",
               "new_password_again", "remove", "overlap_seconds", "expires_in_days", "actor", "entity", "entity_id"]
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def encode(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def json_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()  # lone surrogates travel as \ud800 escapes


# --- the same clear answer everywhere ------------------------------------------------------

@pytest.mark.parametrize("method,path,body,field", [
    ("GET", "/users?q=a%00b", None, "q"),
    ("GET", "/audit?actor=%00", None, "actor"),
    ("GET", "/sessions?user=bob%00", None, "user"),
    ("GET", "/groups/st%00ff", None, "path"),
    ("GET", "/users/alice%00@acme.test", None, "path"),
    ("DELETE", "/apps/tools/grants/st%00ff", None, "path"),
    ("POST", "/groups", {"name": "a\x00"}, "name"),
    ("POST", "/users", {"email": "\ud800@acme.test"}, "email"),
    ("POST", "/apps", {"name": "x", "url": "https://x.acme-corp.test", "public_paths": ["/ok", "/n\x00"]},
     "public_paths.1"),
    ("PATCH", "/users/bob@acme.test", {"password": "correct horse \udfff"}, "password"),
])
def test_the_api_refuses_unstorable_characters_with_422_naming_the_field(api_world, method, path, body, field):
    with api_world.api(api_world.write_token) as api:
        r = api.request(method, path, content=None if body is None else json_bytes(body),
                        headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_input" and fields(r) == [field]
    assert "cannot be stored" in r.json()["message"]


def test_the_unauthenticated_sign_in_form_refuses_a_nul_in_the_login(api_world):
    with api_world.api() as browser:
        token = csrf(browser, api_world.url("/sign-in"))
        for login in ("alice\x00", "alice@acme.test\x00x", "\x00"):
            r = browser.post(api_world.url("/sign-in"), data={"login": login, "password": "x", "csrf": token})
            assert r.status_code == 400, r.text[:300]
            assert "U+0000" in r.text and "cannot be stored" in r.text and "Traceback" not in r.text
        r = browser.get(api_world.url("/sign-in"), params={"next": "/admin\x00"})
        assert r.status_code == 400 and "U+0000" in r.text


def test_admin_forms_and_searches_refuse_a_nul(api_world):
    with admin_client(api_world) as browser:
        token = csrf(browser, "/admin/groups")
        r = browser.post("/admin/groups", data={"name": "night\x00shift", "csrf": token})
        assert r.status_code == 400 and "name: must not contain U+0000" in r.text
        assert browser.get("/admin/users", params={"q": "\x00"}).status_code == 400
        assert "night" not in browser.get("/admin/groups").text  # nothing written


# --- every endpoint, every string input ----------------------------------------------------

def _operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, op) for path, item in spec["paths"].items() for method, op in item.items()
            if path != "/openapi.json"]


def _schema(spec: dict, ref_or_schema: dict) -> dict:
    if "$ref" in ref_or_schema:
        return spec["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[1]]
    for option in ref_or_schema.get("anyOf", []):
        if "$ref" in option:
            return _schema(spec, option)
    return ref_or_schema


def _body(spec: dict, op: dict, draw) -> dict | None:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return None
    body = {}
    for name, prop in _schema(spec, content["schema"]).get("properties", {}).items():
        kinds = {prop.get("type"), *(o.get("type") for o in prop.get("anyOf", []))}
        if "string" in kinds:
            body[name] = draw(TEXT)
        elif "array" in kinds:
            body[name] = draw(st.lists(TEXT, max_size=3))
    return body


@pytest.fixture(scope="module")
def openapi(api_world) -> dict:
    with api_world.api() as api:
        return api.get("/openapi.json").json()


def test_no_api_endpoint_answers_5xx_to_any_string_input(api_world, openapi):
    operations = _operations(openapi)
    assert len(operations) >= 30

    @PROPERTY
    @given(st.data())
    def check(data):
        method, path, op = data.draw(st.sampled_from(operations))
        url = re.sub(r"\{[^}]+\}", lambda _m: encode(data.draw(TEXT.filter(bool))), path)
        query = [(p["name"], data.draw(TEXT)) for p in op.get("parameters", []) if p["in"] == "query"
                 and p.get("schema", {}).get("type") in ("string", None)]
        if query:
            url += "?" + "&".join(f"{encode(k)}={encode(v)}" for k, v in query)
        body = _body(openapi, op, data.draw)
        with api_world.api(api_world.write_token) as api:
            r = api.request(method, url, content=None if body is None else json_bytes(body),
                            headers={"content-type": "application/json"})
        assert r.status_code < 500, (method, url, body, r.status_code, r.text[:300])
        assert r.status_code == 204 or "error" in r.json() or r.status_code < 300  # JSON, or nothing at all

    check()


def test_no_form_answers_5xx_to_any_string_input(api_world):
    forms = [route.path for route in admin_routes if "POST" in route.methods]
    forms += ["/sign-in", "/account/password", "/account/sessions/end"]

    @PROPERTY
    @given(st.data())
    def check(data):
        path = data.draw(st.sampled_from(forms))
        path = re.sub(r"\{[^}]+\}", lambda m: "999999" if ":int" in m.group(0) else encode(data.draw(TEXT)), path)
        values = {name: data.draw(TEXT) for name in data.draw(st.lists(st.sampled_from(FORM_FIELDS), max_size=4))}
        with admin_client(api_world) as browser:
            values["csrf"] = csrf(browser, "/admin/groups")
            body = "&".join(f"{encode(k)}={encode(v)}" for k, v in values.items())
            r = browser.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
            assert r.status_code < 500, (path, values, r.status_code, r.text[:300])
            q = data.draw(TEXT)
            page = browser.get(data.draw(st.sampled_from(["/admin/users", "/admin/groups", "/admin/apps", "/admin/audit",
                                                          "/sign-in"])) + f"?q={encode(q)}&next={encode(q)}")
            assert page.status_code < 500, (q, page.status_code)

    check()
