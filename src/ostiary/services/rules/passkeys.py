"""Passkeys: WebAuthn credentials a person registers from their account page
and signs in with, with or without typing their name, or offers as the
second factor after a password (docs/sign-in.md). The ceremonies are the
`webauthn` package's (py_webauthn); nothing here parses CBOR or COSE.

The relying party is the tenant host: its ID is the host name, and the one
origin accepted is the tenant host's public URL (scheme, host and port as
browsers see it). A passkey registered on one tenant host is useless on any
other host. No attestation is asked for; the sign counter may only grow, so
an authenticator that was cloned is refused the first time its counter falls
behind (a counter that stays at zero, as synced passkeys keep it, is allowed).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Row
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ostiary.services.base import handshake_tokens
from ostiary.services.base.actor import Actor
from ostiary.services.base.errors import N_, Conflict, InvalidInput, Message, NotFound, Problem, Problems
from ostiary.services.base.text_rules import control_character_problem, nfc
from ostiary.store import Store, TenantScope
from ostiary.store.changes import Entity
from ostiary.store.tables import linked_identities, users, webauthn_credentials
from ostiary.tokens import PASSKEY_CEREMONY, SigningKey, sign, verify

CEREMONY_TTL = 300
TIMEOUT_MS = 120_000
NAME_MAX = 100
MAX_PASSKEYS = 20

# What a ceremony is for; a challenge issued for one is refused by the others.
REGISTER, SIGN_IN, SECOND_FACTOR = "register", "sign-in", "second-factor"
# Registering the first passkey from an invitation link (docs/email.md): the
# ceremony names the link as well as the person, and only that link's use stores it.
INVITATION = "invitation"


class PasskeyRefused(Exception):
    """A ceremony's answer did not verify: the message (a Message, which a page translates) is safe to show."""

    def __init__(self, message_: Message):
        self.message = message_
        super().__init__(message_)


@dataclass(frozen=True)
class RelyingParty:
    """The tenant host as a WebAuthn relying party (docs/sign-in.md)."""

    id: str  # the tenant host name, e.g. acme.id.example.com
    name: str
    origin: str  # e.g. https://acme.id.example.com (with the public port when not 443)
    user_verification: str = "preferred"  # required | preferred | discouraged

    @property
    def requirement(self) -> UserVerificationRequirement:
        return UserVerificationRequirement(self.user_verification)


def relying_party(settings, tenant) -> RelyingParty:
    """Derived from the tenant host and the public URL settings, never from the request."""
    origin = settings.public_url(tenant.host, "").rstrip("/")
    return RelyingParty(tenant.host, f"Ostiary {tenant.slug}", origin, settings.webauthn_user_verification)


def user_handle(tenant_id: int, user_id: int) -> bytes:
    """The opaque WebAuthn user handle: stable, and no email or name in it."""
    return hashlib.sha256(f"ostiary-user-handle:{tenant_id}:{user_id}".encode()).digest()[:32]


def _ceremony_token(key: SigningKey, purpose: str, challenge: bytes, tenant_id: int, binding: str,
                    user_id: int | None = None, session_id: str | None = None, link_id: int | None = None) -> str:
    payload = {"p": purpose, "c": bytes_to_base64url(challenge), "tn": tenant_id, "b": binding,
               "jti": secrets.token_hex(16), "exp": time.time() + CEREMONY_TTL}
    if user_id is not None:
        payload["u"] = user_id
    if session_id is not None:
        payload["s"] = session_id
    if link_id is not None:
        payload["l"] = link_id
    return sign(PASSKEY_CEREMONY, payload, key)


def browser_binding(csrf_cookie: str) -> str:
    """Ties a ceremony to the browser that started it (its CSRF cookie)."""
    return hashlib.sha256(("webauthn:" + (csrf_cookie or "")).encode()).hexdigest()[:32]


def open_ceremony(store: Store, keys, token: str, purpose: str, tenant_id: int, binding: str) -> dict:
    """The ceremony's signed state, used once; refused when forged, expired,
    for another purpose, tenant or browser, or already used."""
    payload = verify(PASSKEY_CEREMONY, token or "", keys, time.time()) if token and len(token) < 2048 else None
    if payload is None or payload.get("p") != purpose or payload.get("tn") != tenant_id \
            or payload.get("b") != binding or not isinstance(payload.get("jti"), str):
        raise PasskeyRefused(Message(N_("This passkey request expired or came from another page. Try again.")))
    if not handshake_tokens.consume(store, "wa:" + payload["jti"][:29], payload["exp"]):
        raise PasskeyRefused(Message(N_("This passkey request was already used. Try again.")))
    return payload


def _descriptors(rows) -> list[PublicKeyCredentialDescriptor]:
    out = []
    for row in rows:
        transports = []
        for t in (row.transports or "").split(","):
            try:
                transports.append(AuthenticatorTransport(t))
            except ValueError:
                continue
        out.append(PublicKeyCredentialDescriptor(id=base64url_to_bytes(row.credential_id),
                                                 transports=transports or None))
    return out


def list_passkeys(store: Store, tenant_id: int, user_id: int) -> list[Row]:
    with store.read() as conn:
        return TenantScope(conn, tenant_id).rows(webauthn_credentials, webauthn_credentials.c.user_id == user_id,
                                                 order_by=webauthn_credentials.c.created_at)


def count_passkeys(store: Store, tenant_id: int, user_id: int) -> int:
    with store.read() as conn:
        return TenantScope(conn, tenant_id).count(webauthn_credentials, webauthn_credentials.c.user_id == user_id)


# Registration -------------------------------------------------------------

def registration_options(store: Store, key: SigningKey, rp: RelyingParty, tenant_id: int, user,
                         binding: str, link_id: int | None = None) -> dict:
    """The options for navigator.credentials.create(), and the signed state
    to send back with the answer. Asks for a discoverable credential (so it
    can sign in without a name) and no attestation. `user` needs `id`,
    `email` and `display_name`; with `link_id` the ceremony is for that
    invitation link only (INVITATION), not the account page."""
    existing = list_passkeys(store, tenant_id, user.id)
    options = generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_id=user_handle(tenant_id, user.id), user_name=user.email,
        user_display_name=user.display_name or user.email, timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=rp.requirement),
        exclude_credentials=_descriptors(existing),
    )
    purpose = REGISTER if link_id is None else INVITATION
    state = _ceremony_token(key, purpose, options.challenge, tenant_id, binding, user_id=user.id, link_id=link_id)
    return {"publicKey": json.loads(options_to_json(options)), "state": state}


def validate_name(name: str) -> str:
    name = nfc(name).strip()
    problems = Problems()
    if not name or len(name) > NAME_MAX:
        problems.add("name", N_('must be 1-%(max)d characters (say which device: "Work laptop")'), max=NAME_MAX)
    elif control_character_problem(name):
        problems.add("name", control_character_problem(name))
    problems.raise_if_any()
    return name


@dataclass(frozen=True)
class NewPasskey:
    """A registration answer that verified, ready to store."""

    credential_id: str
    public_key: str
    sign_count: int
    transports: str
    aaguid: str
    backed_up: bool
    user_verified: bool


def verify_new(ceremony: dict, rp: RelyingParty, credential: dict | str) -> NewPasskey:
    """Checks the browser's answer to registration options whose ceremony was opened."""
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=base64url_to_bytes(ceremony["c"]),
            expected_rp_id=rp.id, expected_origin=rp.origin,
            require_user_verification=rp.user_verification == "required",
        )
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as exc:
        # Whatever the browser (or someone posing as one) sent: refused, never a 500.
        raise PasskeyRefused(Message(N_("The passkey was not accepted: %(reason)s"), reason=str(exc))) from None
    response = credential.get("response") if isinstance(credential, dict) else None
    raw = response.get("transports") if isinstance(response, dict) else None
    transports = ",".join(t[:20] for t in raw if isinstance(t, str))[:200] if isinstance(raw, list) else ""
    return NewPasskey(bytes_to_base64url(verified.credential_id), bytes_to_base64url(verified.credential_public_key),
                      verified.sign_count, transports, str(verified.aaguid or "")[:36],
                      bool(verified.credential_backed_up), bool(getattr(verified, "user_verified", False)))


def store_in(scope: TenantScope, user_id: int, new: NewPasskey, name: str, actor: Actor) -> Row:
    """Keeps a verified passkey, in the caller's transaction."""
    if scope.one(users, users.c.id == user_id) is None:
        raise NotFound("user", N_("no such user in this tenant"))
    if scope.count(webauthn_credentials, webauthn_credentials.c.user_id == user_id) >= MAX_PASSKEYS:
        raise InvalidInput([Problem("passkey", N_("at most %(max)d passkeys per person: remove one first"), max=MAX_PASSKEYS)])
    if scope.one(webauthn_credentials, webauthn_credentials.c.credential_id == new.credential_id) is not None:
        raise PasskeyRefused(Message(N_("This passkey is already registered.")))
    new_id = scope.insert(
        webauthn_credentials, user_id=user_id, credential_id=new.credential_id, public_key=new.public_key,
        sign_count=new.sign_count, name=name, transports=new.transports, aaguid=new.aaguid,
        backed_up=new.backed_up, created_at=time.time(), last_used_at=None,
    )
    scope.audit(actor.name, "user.passkey_add", "user", user_id, actor.addr, name=name)
    scope.changed(Entity.USER, user_id)  # a second factor: the gate now asks this person's sessions for it
    return scope.one(webauthn_credentials, webauthn_credentials.c.id == new_id)


def register(store: Store, keys, rp: RelyingParty, tenant_id: int, user_id: int, binding: str, state: str,
             credential: dict | str, name: str, actor: Actor) -> Row:
    """Verifies the browser's answer to the registration options and stores the passkey."""
    name = validate_name(name)
    ceremony = open_ceremony(store, keys, state, REGISTER, tenant_id, binding)
    if ceremony.get("u") != user_id:
        raise PasskeyRefused(Message(N_("This passkey request was made for another person. Try again.")))
    new = verify_new(ceremony, rp, credential)
    with store.write() as conn:
        return store_in(TenantScope(conn, tenant_id), user_id, new, name, actor)


LAST_WAY_IN = N_("this is your only way to sign in (you have no password and no linked provider): set a "
                 "password first (\"Forgot your password?\" on the sign-in page), or add another passkey")


def remove(store: Store, tenant_id: int, user_id: int, passkey_id: int, actor: Actor,
           keep_a_way_in: bool = False) -> None:
    """Removes one passkey. With `keep_a_way_in` (the person's own account
    page), never their last way to sign in: a passkey-only person's last
    passkey is refused (docs/sign-in.md); an administrator's reset is not."""
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        row = scope.one(webauthn_credentials, webauthn_credentials.c.id == passkey_id,
                        webauthn_credentials.c.user_id == user_id)
        if row is None:
            raise NotFound("passkey", N_("no such passkey of this person"))
        if keep_a_way_in:
            user = scope.one(users, users.c.id == user_id)
            others = scope.count(webauthn_credentials, webauthn_credentials.c.user_id == user_id) - 1
            if not user.password_hash and not others and \
                    not scope.count(linked_identities, linked_identities.c.user_id == user_id):
                raise Conflict("passkey", LAST_WAY_IN)
        scope.delete(webauthn_credentials, webauthn_credentials.c.id == passkey_id)
        scope.audit(actor.name, "user.passkey_remove", "user", user_id, actor.addr, name=row.name)
        scope.changed(Entity.USER, user_id)


def remove_all_in(scope: TenantScope, user_id: int) -> int:
    """Every passkey of one person, in the caller's transaction (which records the change)."""
    return scope.delete(webauthn_credentials, webauthn_credentials.c.user_id == user_id)


# Authentication -----------------------------------------------------------

def authentication_options(store: Store, key: SigningKey, rp: RelyingParty, tenant_id: int, purpose: str,
                           binding: str, user_id: int | None = None, session_id: str | None = None) -> dict:
    """Options for navigator.credentials.get(): for a named person (the
    second factor) their passkeys; for sign-in none, so the browser offers
    every discoverable passkey it has for this host (and autofill can)."""
    allow = _descriptors(list_passkeys(store, tenant_id, user_id)) if user_id is not None else []
    options = generate_authentication_options(rp_id=rp.id, timeout=TIMEOUT_MS, allow_credentials=allow,
                                              user_verification=rp.requirement)
    state = _ceremony_token(key, purpose, options.challenge, tenant_id, binding, user_id=user_id,
                            session_id=session_id)
    return {"publicKey": json.loads(options_to_json(options)), "state": state}


@dataclass(frozen=True)
class Authenticated:
    user_id: int
    passkey_id: int
    user_verified: bool


def authenticate(store: Store, keys, rp: RelyingParty, tenant_id: int, purpose: str, binding: str, state: str,
                 credential: dict, actor_addr: str = "", user_id: int | None = None,
                 session_id: str | None = None) -> Authenticated:
    """Verifies an assertion: the challenge, origin, RP ID, signature,
    user verification when required, and the sign counter. Returns whose
    passkey it was. For the second factor, only a passkey of `user_id`."""
    ceremony = open_ceremony(store, keys, state, purpose, tenant_id, binding)
    if user_id is not None and (ceremony.get("u") != user_id or ceremony.get("s") != session_id):
        raise PasskeyRefused(Message(N_("This passkey request was made for another sign-in. Try again.")))
    raw_id = (credential.get("rawId") or credential.get("id")) if isinstance(credential, dict) else None
    response = credential.get("response") if isinstance(credential, dict) else None
    if not isinstance(raw_id, str) or len(raw_id) > 1400 or not isinstance(response, dict):
        raise PasskeyRefused(Message(N_("The browser's answer names no passkey.")))
    with store.read() as conn:
        row = TenantScope(conn, tenant_id).one(webauthn_credentials, webauthn_credentials.c.credential_id == raw_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        raise PasskeyRefused(Message(N_("This passkey is not registered here. Sign in another way, "
                             "or register it again from your account page.")))
    handle = response.get("userHandle")
    if handle and handle != bytes_to_base64url(user_handle(tenant_id, row.user_id)):
        raise PasskeyRefused(Message(N_("This passkey belongs to someone else.")))
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=base64url_to_bytes(ceremony["c"]),
            expected_rp_id=rp.id, expected_origin=rp.origin,
            credential_public_key=base64url_to_bytes(row.public_key),
            credential_current_sign_count=row.sign_count,
            require_user_verification=rp.user_verification == "required",
        )
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = str(exc)
        with store.write() as conn:
            TenantScope(conn, tenant_id).audit(f"user:{row.user_id}", "user.passkey_refused", "user", row.user_id,
                                               actor_addr, name=row.name, reason=detail[:200])
        if "sign count" in detail.lower():
            # Clone detection (docs/sign-in.md): the counter went backwards.
            raise PasskeyRefused(Message(N_("This passkey's counter went backwards, as a copied authenticator's does: it is "
                                 "refused. Sign in another way and remove it from your account page."))) from None
        raise PasskeyRefused(Message(N_("The passkey was not accepted: %(reason)s"), reason=detail)) from None
    now = time.time()
    with store.write() as conn:
        scope = TenantScope(conn, tenant_id)
        # Compare-and-set on the counter: two uses racing cannot both pass.
        moved = scope.update(webauthn_credentials, webauthn_credentials.c.id == row.id,
                             webauthn_credentials.c.sign_count == row.sign_count,
                             sign_count=verified.new_sign_count, last_used_at=now,
                             backed_up=bool(verified.credential_backed_up))
        if not moved:
            raise PasskeyRefused(Message(N_("This passkey was used twice at once. Try again.")))
        user = scope.one(users, users.c.id == row.user_id)
        if user is None or not user.active:
            raise PasskeyRefused(Message(N_("This account cannot sign in.")))
        scope.audit(f"user:{row.user_id}", "user.passkey_used", "user", row.user_id, actor_addr, name=row.name)
    return Authenticated(row.user_id, row.id, bool(getattr(verified, "user_verified", False)))


