"""The services' refusals are templates with named parameters (docs/translations.md,
"Problems the services raise"): English wherever they are used as text (the CLI,
the API, logs), translated on a page; never built by joining strings."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from ostiary.portal import i18n
from ostiary.portal.admin.web_wording import WEB_TEMPLATES, for_the_web, web_refusal, web_text
from ostiary.portal.problem_text import field_text, message_text, problem_text
from ostiary.services.base.errors import (
    N_, Conflict, InvalidInput, Message, NotFound, Problem, Problems, Throttled, counted, problems_of,
)
from ostiary.services.rules import groups
from ostiary.urlrules import parse_app_url

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "ostiary"
POT = SRC / "portal" / "translations" / "messages.pot"


@pytest.fixture
def german():
    token = i18n.use("de")
    yield
    i18n._language.reset(token)


def test_a_message_is_its_english_text_and_keeps_its_template():
    m = Message(N_('"%(name)s" contains a comma, which would split X-Forwarded-Groups: remove it'), name="a,b")
    assert m == '"a,b" contains a comma, which would split X-Forwarded-Groups: remove it'
    assert isinstance(m, str) and m.params == {"name": "a,b"}
    assert json.dumps({"message": m}) == json.dumps({"message": str(m)})
    assert Message("100% sure") == "100% sure"  # no parameters: no formatting


def test_refusals_read_as_before_for_the_cli_and_the_api():
    problems = Problems()
    problems.add("name", N_("must be 1-100 characters"))
    problems.add("name", N_('"%(name)s" contains a comma'), name="a,b")
    with pytest.raises(InvalidInput) as refused:
        problems.raise_if_any()
    assert str(refused.value) == 'name: must be 1-100 characters; name: "a,b" contains a comma'
    missing = NotFound("group", N_('no group "%(name)s" in this tenant: see `ostiary group list`'), name="ops")
    assert str(missing) == 'group: no group "ops" in this tenant: see `ostiary group list`'
    assert problems_of(missing) == [Problem("group", 'no group "ops" in this tenant: see `ostiary group list`')]
    assert str(Conflict("said as it is")) == "said as it is"
    assert problems_of(Conflict("tenant: no such tenant")) == [Problem("tenant", "no such tenant")]
    wait = Throttled(counted("Wait %(n)d minute.", "Wait %(n)d minutes.", 2), 90.0)
    assert str(wait) == "Wait 2 minutes." and wait.retry_after == 90.0


def test_a_page_translates_the_template_then_puts_the_values_in(german):
    problem = Problem("name", N_('"%(name)s" contains a comma, which would split X-Forwarded-Groups: remove it'),
                      name="a,b")
    assert problem_text(problem) == "Name: „a,b“ enthält ein Komma, das X-Forwarded-Groups teilen würde: Entfernen Sie es"
    assert field_text("current_password") == "aktuelles Passwort"
    assert field_text("client_secret") == "client_secret"  # not a word: as the API and the CLI spell it
    assert message_text("already translated by the page") == "already translated by the page"
    _location, reason = parse_app_url("https://grafana.example.com/a?b", allow_http=False)
    assert message_text(reason) == "darf keine Query und kein Fragment enthalten"
    assert message_text(groups.in_use_text(2, ["wiki"])) == "2 Mitgliedschaften und ihre Freigabe für wiki"
    assert message_text(groups.in_use_text(1, [])) == "1 Mitgliedschaft"


def test_the_web_wording_of_a_refusal_is_translated_too(german):
    missing = NotFound("group", N_('no group "%(name)s" in this tenant: see `ostiary group list`'), name="ops")
    assert message_text(web_refusal(missing)) == "Gruppe: keine Gruppe „ops“ in diesem Mandanten: siehe die Seite „Gruppen“"
    assert str(for_the_web(problems_of(missing)[0]).message) == 'no group "ops" in this tenant: see the Groups page'


def test_every_reworded_template_is_in_the_catalog():
    """A service template with a CLI hint the web wording rewrites must have its rewording listed
    (WEB_TEMPLATES), so the catalog holds it and a page can translate it."""
    catalog = read_po(POT.open("rb"))
    templates = {m.id for m in catalog if isinstance(m.id, str) and m.id}
    reworded = {web_text(t) for t in templates if web_text(t) != t}
    assert reworded, "the catalog holds no service template with a CLI hint: is the extraction reading the services?"
    assert reworded - set(WEB_TEMPLATES) == set(), "add these to WEB_TEMPLATES in portal/admin/web_wording.py"
    assert set(WEB_TEMPLATES) <= templates


# --- no message built by joining strings ------------------------------------------------------------------

RAISERS = {"Problem", "NotFound", "Conflict", "Forbidden", "MailUnavailable", "MailNotConfigured", "Throttled",
           "PasskeyRefused", "Message", "__init__"}


def _joined(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)))


def _joined_messages(tree: ast.AST) -> list[int]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else ""
        if name in RAISERS or (name == "add" and isinstance(node.func, ast.Attribute)
                               and isinstance(node.func.value, ast.Name) and node.func.value.id == "problems"):
            message = node.args[1:] if len(node.args) > 1 else node.args  # a field's name may be made
            if any(_joined(a) for a in message):
                found.append(node.lineno)
    return found


def test_no_refusal_of_the_services_is_built_by_joining_strings():
    """Values go in as named placeholders, so a translation can put them where its grammar wants them."""
    paths = [*(SRC / "services").rglob("*.py"), SRC / "urlrules.py", SRC / "dns" / "names.py",
             *(SRC / "issuer").rglob("clients.py"), SRC / "identity" / "linking.py"]
    joined = {str(p.relative_to(SRC)): lines for p in paths if (lines := _joined_messages(ast.parse(p.read_text())))}
    assert joined == {}


def test_the_check_catches_a_joined_message():
    tree = ast.parse('problems.add("name", f"{n} is wrong")\nraise NotFound("x: " + name)\n'
                     'problems.add(f"claims.{key}", N_("%(n)s is wrong"), n=n)\n'
                     'super().__init__("dns", "failed: " + reason)')
    assert _joined_messages(tree) == [1, 2, 4]
