"""Email to a person about a change to their account made by someone else
(an administrator reset their second factors, or changed their address):
the sender services/base/notifications.py calls after the change is
committed, installed once by the portal and by the CLI (docs/email.md).

Its own module, above mail.py (the messages and their sending) and beside
email_change.py (a person changing their own address), so neither of those
needs the other to tell people."""

from __future__ import annotations

from ostiary.config import Settings
from ostiary.services.base import notifications
from ostiary.services.rules import email_links, mail
from ostiary.services.rules.tenants import tenant_url
from ostiary.store import Store


def notify_second_factor_reset(store: Store, settings: Settings, tenant_id: int, user_id: int,
                               reset_by: str = "") -> bool:
    """Tells a person that an administrator reset their second factors
    (issue 17; the admin reset calls this after its own transaction).
    False when email is not configured; MailUnavailable when it is but the
    message could not be sent, for the caller to show beside its success."""
    if not settings.email_enabled:
        return False
    person = email_links.recipient(store, tenant_id, user_id)
    msg = mail.compose(settings, "second_factor_reset", tenant_name=person.tenant_name, to=person.email,
                       language=person.language, name=person.display_name, reset_by=reset_by,
                       sign_in_url=tenant_url(store, settings, tenant_id, "/sign-in"))
    mail.send(settings, msg)
    return True


def notify_email_changed_by_admin(store: Store, settings: Settings, tenant_id: int, user_id: int, old_email: str,
                                  new_email: str) -> bool:
    """An administrator changed the address (CLI, API or admin page, all
    through services/rules/users.update_user): the old address is told, as it is
    when the person changes it themselves. False when email is off;
    MailUnavailable when the message could not be sent (the notifier logs
    it; the change stands)."""
    if not settings.email_enabled:
        return False
    person = email_links.recipient(store, tenant_id, user_id)
    mail.send(settings, mail.compose(settings, "email_changed", tenant_name=person.tenant_name, to=old_email,
                                     language=person.language, name=person.display_name, old_email=old_email, new_email=new_email,
                                     by_admin=True))
    return True


_notice_settings: Settings | None = None


def _send_notice(store: Store, tenant_id: int, user_id: int, event: str, detail: dict) -> None:
    if _notice_settings is None:
        return
    if event == notifications.SECOND_FACTORS_RESET:
        notify_second_factor_reset(store, _notice_settings, tenant_id, user_id, reset_by=str(detail.get("by", "")))
    if event == notifications.EMAIL_CHANGED:
        notify_email_changed_by_admin(store, _notice_settings, tenant_id, user_id, str(detail["old_email"]),
                                      str(detail["new_email"]))


def install_notifications(settings: Settings) -> None:
    """Tell people by email about changes made to their account by others
    (services/base/notifications.py: second factors reset, an email address
    changed), when email is configured; called once by the portal and by the
    CLI with their settings."""
    global _notice_settings
    _notice_settings = settings
    if settings.email_enabled:
        notifications.register_sender(_send_notice)
    else:
        notifications.unregister_sender(_send_notice)
