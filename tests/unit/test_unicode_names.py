"""Unicode in names and host names, on SQLite and PostgreSQL: logins and
names are compared in NFC, and every host name goes through one UTS 46
conversion (the `idna` package), so a domain and an app URL written with
"ß" agree."""

from __future__ import annotations

import unicodedata

import pytest
from click.testing import CliRunner

from ostiary.cli import main
from ostiary.hostnames import normalise_hostname
from ostiary.services.rules import apps, domains, groups, tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from ostiary.services.base.errors import Conflict

PASSWORD = "correct horse battery"
NFC_NAME = "zoë"
NFD_NAME = unicodedata.normalize("NFD", NFC_NAME)


@pytest.fixture
def tenant(store):
    tenants.init_installation(store, "id.example.test", "acme", "admin@acme.test", PASSWORD, CLI_ACTOR)
    return tenants.tenant_by_slug(store, "acme").id


def test_signing_in_with_the_nfd_form_of_a_username_works(store, tenant):
    assert NFC_NAME != NFD_NAME
    users.add_user(store, tenant, CLI_ACTOR, email="zoe@acme.test", username=NFC_NAME, password=PASSWORD)
    assert users.authenticate(store, tenant, NFD_NAME, PASSWORD).email == "zoe@acme.test"
    assert users.get_user(store, tenant, NFD_NAME).username == NFC_NAME


def test_a_username_is_matched_in_any_case_unless_two_differ_only_in_case(store, tenant):
    users.add_user(store, tenant, CLI_ACTOR, email="bob@acme.test", username="Bob.Smith", password=PASSWORD)
    for typed in ("Bob.Smith", "bob.smith", "BOB.SMITH", " bob.SMITH "):
        assert users.authenticate(store, tenant, typed, PASSWORD).email == "bob@acme.test", typed
    assert users.authenticate(store, tenant, "bob.smith", "wrong password") is None
    # Usernames that differ only in case (an upstream provider may bring them): each must be typed as stored.
    users.add_user(store, tenant, CLI_ACTOR, email="bob2@acme.test", username="bob.smith", password=PASSWORD)
    assert users.authenticate(store, tenant, "Bob.Smith", PASSWORD).email == "bob@acme.test"
    assert users.authenticate(store, tenant, "bob.smith", PASSWORD).email == "bob2@acme.test"
    assert users.authenticate(store, tenant, "BOB.SMITH", PASSWORD) is None
    assert users.find_user(store, tenant, "BOB@ACME.TEST").username == "Bob.Smith"


def test_a_name_typed_in_nfd_is_stored_in_nfc(store, tenant):
    row = users.add_user(store, tenant, CLI_ACTOR, email=f"{NFD_NAME}@acme.test", username=NFD_NAME,
                         display_name=f"{NFD_NAME} Ørsted")
    assert (row.email, row.username, row.display_name) == (f"{NFC_NAME}@acme.test", NFC_NAME, f"{NFC_NAME} Ørsted")
    assert groups.add_group(store, tenant, CLI_ACTOR, NFD_NAME).name == NFC_NAME
    with pytest.raises(Conflict):
        groups.add_group(store, tenant, CLI_ACTOR, NFC_NAME)
    assert groups.get_group(store, tenant, NFD_NAME).name == NFC_NAME


def test_one_uts46_conversion_for_every_host_name():
    assert normalise_hostname("wiki.straße.de") == "wiki.xn--strae-oqa.de"  # not Python's IDNA 2003 "strasse"
    assert normalise_hostname("WIKI.STRASSE.DE") == "wiki.strasse.de"


def test_a_domain_and_an_app_url_written_with_sharp_s_agree(store, tenant):
    row = domains.add_domain(store, tenant, CLI_ACTOR, "straße.de", "auth.straße.de")
    assert (row.name, row.portal_host) == ("xn--strae-oqa.de", "auth.xn--strae-oqa.de")
    app = apps.add_app(store, tenant, CLI_ACTOR, name="wiki", url="https://wiki.straße.de", all_users=True)
    assert app.host == "wiki.xn--strae-oqa.de" and app.url == "https://wiki.xn--strae-oqa.de"


def test_the_cli_agrees_too(store, tenant, db_url, tmp_path):
    env = {"OSTIARY_DATABASE_URL": db_url, "OSTIARY_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    added = runner.invoke(main, ["domain", "add", "straße.de", "--portal-host", "auth.straße.de"], env=env)
    assert added.exit_code == 0, added.output
    app = runner.invoke(main, ["app", "add", "wiki", "--url", "https://wiki.straße.de", "--all"], env=env)
    assert app.exit_code == 0, app.output
    assert apps.get_app(store, tenant, "wiki").host == "wiki.xn--strae-oqa.de"


@pytest.mark.parametrize("name, problem", [("Acme\x1b[31m", "control characters (found U+001B)"), ("Acme\u202eevil", "found U+202E"),
                                           ("   ", "1-200 characters"), ("x" * 201, "1-200 characters")])
def test_a_tenant_name_with_control_characters_or_out_of_bounds_is_refused_naming_the_field(store, name, problem):
    with pytest.raises(Exception) as refused:
        tenants.add_tenant(store, "globex", CLI_ACTOR, name=name)
    assert "name" in str(refused.value) and problem in str(refused.value)
    assert [t.slug for t in tenants.list_tenants(store)] == []  # nothing half-written


def test_a_tenant_name_is_stored_in_nfc(store):
    assert tenants.add_tenant(store, "globex", CLI_ACTOR, name=f"{NFD_NAME} GmbH").name == f"{NFC_NAME} GmbH"
