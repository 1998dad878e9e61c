"""Errors the service layer raises. Each message names the field, the rule
that was broken and how to fix it, so every caller can show it as it is.

A message is a template marked with `N_("… %(name)s …")` and its named
parameters (a `Message`): it reads as English wherever it is used as text
(the CLI, the JSON API, logs), and a page translates the template into the
request's language before it puts the parameters in (docs/translations.md,
"Problems the services raise")."""

from __future__ import annotations

from dataclasses import dataclass

# Messages are made of templates and parameters by the one translation layer, below every other.
from ostiary.translations import N_, Message, counted  # noqa: F401 (the services' names for them)


def message(text: str, /, **params) -> Message:
    """`text` as a Message (a plain string is a template without parameters)."""
    if isinstance(text, Message) and not params:
        return text
    return Message(text, **params)


@dataclass(frozen=True, init=False)
class Problem:
    """What is wrong with one field: `Problem("name", N_("must be at most %(max)d characters"), max=100)`."""

    field: str
    message: Message

    def __init__(self, field: str, message_: str, /, **params):
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "message", message(message_, **params))

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else str(self.message)


class ServiceError(Exception):
    """Base of every refusal the service layer gives.

    `NotFound("group", N_('no group "%(name)s" in this tenant'), name=name)`
    is a refusal about one field; its text is "group: no group …" (the
    field first, as the CLI and the API have always said it). A single
    string is a refusal as it is said."""

    def __init__(self, *args, **params):
        if len(args) == 2 and all(isinstance(a, str) for a in args):
            self.problem: Problem | None = Problem(args[0], args[1], **params)
            super().__init__(str(self.problem))
        else:
            self.problem = Problem("", args[0]) if len(args) == 1 and isinstance(args[0], Message) else None
            super().__init__(*args)


class InvalidInput(ServiceError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        self.problem = None
        Exception.__init__(self, "; ".join(str(p) for p in problems))


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class MailUnavailable(ServiceError):
    """The SMTP server could not be reached or refused the message; nothing
    that depended on the message was kept (docs/email.md)."""


class MailNotConfigured(Conflict):
    """A message was asked for, but no SMTP server is configured (docs/email.md)."""


class Throttled(ServiceError):
    def __init__(self, message_: str, retry_after: float):
        self.retry_after = retry_after
        self.problem = Problem("", message_)
        Exception.__init__(self, str(message_))


class Problems:
    """Collects every problem with an input before refusing it once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, field: str, message_: str, /, **params) -> None:
        self.items.append(Problem(field, message_, **params))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput(self.items)


def problems_of(exc: ServiceError) -> list[Problem]:
    """Every refusal as field-named problems: InvalidInput has them; the
    others keep the one they were raised with, or their messages start with
    "field: " by convention."""
    if isinstance(exc, InvalidInput):
        return list(exc.problems)
    if getattr(exc, "problem", None) is not None:
        return [exc.problem]
    field, sep, message_ = str(exc).partition(": ")
    if sep and field.replace("_", "").isalnum() and len(field) <= 40:
        return [Problem(field, message_)]
    return [Problem("", str(exc))]


def message_of(exc: ServiceError) -> Message:
    """The refusal's whole text as a Message (field first, as str(exc) says it), for a page that shows one line."""
    problem = getattr(exc, "problem", None)
    if problem is not None and problem.field:
        return Message(N_("%(field)s: %(message)s"), field=Field(problem.field), message=problem.message)
    return problem.message if problem is not None else Message(str(exc))


class Field(Message):
    """A field's name inside a message: a page shows it translated where it is a word."""
