"""The hot path: /forward-auth/check and /caddy/check-domain, answered from
the in-memory snapshot with no database access."""
