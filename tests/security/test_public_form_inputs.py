"""The public forms reached by email or used for passkeys — "Forgot your
password?", the reset, invitation and email-confirmation links, the
invitation's passkey form, the account's email change and the passkey
answers — against hostile input on a real `ostiary serve` with a real SMTP
server: characters no database can store (NUL, lone surrogates) are refused
with 400 naming the field, bodies over the limit with 413, oversize and
malformed values with a 4xx that says what is wrong, and nothing answers 5xx
(docs/api.md#input-rules, docs/email.md). tests/admin/test_unstorable_input.py
does the same for the admin forms and the API."""

from __future__ import annotations

import itertools
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostiary.services.rules import users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.input_limits import MAX_BODY_BYTES
from tests.email.conftest import PASSWORD
from tests.email.test_email_browser import CSRF, World, link_in
from tests.support.server import loopback_client

pytestmark = pytest.mark.slow

HOSTILE = st.text(alphabet=st.sampled_from(["\x00", "\ud800", "\udfff", "\udcff", "a", "/", "%", "Ø", ",", " ", "\n",
                                            "{", "[", '"', "&", "="]), min_size=1, max_size=8)
TEXT = st.one_of(HOSTILE, st.text(max_size=16), st.just("x" * 5000))
# Each public form and the fields it reads (the CSRF token is added valid, so the handler itself is reached).
FORMS = {
    "/forgot-password": ["email"],
    "/reset-password": ["token", "new_password", "new_password_again"],
    "/invitation": ["token", "new_password", "new_password_again"],
    "/invitation/passkey": ["token", "name", "state", "credential"],
    "/confirm-email": ["token"],
    "/account/email": ["new_email", "password"],
    "/account/passkeys": ["name", "password", "state", "credential", "from", "next"],
    "/sign-in/passkey": ["state", "credential", "login", "next"],
    "/second-factor/passkey": ["state", "credential", "next"],
}
PAGES = ["/forgot-password", "/reset-password", "/invitation", "/confirm-email"]
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_addresses = (f"203.0.113.{n}" for n in itertools.count(100))


def encode(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def form_body(values: dict[str, str]) -> str:
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in values.items())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("public-forms-world"))
    yield w
    w.close()


def client(world, signed_in: str | None = None):
    """A browser-like client from its own address, holding a CSRF cookie (and a session when asked)."""
    c = loopback_client(world.tls.ca_cert, headers={"x-forwarded-for": next(_addresses)})
    page = c.get(world.url("/forgot-password" if signed_in is None else "/sign-in"))
    c.csrf = CSRF.search(page.text).group(1)
    if signed_in:
        r = c.post(world.url("/sign-in"), data={"csrf": c.csrf, "login": signed_in, "password": PASSWORD})
        assert r.status_code in (302, 303), r.text[:300]
    return c


def post(c, world, path: str, values: dict[str, str]):
    values = {"csrf": c.csrf, **values}
    return c.post(world.url(path), content=form_body(values),
                  headers={"content-type": "application/x-www-form-urlencoded"})


@pytest.fixture(scope="module")
def links(world) -> dict[str, str]:
    """A live invitation and reset token, so the forms are fuzzed past the link check too."""
    with world.api() as api:
        assert api.post("/invitations", json={"email": "fuzz-invited@acme.test"}).status_code == 201
    invitation = link_in(world.smtp.wait_for("fuzz-invited@acme.test")[0]).rsplit("=", 1)[1]
    c = client(world)
    assert post(c, world, "/forgot-password", {"email": "bob@acme.test"}).status_code == 200
    reset = link_in(world.smtp.wait_for("bob@acme.test")[-1]).rsplit("=", 1)[1]
    return {"/invitation": invitation, "/invitation/passkey": invitation, "/reset-password": reset}


def _clear(r) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:300])
    assert "Traceback" not in r.text and "Internal Server Error" not in r.text


# --- the same clear answer for each field --------------------------------------------------

@pytest.mark.parametrize("path,field", [(p, f) for p, fs in FORMS.items() for f in fs if not p.startswith("/account")])
def test_each_public_field_refuses_a_nul_naming_it(world, path, field):
    c = client(world)
    r = post(c, world, path, {field: "a\x00b"})
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert f"{field}: must not contain U+0000, which cannot be stored" in r.text
    # A lone surrogate cannot travel in a URL-encoded form: its bytes arrive as U+FFFD, and are judged as any text.
    _clear(post(c, world, path, {field: "a\ud800b"}))


_people = itertools.count(1)


@pytest.mark.parametrize("path,field", [(p, f) for p in ("/account/email", "/account/passkeys") for f in FORMS[p]])
def test_the_signed_in_forms_refuse_a_nul_naming_the_field(world, path, field):
    email = f"nul{next(_people)}@acme.test"
    users.add_user(world.store, world.tenant_id, CLI_ACTOR, email=email, password=PASSWORD)
    c = client(world, signed_in=email)
    r = post(c, world, path, {field: "x\x00"})
    assert r.status_code == 400 and f"{field}: must not contain U+0000" in r.text


@pytest.mark.parametrize("page", PAGES)
def test_the_link_pages_refuse_a_nul_in_the_token_and_oversize_tokens_are_no_link(world, page):
    c = client(world)
    r = c.get(world.url(page) + "?token=" + encode("abc\x00"))
    assert r.status_code == 400 and "token: must not contain U+0000" in r.text
    if page != "/forgot-password":
        for token in ("A" * 5000, encode("abc\udfff")):
            r = c.get(world.url(page) + "?token=" + token)
            assert r.status_code == 410 and "cannot be used" in r.text


@pytest.mark.parametrize("path", list(FORMS))
def test_a_body_over_the_limit_is_refused_before_it_is_read(world, path):
    c = client(world)
    r = post(c, world, path, {"name": "x" * (MAX_BODY_BYTES + 10)})
    assert r.status_code == 413 and f"request bodies are limited to {MAX_BODY_BYTES} bytes" in r.text


def test_oversize_and_malformed_values_get_a_clear_4xx(world, links):
    c = client(world)
    big = "x" * 60_000
    # An oversize token is no link.
    for path in ("/reset-password", "/invitation", "/confirm-email", "/invitation/passkey"):
        r = post(c, world, path, {"token": big, "new_password": "long enough password",
                                  "new_password_again": "long enough password", "name": "Laptop", "credential": "{}"})
        assert r.status_code == 410 and "cannot be used" in r.text, (path, r.status_code)
    # An oversize password on a live link: the rule, named.
    long = "y" * 30_000  # twice, within the body limit
    r = post(c, world, "/invitation", {"token": links["/invitation"], "new_password": long, "new_password_again": long})
    assert r.status_code == 422 and "must be at most 1024 characters long" in r.text
    # The passkey answer: missing, not JSON, nested past any parser, oversize, or a JSON that is no answer.
    deep = "[" * 5_000  # under the 16 KB answer limit, deeper than the parser recurses
    for credential, status, said in (("", 400, "answer is missing"), ("not json", 400, "answer is missing"),
                                     (deep, 400, "answer is missing"), (big, 400, "answer is missing"),
                                     ('{"id": 1, "response": []}', 400, "passkey request expired")):
        r = post(c, world, "/invitation/passkey", {"token": links["/invitation"], "name": "Laptop",
                                                    "state": "x", "credential": credential})
        assert r.status_code == status and said in r.text, (credential[:20], r.status_code, r.text[:300])
        for path in ("/sign-in/passkey", "/second-factor/passkey"):
            _clear(post(c, world, path, {"state": "x", "credential": credential}))
    # An oversize passkey name, with an answer present: the name's rule.
    r = post(c, world, "/invitation/passkey", {"token": links["/invitation"], "name": big, "state": "x",
                                                "credential": "{}"})
    assert r.status_code == 422 and "name: must be 1-100 characters" in r.text
    # The link survived every refusal.
    assert c.get(world.url("/invitation?token=" + links["/invitation"])).status_code == 200


# --- every public form, any string input -----------------------------------------------------

def test_no_public_form_answers_5xx_to_any_string_input(world, links):
    users.add_user(world.store, world.tenant_id, CLI_ACTOR, email="fuzz-account@acme.test", password=PASSWORD)
    anonymous, signed_in = client(world), client(world, signed_in="fuzz-account@acme.test")

    @PROPERTY
    @given(st.data())
    def check(data):
        path = data.draw(st.sampled_from(list(FORMS)))
        fields = data.draw(st.lists(st.sampled_from(FORMS[path]), max_size=4, unique=True))
        values = {name: data.draw(TEXT) for name in fields}
        if path in links and data.draw(st.booleans()):
            values["token"] = links[path]  # past the link check (a value that sets a password uses it up: fine)
        c = signed_in if path.startswith(("/account", "/second-factor")) else anonymous
        _clear(post(c, world, path, values))
        page = data.draw(st.sampled_from(PAGES))
        _clear(c.get(world.url(page) + "?token=" + encode(data.draw(TEXT))))

    try:
        check()
    finally:
        anonymous.close()
        signed_in.close()


def test_the_invitation_page_still_renders_after_the_fuzzing(world):
    """A control: the pages above really render forms, so their 4xx answers are refusals, not absences."""
    with world.api() as api:
        assert api.post("/invitations", json={"email": "fuzz-control@acme.test"}).status_code == 201
    link = link_in(world.smtp.wait_for("fuzz-control@acme.test")[0])
    c = client(world)
    page = c.get(link)
    assert page.status_code == 200 and 'action="/invitation/passkey"' in page.text
    assert re.search(r'id="passkey-add-options">\{', page.text)
