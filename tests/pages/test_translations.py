"""Every page's and every email's text goes through the one translation layer
(docs/translations.md): no template shows a string that is not translatable,
the German catalog has a checked translation for every string, and a real
`ostiary serve` answers in the language the person chose, else the one their
browser asks for. (Which language an email is sent in: tests/email/test_mail_languages.py.)"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from ostiary.portal import i18n
from ostiary.portal.rendering import TEMPLATES
from tests.pages.conftest import ADMIN, axe_violations, form_csrf, new_page, signed_in_client
from tests.support.server import loopback_client

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = ROOT / "src" / "ostiary" / "portal" / "templates"
MAIL_TEMPLATE_DIR = ROOT / "src" / "ostiary" / "services" / "rules" / "mail_templates"
CATALOGS = ROOT / "src" / "ostiary" / "portal" / "translations"

# Names that are the same in every language.
NOT_WORDS = {"Ostiary"}
# Attributes a person sees or hears (screen readers read aria-label and alt).
VISIBLE_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "aria-roledescription",
                      "aria-valuetext", "label"}
BUTTON_INPUTS = {"submit", "button", "reset"}
MARK = "\x00"  # where a template puts a value or translated text
LETTER = re.compile(r"[^\W\d_]")


def skeleton(source: str) -> str:
    """The template's markup with every {{ … }} and every {% trans %} body as MARK
    and every other tag left out: what remains as text was written in the
    template, untranslated."""
    out, in_trans, expect_name = [], False, False
    for _line, kind, value in TEMPLATES.lex(source):
        if kind == "data":
            out.append(MARK if in_trans else value)
        elif kind == "variable_begin":
            out.append(MARK)
        elif kind == "block_begin":
            expect_name = True
        elif kind == "name" and expect_name:
            expect_name = False
            if value == "trans":
                in_trans = True
            elif value == "endtrans":
                in_trans = False
        elif kind != "whitespace":
            expect_name = False
    return "".join(out)


class _Finder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.hidden_depth = 0  # inside <script> or <style>

    def _check(self, where: str, text: str | None) -> None:
        words = (text or "").replace(MARK, " ")
        for name in NOT_WORDS:
            words = words.replace(name, " ")
        if LETTER.search(words):
            self.found.append(f"{where}: {' '.join(words.split())!r}")

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden_depth += 1
        values = dict(attrs)
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES:
                self._check(f"<{tag} {name}>", value)
        if tag == "input" and (values.get("type") or "").lower() in BUTTON_INPUTS:
            self._check(f"<input type={values['type']} value>", values.get("value"))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self.hidden_depth -= 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.hidden_depth:
            self.hidden_depth -= 1

    def handle_data(self, data):
        if not self.hidden_depth:
            self._check("text", data)


def untranslated(source: str) -> list[str]:
    """Every human-visible string of a template that does not go through the translation layer."""
    finder = _Finder()
    finder.feed(skeleton(source))
    finder.close()
    return finder.found


def untranslated_text(source: str) -> list[str]:
    """The same for a plain-text template (an email's text part): every line
    with words outside {% trans %} and {{ … }}."""
    found = []
    for line in skeleton(source).splitlines():
        words = line.replace(MARK, " ")
        for name in NOT_WORDS:
            words = words.replace(name, " ")
        if LETTER.search(words):
            found.append(f"text: {' '.join(words.split())!r}")
    return found


def _templates() -> list[str]:
    return sorted(str(p.relative_to(TEMPLATE_DIR)) for p in TEMPLATE_DIR.rglob("*.html"))


# --- (a) no raw strings in a converted template ----------------------------------------------


@pytest.mark.parametrize("name", _templates())
def test_a_template_shows_no_untranslatable_text(name):
    assert untranslated((TEMPLATE_DIR / name).read_text(encoding="utf-8")) == []


def test_every_page_template_is_checked():
    """Admin pages included: the list the test above runs over is every template there is."""
    names = _templates()
    assert {"sign_in.html", "account.html", "forbidden.html", "admin/layout.html", "admin/users.html"} <= set(names)
    assert len(names) > 40


def test_the_finder_catches_raw_text_in_every_visible_place():
    source = """{% extends "base.html" %}{% block main %}
<h1>{{ _("Fine") }}</h1><p>{% trans name=x %}Hello {{ name }}{% endtrans %}</p>
<p>Raw text</p>
<input type="text" placeholder="Type here" aria-label="{{ _('Fine') }}">
<img src="/x.svg" alt="A picture"><a href="/" title="Home page">{{ _("Home") }}</a>
<button aria-label="Close it">×</button><input type="submit" value="Send">
<select><option value="a">Option text</option><option value="b">{{ _("B") }}</option></select>
<script type="application/json">{"text": "not shown"}</script>
<span class="brand">Ostiary</span> — {{ when(t) }} · <code>{{ code }}</code>
{% endblock %}"""
    found = untranslated(source)
    assert found == [
        "text: 'Raw text'", "<input placeholder>: 'Type here'", "<img alt>: 'A picture'", "<a title>: 'Home page'",
        "<button aria-label>: 'Close it'", "<input type=submit value>: 'Send'", "text: 'Option text'",
    ], found


def test_a_converted_template_that_gains_a_raw_string_fails():
    home = (TEMPLATE_DIR / "home.html").read_text(encoding="utf-8")
    assert untranslated(home) == []
    assert untranslated(home.replace("<h2>", "<p>Welcome back</p>\n<h2>", 1)) == ["text: 'Welcome back'"]
    assert untranslated(home.replace('aria-label="', 'title="Your stuff" aria-label="', 1)) == [
        "<nav title>: 'Your stuff'"]


def _mail_templates() -> list[str]:
    return sorted(p.name for p in MAIL_TEMPLATE_DIR.iterdir() if p.suffix in (".html", ".txt"))


@pytest.mark.parametrize("name", _mail_templates())
def test_an_email_template_shows_no_untranslatable_text(name):
    source = (MAIL_TEMPLATE_DIR / name).read_text(encoding="utf-8")
    assert (untranslated(source) if name.endswith(".html") else untranslated_text(source)) == []


def test_every_email_template_is_checked():
    """Both parts of every kind of message (services/rules/mail.py), and the HTML layout around them."""
    from ostiary.services.rules import mail

    names = set(_mail_templates())
    assert names == {f"{kind}.{ext}" for kind in mail.SUBJECTS for ext in ("txt", "html")} | {"_layout.html"}


def test_an_email_template_that_gains_a_raw_string_fails():
    html = (MAIL_TEMPLATE_DIR / "password_reset.html").read_text(encoding="utf-8")
    text = (MAIL_TEMPLATE_DIR / "password_reset.txt").read_text(encoding="utf-8")
    assert untranslated(html) == [] and untranslated_text(text) == []
    assert untranslated(html.replace("{% endblock %}", "<p>Thanks, the team</p>\n{% endblock %}")) == [
        "text: 'Thanks, the team'"]
    assert untranslated(html.replace('style="font-size:13px', 'title="Copy it" style="font-size:13px', 1)) == [
        "<p title>: 'Copy it'"]
    assert untranslated_text(text + "\nThanks, {{ tenant }}\n") == ["text: 'Thanks,'"]
    assert untranslated_text(text.replace("{{ link }}", "Link: {{ link }}", 1)) == ["text: 'Link:'"]


# --- (b) the catalogs: complete, current, checked -----------------------------------------------


def _ids(catalog) -> set:
    return {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)) for m in catalog if m.id}


def test_the_template_catalog_holds_every_translatable_string_of_the_portal(tmp_path):
    """messages.pot is what ./scripts/translations extracts now (same options)."""
    fresh = tmp_path / "messages.pot"
    done = subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg",
                           "-k", "N_", "-k", "lazy_gettext", "-k", "counted:1,2", "--no-location", "--sort-output", "-o", str(fresh), "."],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with fresh.open("rb") as f:
        extracted = _ids(read_po(f))
    with (CATALOGS / "messages.pot").open("rb") as f:
        committed = _ids(read_po(f))
    assert extracted - committed == set(), "new strings: run ./scripts/translations and translate them"
    assert committed - extracted == set(), "strings no page uses any more: run ./scripts/translations"
    assert len(extracted) > 100
    # The emails are extracted too (babel.cfg): their subjects from mail.py, their text from the templates.
    assert {(None, "Reset your %(tenant)s password"), (None, "Hello %(name)s,"),
            (None, ("The link works once, for %(num)s minute.", "The link works once, for %(num)s minutes."))} <= extracted


@pytest.mark.parametrize("language", [code for code in i18n.LANGUAGES if code != i18n.DEFAULT])
def test_every_string_has_a_checked_translation(language):
    with (CATALOGS / "messages.pot").open("rb") as f:
        template = read_po(f)
    with (CATALOGS / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=language)
    assert _ids(catalog) == _ids(template), "run ./scripts/translations"
    assert not catalog.obsolete, f"stale entries: {list(catalog.obsolete)}"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == [], f"fuzzy (guessed) translations to check: {fuzzy}"
    empty = [m.id for m in catalog if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])]
    assert empty == [], f"not translated into {language}: {empty}"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert problems == [], problems


def test_the_german_catalog_is_german():
    i18n.use("de")
    try:
        assert i18n.gettext("Sign out everywhere") == "Überall abmelden"
        assert i18n.ngettext("Too many failed sign-ins. Wait %(num)d minute, then try again.",
                             "Too many failed sign-ins. Wait %(num)d minutes, then try again.", 5) % {"num": 5} \
            == "Zu viele fehlgeschlagene Anmeldungen. Warten Sie 5 Minuten und versuchen Sie es dann erneut."
        assert i18n.gettext("Reset your %(tenant)s password") % {"tenant": "Acme"} \
            == "Ihr Passwort für Acme zurücksetzen"
    finally:
        i18n.use(None)
    assert i18n.gettext("Sign out everywhere") == "Sign out everywhere"


@pytest.mark.parametrize(("header", "language"), [
    ("de", "de"), ("de-AT,en;q=0.5", "de"), ("en;q=0.9, de", "de"), ("en-GB,de;q=0.8", "en"),
    ("de;q=0, en", "en"), ("fr-CH, fr;q=0.9", "en"), ("fr, de;q=0.1", "de"), ("*", "en"), ("", "en"),
    (None, "en"), ("de;q=garbage", "en"), ("DE-de", "de"), (",,de;;", "en"), ("x" * 5000 + ",de", "en"),
])
def test_the_language_is_the_best_match_of_accept_language(header, language):
    assert i18n.negotiate(header) == language


def test_values_in_a_translated_sentence_are_escaped():
    i18n.use("de")
    try:
        page = TEMPLATES.get_template("home.html").render(
            user={"display_name": "<img src=x onerror=alert(1)>", "email": "a@b.test"}, apps=[], is_admin=False,
            csrf="c", tenant=None)
    finally:
        i18n.use(None)
    assert "Angemeldet als &lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page
    assert '<html lang="de">' in page


# --- (c) a real `ostiary serve` -------------------------------------------------------------------


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)">', html).group(1)


def test_the_browser_language_chooses_the_page_language(world):
    with signed_in_client(world) as client:
        german = client.get(world.url("/no-such-page"), headers={"accept-language": "de-DE,de;q=0.9,en;q=0.8"})
        english = client.get(world.url("/no-such-page"), headers={"accept-language": "en-US,en;q=0.9"})
        other = client.get(world.url("/no-such-page"), headers={"accept-language": "fr"})
        home = client.get(world.url("/"), headers={"accept-language": "de"})
    assert german.status_code == 404 and _lang(german.text) == "de"
    assert "Seite nicht gefunden" in german.text and "Page not found" not in german.text
    assert english.status_code == 404 and _lang(english.text) == "en" and "Page not found" in english.text
    assert _lang(other.text) == "en" and "Page not found" in other.text
    assert _lang(home.text) == "de" and "Ihre Apps" in home.text and "Überall abmelden" in home.text


def test_a_person_who_chose_german_gets_german_whatever_the_browser_asks(world):
    english = {"accept-language": "en"}
    with signed_in_client(world) as client:
        account = client.get(world.url("/account"), headers=english)
        assert _lang(account.text) == "en" and 'value="auto" selected' in account.text
        saved = client.post(world.url("/account/language"), headers=english,
                            data={"csrf": form_csrf(account.text), "language": "de"})
        assert saved.status_code == 303
        try:
            home = client.get(world.url("/"), headers=english)
            assert _lang(home.text) == "de" and "Angemeldet als" in home.text
            account = client.get(world.url("/account"), headers=english)
            assert 'value="de" lang="de" selected' in account.text
            # The saved choice is the person's, not the browser's: another browser of theirs follows it.
            with signed_in_client(world) as other:
                assert _lang(other.get(world.url("/"), headers=english).text) == "de"
        finally:
            back = client.post(world.url("/account/language"), headers=english,
                               data={"csrf": form_csrf(account.text), "language": "auto"})
        assert back.status_code == 303
        assert _lang(client.get(world.url("/"), headers=english).text) == "en"
        assert _lang(client.get(world.url("/"), headers={"accept-language": "de"}).text) == "de"


def test_the_language_form_refuses_a_foreign_form_and_an_unknown_language(world):
    with signed_in_client(world) as client:
        account = client.get(world.url("/account"))
        forged = client.post(world.url("/account/language"), data={"csrf": "x" * 43, "language": "de"})
        unknown = client.post(world.url("/account/language"),
                              data={"csrf": form_csrf(account.text), "language": "xx"})
        after = client.get(world.url("/"), headers={"accept-language": "en"})
    assert forged.status_code == 403
    assert unknown.status_code == 422 and "language" in unknown.text and "must be one of de, en" in unknown.text
    assert _lang(after.text) == "en"


def test_the_sign_in_page_and_a_wrong_password_are_german_in_a_german_browser(world):
    german = {"accept-language": "de-DE,de;q=0.9"}
    with loopback_client(world.ca) as client:
        page = client.get(world.url("/sign-in"), headers=german)
        refused = client.post(world.url("/sign-in"), headers=german,
                              data={"csrf": form_csrf(page.text), "login": ADMIN, "password": "not-the-password", "next": "/"})
        english = client.get(world.url("/sign-in"), headers={"accept-language": "en"})
    assert page.status_code == 200 and _lang(page.text) == "de"
    assert "E-Mail-Adresse oder Benutzername" in page.text and ">Anmelden</button>" in page.text
    assert "Email or username" not in page.text and "Passkey" in page.text  # the passkey script's words too
    assert '"cancelled": "Die Passkey-Anfrage wurde abgebrochen oder ist abgelaufen."' in page.text
    assert refused.status_code == 401 and "E-Mail-Adresse oder Passwort ist nicht richtig." in refused.text
    assert _lang(english.text) == "en" and "Email or username" in english.text


def test_an_admin_page_and_its_notice_are_german_in_a_german_browser(world):
    german = {"accept-language": "de"}
    with signed_in_client(world) as client:
        overview = client.get(world.url("/admin"), headers=german)
        users = client.get(world.url("/admin/users"), headers=german)
        english = client.get(world.url("/admin/users"), headers={"accept-language": "en"})
    assert overview.status_code == 200 and _lang(overview.text) == "de"
    assert "Auf einen Blick" in overview.text and ">Übersicht</a>" in overview.text
    assert "Angemeldet als <strong>" in overview.text and "At a glance" not in overview.text
    assert users.status_code == 200 and ">Benutzer anlegen</button>" in users.text
    assert 'data-label="E-Mail-Adresse"' in users.text and "Create a user" not in users.text
    assert "Create a user" in english.text


def test_a_service_refusal_is_german_on_a_german_page_and_english_in_the_api(world):
    """The services' problems are templates (docs/translations.md, "Problems the services raise"):
    the admin form shows them in the page's language, field names too; the API keeps the English."""
    german = {"accept-language": "de"}
    with signed_in_client(world) as client:
        csrf = form_csrf(client.get(world.url("/admin/groups"), headers=german).text)
        comma = client.post(world.url("/admin/groups"), headers=german, data={"csrf": csrf, "name": "a,b"})
        missing = client.post(world.url("/admin/groups"), headers=german,
                              data={"csrf": csrf, "name": "team", "parent": "nope"})
        english = client.post(world.url("/admin/groups"), headers={"accept-language": "en"},
                              data={"csrf": csrf, "name": "a,b"})
    with world.api(world.write_token) as api:
        refused = api.post("/groups", json={"name": "a,b"}, headers=german)
    comma_text, missing_text, english_text = (html.unescape(r.text) for r in (comma, missing, english))
    assert comma.status_code == 422 and _lang(comma.text) == "de"
    assert "<strong>Name</strong>: „a,b“ enthält ein Komma, das X-Forwarded-Groups teilen würde: Entfernen Sie es" \
        in comma_text
    assert "contains a comma" not in comma_text and "Es wurde nichts geändert:" in comma_text
    # A NotFound, worded for the web ("see the Groups page") and then translated, its field's name too.
    assert missing.status_code == 422
    assert "<strong>übergeordnete Gruppe</strong>: keine Gruppe „nope“ in diesem Mandanten: siehe die Seite „Gruppen“" \
        in missing_text
    assert english.status_code == 422
    assert '<strong>name</strong>: "a,b" contains a comma, which would split X-Forwarded-Groups: remove it' in english_text
    assert refused.status_code == 422 and refused.json()["problems"] == [
        {"field": "name", "message": '"a,b" contains a comma, which would split X-Forwarded-Groups: remove it'}]


def test_a_translated_message_still_escapes_what_it_names(world):
    with signed_in_client(world) as client:
        page = client.get(world.url("/%3Cscript%3Ealert(1)%3C/script%3E"), headers={"accept-language": "de"})
    assert page.status_code == 404 and "Unter /&lt;script&gt;alert(1)&lt;/script&gt; gibt es hier keine Seite." in page.text
    assert "<script>alert" not in page.text


@pytest.mark.slow
def test_in_a_german_browser_the_pages_are_german_accessible_and_the_chooser_overrides_it(browser, world):
    page = new_page(browser, world, ADMIN, locale="de-DE", bypass_csp=True)
    try:
        assert page.locator("html").get_attribute("lang") == "de"
        assert page.locator("#home-links a").all_inner_texts() == ["Ihr Konto", "Verwaltung"]
        found = {}
        for path in ("/", "/account", "/no/such/page"):
            found.update(axe_violations(page, world.url(path)))
        assert found == {}
        page.goto(world.url("/account"))
        page.select_option("#language", "en")
        page.get_by_role("button", name="Sprache speichern").click()
        page.wait_for_url(re.compile(r".*/account"))
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("#language").input_value() == "en"
        page.select_option("#language", "auto")
        page.get_by_role("button", name="Save the language").click()
        page.wait_for_url(re.compile(r".*/account"))
        assert page.locator("html").get_attribute("lang") == "de"
    finally:
        page.context.close()


def test_the_audit_log_speaks_the_page_language_and_its_export_stays_english(world):
    """What happened, who did it and the changes are the page's words (services/queries/audit.py marks
    them); the CSV export is English whoever downloads it (docs/translations.md, "Known limits")."""
    import csv
    import io

    german = {"accept-language": "de"}
    with signed_in_client(world) as client:
        page = client.get(world.url("/admin/users"))
        client.post(world.url("/admin/users"), data={"csrf": form_csrf(page.text), "email": "erna@acme.test"})
        log = client.get(world.url("/admin/audit"), params={"action": "user.add"}, headers=german)
        export = client.get(world.url("/admin/audit.csv"), params={"action": "user.add"}, headers=german)
        english = client.get(world.url("/admin/audit"), params={"action": "user.add"})
    assert log.status_code == 200 and _lang(log.text) == "de"
    body = log.text.split("<tbody>")[1].split("</tbody>")[0]
    assert ">Benutzer angelegt</td>" in body and "<li>Administrator: nein</li>" in body
    assert ">Kommandozeile</td>" in body  # the users the world's setup made with the CLI's actor
    assert "User created" not in body and "administrator: no" not in body
    assert ">Benutzer angelegt</option>" in log.text and "Einträge werden 365 Tage aufbewahrt." in log.text
    assert ">User created</td>" in english.text and "<li>administrator: no</li>" in english.text
    table = list(csv.reader(io.StringIO(export.text)))
    assert table[0][3] == "action" and {r[3] for r in table[1:]} == {"User created"}
    assert any("erna@acme.test" in r[4] and "administrator: no" in r[5] for r in table[1:])
    assert "command line" in {r[1] for r in table[1:]}
