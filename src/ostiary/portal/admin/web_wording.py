"""Refusals from the services name the fix in CLI terms (`ostiary group
add`); on a web page the same fix is a page or a button. One table turns the
one wording into the other, so the services keep a single message."""

from __future__ import annotations

import re

from ostiary.services.base.errors import Problem

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


def web_text(text: str) -> str:
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text


def for_the_web(problem: Problem) -> Problem:
    return Problem(problem.field, web_text(problem.message))
