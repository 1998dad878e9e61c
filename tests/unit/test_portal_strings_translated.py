"""Text the portal's Python puts on a page goes through the translation
layer (docs/translations.md), as the templates' does (tests/pages/
test_translations.py checks those): an error page's title and message, a
form's error, a notice. A literal string or an f-string handed straight to
one of them is English on every page, whatever the person's language."""

from __future__ import annotations

import ast
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[2] / "src" / "ostiary" / "portal"

# The calls that show text on a page, and which of their arguments are that text.
_POSITIONAL = {"error_page": (2, 3), "redirect_with_notice": (2,)}  # (request, status, title, message)
_KEYWORDS = {"error_page": ("title", "message"), "redirect_with_notice": ("notice",),
             "render": ("error", "notice", "title", "message")}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_raw_text(node: ast.expr) -> bool:
    """English text as it stands: a string literal with letters in it, or an f-string."""
    if isinstance(node, ast.JoinedStr):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and any(c.isalpha() for c in node.value)


def raw_page_texts(source: str) -> list[tuple[int, str]]:
    """(line, call) for each page text in `source` that is not translated."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        texts = [node.args[i] for i in _POSITIONAL.get(name, ()) if i < len(node.args)]
        texts += [k.value for k in node.keywords if k.arg in _KEYWORDS.get(name, ())]
        found += [(t.lineno, name) for t in texts if _is_raw_text(t)]
    return found


def test_every_page_text_the_portal_writes_in_python_is_translated():
    untranslated = [f"{path.relative_to(PORTAL)}:{line}: {call}(...)"
                    for path in sorted(PORTAL.rglob("*.py"))
                    for line, call in raw_page_texts(path.read_text())]
    assert not untranslated, "page text not passed through _() / gettext:\n" + "\n".join(untranslated)


def test_the_check_finds_raw_text_and_lets_translated_text_pass():
    source = '''
def page(request, exc):
    a = error_page(request, 400, "Not ready", "No base domain yet.")
    b = error_page(request, 400, _("Not ready"), _("No base domain yet."))
    c = notices.redirect_with_notice(request, "/account", f"{exc} happened")
    d = notices.redirect_with_notice(request, "/account", _("Linked."))
    e = render(request, "x.html", status=429, error="Too many tries")
    f = render(request, "x.html", error=message_text(exc), title=_("Title"))
    g = error_page(request, 404, title, "-")
'''
    assert raw_page_texts(source) == [(3, "error_page"), (3, "error_page"), (5, "redirect_with_notice"),
                                      (7, "render")]
