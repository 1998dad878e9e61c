"""Ways to sign in other than Ostiary's own password: upstream OpenID Connect
and OAuth 2 providers, and LDAP / Active Directory. Each ends in the same
central session (services.sessions.create_session), recording how the person
signed in (docs/identity-providers.md)."""
