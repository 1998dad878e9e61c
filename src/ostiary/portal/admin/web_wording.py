"""Refusals from the services name the fix in CLI terms (`ostiary group
add`); on a web page the same fix is a page or a button. One table turns the
one wording into the other, so the services keep a single message."""

from __future__ import annotations

import re

from ostiary.portal.i18n import N_
from ostiary.services.base.errors import Message, Problem, ServiceError, message_of

_PAGES = {"app": "Apps", "domain": "Domains", "group": "Groups", "user": "Users", "session": "Sessions",
          "provider": "Sign-in providers"}

_REWRITES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"see `ostiary (\w+) list`"), lambda m: f"see the {_PAGES.get(m[1], m[1].title())} page"),
    (re.compile(r"create it with `ostiary group add`"), "create it on the Groups page"),
    (re.compile(r"register it first with `ostiary domain add`"), "register it first on the Domains page"),
    (re.compile(r"\(`ostiary domain delete`\)"), "(Delete on its page)"),
    (re.compile(r"\(`ostiary user admin EMAIL`, or the admin flag on their page\)"),
     "(Make administrator, on their page)"),
    (re.compile(r"\(`ostiary user admin EMAIL`\)"), "(Make administrator, on their page)"),
    (re.compile(r"confirm to delete it anyway \(CLI --force, API \?force=true\)"),
     "confirm on the next page to delete it anyway"),
]


# Every service template the table rewords, reworded, for the catalog (./scripts/translations): a page
# translates the reworded template. tests/unit/test_problem_messages.py checks this list is complete.
WEB_TEMPLATES = (
    N_('"%(domain_name)s" is not a protected domain of this tenant: see the Domains page, or run '
       "`ostiary doctor` without a name to check them all"),
    N_('"%(email)s" is the last active administrator of this tenant and cannot be deleted: first make '
       "another user an administrator (Make administrator, on their page)"),
    N_('"%(email)s" is the last active administrator of this tenant and cannot be demoted: first make '
       "another user an administrator (Make administrator, on their page)"),
    N_('"%(email)s" is the last active administrator of this tenant and cannot be disabled: first make '
       "another user an administrator (Make administrator, on their page)"),
    N_('"%(host)s" is not under any protected domain of this tenant: register it first on the Domains page'),
    N_('"%(name)s" is in use: deleting it removes %(what)s; confirm on the next page to delete it anyway'),
    N_('no group "%(name)s" in this tenant: create it on the Groups page'),
    N_('no group "%(name)s" in this tenant: see the Groups page'),
    N_('no protected domain "%(name)s" in this tenant: see the Domains page'),
    N_('no provider "%(name)s" in this tenant: see the Sign-in providers page'),
    N_('no proxy app "%(name)s" in this tenant: see the Apps page'),
    N_('no session "%(session_id)s" in this tenant: see the Sessions page'),
    N_('no tenant "%(slug)s": see the Tenant page'),
    N_('no user "%(login)s" in this tenant: see the Users page'),
)


def web_text(text: str) -> str:
    """The text worded for the web; a Message's template is reworded and keeps its parameters, so a
    page still translates it (the reworded templates are in WEB_TEMPLATES, for the catalog)."""
    if isinstance(text, Message):
        reworded = web_text(str(text.template))
        params = {name: web_text(value) if isinstance(value, Message) else value for name, value in text.params.items()}
        if reworded == text.template and all(params[name] is text.params[name] for name in params):
            return text
        return Message(reworded, **params)
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text


def for_the_web(problem: Problem) -> Problem:
    return Problem(problem.field, web_text(problem.message))


def web_refusal(exc: ServiceError) -> Message:
    """The whole refusal on one line ("group: no group …"), worded for the web; a page translates it."""
    return web_text(message_of(exc))
