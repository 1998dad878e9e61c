"""The `ostiary` command. Every command calls the service layer; bad input
ends with a message naming the field and the rule, exit status 2, and
nothing written. One module per area; importing them registers their
commands on `main`."""

from ostiary.cli import (  # noqa: F401  (registers the commands)
    apps, directory, issuer, maintenance, operations, protection, providers, serving, tenants,
)
from ostiary.cli.base import main
from ostiary.demo import demo_command
from ostiary.sharedcookie.tooling.cli import cookie_doctor_command

main.add_command(cookie_doctor_command, "cookie-doctor")
main.add_command(demo_command, "demo")

__all__ = ["main"]
