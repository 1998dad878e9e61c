"""Telling a person about a change to their account that they did not make
themselves (an administrator reset their second factors, say). Delivery is
pluggable: a sender registered here (rules/change_notices.py's, when SMTP is
configured) is called after the change is committed; with none registered,
notify() does nothing. A sender that fails is logged and never undoes the
change (docs/sign-in.md)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ostiary.store import Store

log = logging.getLogger("ostiary.notifications")

# Events the services announce; a sender gets (store, tenant_id, user_id, event, detail).
SECOND_FACTORS_RESET = "second_factors_reset"
# An administrator changed the person's email address; detail: old_email, new_email, by. The
# notice goes to the old address, so a change the person did not expect is noticed (docs/email.md).
EMAIL_CHANGED = "email_changed"

Sender = Callable[[Store, int, int, str, dict], None]
_senders: list[Sender] = []


def register_sender(sender: Sender) -> None:
    if sender not in _senders:
        _senders.append(sender)


def unregister_sender(sender: Sender) -> None:
    if sender in _senders:
        _senders.remove(sender)


def notify(store: Store, tenant_id: int, user_id: int, event: str, **detail) -> None:
    for sender in list(_senders):
        try:
            sender(store, tenant_id, user_id, event, detail)
        except Exception:  # a notice that cannot be delivered never undoes what happened
            log.exception("notifying user %s of %s failed", user_id, event)
