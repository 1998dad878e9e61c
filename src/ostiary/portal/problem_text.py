"""The service layer's refusals on a page, in the page's language (docs/translations.md,
"Problems the services raise").

A service's message is a template and its parameters (`Message` in
ostiary/services/base/errors.py): it reads as English for the CLI and the
API, and here its template is translated before the parameters go in. A
message that is not a `Message` (text a page made itself, already
translated) is shown as it is. A field's name is translated where it is a
word ("name", "email"); a technical one ("client_secret", "ca_file") is
shown as the API and the CLI spell it, so it can be looked up.
"""

from __future__ import annotations

from ostiary.portal import i18n
from ostiary.portal.i18n import gettext, ngettext, pgettext
from ostiary.services.base.errors import Field, Message, Problem, ServiceError, message_of


def _field_names() -> dict[str, str]:
    """The field names that are words, in the current language (read per call: the language is the request's)."""
    return {
        "name": pgettext("field", "name"),
        "new_name": pgettext("field", "new name"),
        "display_name": pgettext("field", "display name"),
        "email": pgettext("field", "email"),
        "new_email": pgettext("field", "new email"),
        "username": pgettext("field", "username"),
        "user": pgettext("field", "user"),
        "password": pgettext("field", "password"),
        "current_password": pgettext("field", "current password"),
        "new_password_again": pgettext("field", "new password again"),
        "code": pgettext("field", "code"),
        "passkey": pgettext("field", "passkey"),
        "identity": pgettext("field", "identity"),
        "account": pgettext("field", "account"),
        "group": pgettext("field", "group"),
        "groups": pgettext("field", "groups"),
        "parent": pgettext("field", "parent"),
        "member": pgettext("field", "member"),
        "app": pgettext("field", "app"),
        "domain": pgettext("field", "domain"),
        "portal_host": pgettext("field", "portal host"),
        "url": pgettext("field", "URL"),
        "public_paths": pgettext("field", "public paths"),
        "public_path": pgettext("field", "public path"),
        "session": pgettext("field", "session"),
        "provider": pgettext("field", "provider"),
        "directory": pgettext("field", "directory"),
        "token": pgettext("field", "token"),
        "tenant": pgettext("field", "tenant"),
        "language": pgettext("field", "language"),
        "logo": pgettext("field", "logo"),
        "contact": pgettext("field", "contact"),
        "accent_colour": pgettext("field", "accent colour"),
        "active": pgettext("field", "active"),
        "enabled": pgettext("field", "enabled"),
        "is_admin": pgettext("field", "administrator"),
        "smtp": pgettext("field", "email server"),
    }


def field_text(field: str) -> str:
    """A problem's field as the page names it: in the page's language where it has a word for it; else
    (English among them) as the API and the CLI spell it ("current_password"), so it can be looked up."""
    label = _field_names().get(field)
    if label is None:
        return field
    token = i18n.use(i18n.DEFAULT)
    try:
        untranslated = _field_names()[field]
    finally:
        i18n._language.reset(token)
    return field if label == untranslated else label


def message_text(message: str) -> str:
    """A problem's message in the page's language."""
    if isinstance(message, Field):
        return field_text(message.template)
    if isinstance(message, Message):
        text = (ngettext(message.template, message.plural, message.params["n"]) if message.plural
                else gettext(message.template))
        if not message.params:
            return text
        return text % {name: message_text(value) if isinstance(value, Message) else value
                       for name, value in message.params.items()}
    return message


def problem_text(problem: Problem) -> str:
    """"field: message", both in the page's language."""
    if not problem.field:
        return message_text(problem.message)
    return gettext("%(field)s: %(message)s") % {"field": field_text(problem.field),
                                                "message": message_text(problem.message)}


def refusal_text(exc: ServiceError) -> str:
    """A whole refusal on one line ("group: no group …"), in the page's language."""
    return message_text(message_of(exc))
