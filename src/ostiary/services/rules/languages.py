"""The language a person chose for Ostiary's pages: read for every page a
signed-in browser asks for, set from the account page (docs/translations.md)."""

from __future__ import annotations

import time
from collections.abc import Collection

from sqlalchemy import select, update

from ostiary.services.base.errors import N_, InvalidInput, Problem
from ostiary.services.rules.sessions import hash_token
from ostiary.store import Store
from ostiary.store.tables import sessions, users


def language_for_session(store: Store, token: str | None, tenant_id: int) -> str | None:
    """The saved language of the user whose live session the browser's cookie
    names on this tenant; None when there is none or they chose none."""
    if not token or len(token) > 200:
        return None
    with store.read() as conn:
        return conn.execute(
            select(users.c.language)
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(sessions.c.token_hash == hash_token(token), sessions.c.tenant_id == tenant_id,
                   sessions.c.ended_at.is_(None), sessions.c.expires_at > time.time(), users.c.active.is_(True))
        ).scalar()


def set_language(store: Store, tenant_id: int, user_id: int, language: str | None, choices: Collection[str]) -> None:
    """Saves `language` (one of `choices`), or None for "follow the browser"."""
    if language is not None and language not in choices:
        raise InvalidInput([Problem("language", N_("must be one of %(choices)s, or automatic"),
                                    choices=", ".join(sorted(choices)))])
    with store.write() as conn:
        conn.execute(update(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
                     .values(language=language, updated_at=time.time()))
