"""Errors the service layer raises. Each message names the field, the rule
that was broken and how to fix it, so every caller can show it as it is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ServiceError(Exception):
    """Base of every refusal the service layer gives."""


class InvalidInput(ServiceError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


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
    def __init__(self, message: str, retry_after: float):
        self.retry_after = retry_after
        super().__init__(message)


class Problems:
    """Collects every problem with an input before refusing it once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, field: str, message: str) -> None:
        self.items.append(Problem(field, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput(self.items)


def problems_of(exc: ServiceError) -> list[Problem]:
    """Every refusal as field-named problems: InvalidInput has them; the
    others' messages start with "field: " by convention."""
    if isinstance(exc, InvalidInput):
        return list(exc.problems)
    field, sep, message = str(exc).partition(": ")
    if sep and field.replace("_", "").isalnum() and len(field) <= 40:
        return [Problem(field, message)]
    return [Problem("", str(exc))]
