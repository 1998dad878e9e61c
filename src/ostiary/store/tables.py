"""The schema, in SQLAlchemy Core. Every tenant-owned table has `tenant_id`;
migrations in store/migrations create exactly this."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
    UniqueConstraint,
    func,
    true,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Times are UNIX seconds (float): one representation on SQLite and PostgreSQL.

installation = Table(
    "installation",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(63), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("session_idle_seconds", Integer, nullable=False),
    Column("session_absolute_seconds", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    # Off: only upstream providers sign people in; administrators keep the
    # password as the break-glass way in (docs/identity-providers.md).
    Column("password_sign_in", Boolean, nullable=False, default=True, server_default=true()),
    # Who must have a second factor: off | admins | everyone (docs/sign-in.md).
    Column("second_factor_policy", String(16), nullable=False, default="off", server_default="off"),
    # Branding (docs/admin.md, "Branding"): `name` above is the display name. The
    # accent is #rrggbb; the contact is who to ask (an email address or a line of
    # text); logo_version names the current logo in tenant_logos (its hash), so
    # pages link /branding/logo?v=... without reading the logo itself.
    Column("accent_colour", String(7), nullable=True),
    Column("contact", String(200), nullable=True),
    Column("logo_version", String(16), nullable=True),
)

# A tenant's logo, checked and cleaned when uploaded (services/rules/branding.py).
tenant_logos = Table(
    "tenant_logos",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("content_type", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("username", String(100), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", Text, nullable=True),
    # Sealed by the secret box (ostiary/secretbox.py) when a key is configured.
    Column("totp_secret", Text, nullable=True),
    # Set when the person has confirmed a code: only then does TOTP apply.
    Column("totp_enabled_at", Float, nullable=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The pages' language the person chose ("de"); NULL follows Accept-Language (docs/translations.md).
    Column("language", String(16), nullable=True),
    UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),
    UniqueConstraint("tenant_id", "username", name="uq_users_tenant_username"),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("parent_id", Integer, ForeignKey("groups.id", ondelete="RESTRICT"), nullable=True),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_groups_tenant_name"),
)
# "STAFF" beside "staff" is refused (migration 0004); the service layer compares case-folded names first.
Index("uq_groups_tenant_lower_name", groups.c.tenant_id, func.lower(groups.c.name), unique=True)

memberships = Table(
    "memberships",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_memberships_user", "user_id"),
)

domains = Table(
    "domains",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(253), nullable=False),
    # A portal host is served for one tenant only: unique among *verified*
    # domains (the first to verify owns it); pending ones never block anyone.
    Column("portal_host", String(253), nullable=False),
    Column("status", String(16), nullable=False),  # pending | verified | failed | disabled
    Column("verification_token", String(64), nullable=False),
    Column("status_reason", Text, nullable=False, default=""),
    Column("verified_at", Float, nullable=True),
    Column("last_checked_at", Float, nullable=True),
    # Set when re-verification no longer finds the record; cleared when it returns.
    Column("flagged_at", Float, nullable=True),
    # JSON: take identity from the chat's shared cookie instead of the handshake (docs/contract.md §9).
    # The column keeps its first name; code calls it shared_cookie.
    Column("external_identity", Text, key="shared_cookie", nullable=True),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_domains_tenant_name"),
    UniqueConstraint("tenant_id", "portal_host", name="uq_domains_tenant_portal_host"),
    Index("uq_domains_verified_portal_host", "portal_host", unique=True,
          sqlite_where=text("status = 'verified'"), postgresql_where=text("status = 'verified'")),
)

apps = Table(
    "apps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("domain_id", Integer, ForeignKey("domains.id", ondelete="RESTRICT"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("url", Text, nullable=False),
    Column("host", String(253), nullable=False),
    Column("port", Integer, nullable=True),
    Column("path_prefix", Text, nullable=False),
    Column("public_paths", Text, nullable=False, default="[]"),  # JSON list of patterns
    Column("identity_headers", String(100), nullable=False),  # comma-separated keys
    Column("all_users", Boolean, nullable=False, default=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("require_2fa", Boolean, nullable=False, default=False),
    # JSON: take identity from the chat's shared cookie instead of the handshake (docs/contract.md §9).
    # The column keeps its first name; code calls it shared_cookie.
    Column("external_identity", Text, key="shared_cookie", nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_apps_tenant_name"),
    Index("ix_apps_host", "host"),
)

app_grants = Table(
    "app_grants",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("app_id", Integer, ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)

sessions = Table(
    "sessions",
    metadata,
    # Public id, carried by forward-auth cookies; never enough to act as the session.
    Column("id", String(32), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # SHA-256 of the secret held in the browser's session cookie.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("ended_reason", String(64), nullable=True),
    Column("client_addr", String(64), nullable=False, default=""),
    Column("user_agent", String(300), nullable=False, default=""),
    Column("second_factor", Boolean, nullable=False, default=False),
    # JSON list of {"amr": RFC 8176 method, "at": UNIX seconds, "via": provider}: how the person signed in.
    Column("methods", Text, nullable=False, default="[]", server_default="[]"),
    Index("ix_sessions_user", "user_id"),
    Index("ix_sessions_ended", "ended_at"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    # Installation-wide: every token and cookie names its tenant and domain
    # inside the signed payload, so a key shared by tenants cannot cross them.
    Column("id", String(16), primary_key=True),
    # Sealed by the secret box (ostiary/secretbox.py) when a key is configured.
    Column("secret", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    # Null while the key signs; set at rotation to when it stops verifying.
    Column("retire_at", Float, nullable=True),
)

consumed_tokens = Table(
    "consumed_tokens",
    metadata,
    Column("jti", String(32), primary_key=True),
    Column("expires_at", Float, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True),
    Column("at", Float, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("actor_addr", String(64), nullable=False, default=""),
    Column("action", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("detail", Text, nullable=False, default="{}"),
    Index("ix_audit_tenant_at", "tenant_id", "at"),
)

change_log = Table(
    "change_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=True),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("at", Float, nullable=False),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", String(128), nullable=False),
    Column("used_at", Float, nullable=True),
    Index("ix_recovery_codes_user", "user_id"),
)

# Sign-in throttling, shared by every worker and instance: one row per key
# ("account:<tenant>:<login>" or "address:<ip>").
throttle = Table(
    "throttle",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("blocked_until", Float, nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    # SHA-256 of the bearer token; the token itself is shown once.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(64), nullable=False),  # "read" or "read,write"
    Column("created_by", String(320), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
)

# Upstream OpenID Connect / OAuth 2 providers people sign in with (docs/identity-providers.md).
identity_providers = Table(
    "identity_providers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(63), nullable=False),  # in the redirect URI: /sign-in/with/<name>/callback
    Column("display_name", String(100), nullable=False),
    Column("preset", String(16), nullable=False),  # oidc | google | entra | gitlab | github | ldap
    Column("issuer", Text, nullable=False),  # OIDC discovery base; GitHub: its web base URL
    Column("client_id", String(255), nullable=False),
    # Where the secret is read at use: "file:/path" or "env:NAME"; the secret itself is never stored.
    Column("client_secret_ref", String(400), nullable=False),
    Column("scopes", String(400), nullable=False),
    Column("claims", Text, nullable=False, default="{}"),  # JSON: username, email, display_name, groups
    Column("allowed_directories", Text, nullable=False, default="[]"),  # JSON: Entra `tid`s for `common`
    Column("account_policy", String(16), nullable=False),  # create | existing
    Column("create_domains", Text, nullable=False, default="[]"),  # JSON: empty = any domain
    Column("trusted_domains", Text, nullable=False, default="[]"),  # JSON: emails it may link by
    # JSON, LDAP only: start_tls, ca_file, user_base, user_filter, group_base, group_filter. For LDAP
    # the issuer is the ldaps:// or ldap:// URL, client_id the bind DN and the secret its password.
    Column("options", Text, nullable=False, default="{}", server_default="{}"),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_identity_providers_tenant_name"),
)

# A provider's group (or role) names mapped to Ostiary groups, re-applied at every sign-in.
provider_group_map = Table(
    "provider_group_map",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("provider_id", Integer, ForeignKey("identity_providers.id", ondelete="CASCADE"), primary_key=True),
    Column("upstream_group", String(255), primary_key=True),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)

# A person's identity at a provider (its stable subject), linked to one user.
linked_identities = Table(
    "linked_identities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("provider_id", Integer, ForeignKey("identity_providers.id", ondelete="CASCADE"), nullable=False),
    Column("subject", String(255), nullable=False),
    # The email the provider last asserted, for people to recognise the link; never used to match.
    Column("email", String(320), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    UniqueConstraint("provider_id", "subject", name="uq_linked_identities_provider_subject"),
    Index("ix_linked_identities_user", "user_id"),
)

# Links sent by email (docs/email.md): an invitation, a password reset or an
# email change, each single use and expiring. Only the token's SHA-256 is stored.
email_links = Table(
    "email_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(16), nullable=False),  # invitation | reset | email_change
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("new_email", String(320), nullable=True),  # email_change: the address being confirmed
    Column("created_by", String(320), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
    Index("ix_email_links_user", "user_id"),
)


# A person's passkeys (WebAuthn credentials, docs/sign-in.md). The credential
# id and public key are as the authenticator gave them, base64url; the sign
# counter only ever grows, or the credential is refused as a possible clone.
webauthn_credentials = Table(
    "webauthn_credentials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("credential_id", String(1400), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("sign_count", BigInteger, nullable=False, default=0),
    Column("name", String(100), nullable=False),
    Column("transports", String(200), nullable=False, default=""),
    Column("aaguid", String(36), nullable=False, default=""),
    Column("backed_up", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    UniqueConstraint("tenant_id", "credential_id", name="uq_webauthn_credentials_tenant_credential"),
    Index("ix_webauthn_credentials_user", "user_id"),
)


# --- OpenID Connect provider (docs/oidc-provider.md) ---------------------------

# Apps that sign people in through Ostiary's own issuer on the tenant host.
oidc_clients = Table(
    "oidc_clients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    # The public identifier the app is configured with; random, unique across tenants.
    Column("client_id", String(64), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    # SHA-256 of the client secret (shown once); null for a public client, which must use PKCE S256.
    Column("secret_hash", String(64), nullable=True),
    Column("redirect_uris", Text, nullable=False, default="[]"),  # JSON list, matched exactly
    Column("post_logout_redirect_uris", Text, nullable=False, default="[]"),  # JSON list, matched exactly
    Column("backchannel_logout_uri", Text, nullable=True),
    Column("scopes", String(200), nullable=False),  # space-separated scopes the client may ask for
    Column("all_users", Boolean, nullable=False, default=False),
    Column("require_2fa", Boolean, nullable=False, default=False),
    Column("skip_consent", Boolean, nullable=False, default=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("access_token_seconds", Integer, nullable=False),
    Column("refresh_token_seconds", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_oidc_clients_tenant_name"),
)

# Who may use a client: the same group grants as apps (ostiary/access.py).
oidc_client_grants = Table(
    "oidc_client_grants",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", Integer, ForeignKey("oidc_clients.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)

# Authorization codes, by SHA-256; one use, and a second use revokes what the first issued.
oidc_codes = Table(
    "oidc_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", Integer, ForeignKey("oidc_clients.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(32), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", String(200), nullable=False),
    Column("nonce", Text, nullable=True),
    Column("code_challenge", String(128), nullable=True),
    Column("code_challenge_method", String(8), nullable=True),
    Column("auth_time", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

# Access and refresh tokens, by SHA-256. Every token of one grant shares a family, so a
# reused refresh token or a replayed code revokes them all; each names the session it
# came from and dies with it.
oidc_tokens = Table(
    "oidc_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", Integer, ForeignKey("oidc_clients.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(32), nullable=False),
    Column("kind", String(8), nullable=False),  # access | refresh
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("family", String(32), nullable=False),
    Column("code_hash", String(64), nullable=True),
    Column("scope", String(200), nullable=False),
    Column("auth_time", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),  # a refresh token, once exchanged
    Column("revoked_at", Float, nullable=True),
    Index("ix_oidc_tokens_family", "family"),
    Index("ix_oidc_tokens_session", "session_id"),
)

# What a person agreed to share with a client; asked again when a client wants more.
oidc_consents = Table(
    "oidc_consents",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("client_id", Integer, ForeignKey("oidc_clients.id", ondelete="CASCADE"), primary_key=True),
    Column("scope", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
)

# The issuer's signing keys (RS256 and ES256), installation-wide like signing_keys: every
# token names its tenant's issuer inside the signed payload.
oidc_signing_keys = Table(
    "oidc_signing_keys",
    metadata,
    Column("kid", String(32), primary_key=True),
    Column("alg", String(8), nullable=False),
    # The private JWK as JSON, sealed by the secret box (ostiary/secretbox.py).
    Column("private_jwk", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    # Set at rotation: the key stops signing then, and leaves the JWKS at drop_at,
    # once every token it signed has expired.
    Column("retired_at", Float, nullable=True),
    Column("drop_at", Float, nullable=True),
)

TENANT_TABLES = (users, groups, memberships, domains, apps, app_grants, sessions, audit_log, recovery_codes, api_tokens,
                 identity_providers, provider_group_map, linked_identities, email_links, webauthn_credentials,
                 oidc_clients, oidc_client_grants, oidc_codes, oidc_tokens, oidc_consents)
