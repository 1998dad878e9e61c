"""Names that cross the wire: paths, cookies and headers shared by the gate,
the portal, the proxy snippets and the tests. Change one here and every
caller follows."""

CHECK_PATH = "/forward-auth/check"
START_PATH = "/forward-auth/start"
AUTHORIZE_PATH = "/forward-auth/authorize"
CALLBACK_PATH = "/forward-auth/callback"
PORTAL_SIGN_OUT_PATH = "/forward-auth/sign-out"
CADDY_CHECK_DOMAIN_PATH = "/caddy/check-domain"

# Per-protected-domain cookie minted by the handshake (Domain=<protected domain>).
FORWARD_AUTH_COOKIE = "_ostiary_fa"
# Central session on the tenant host. Production uses the __Host- prefix;
# development mode over plain http cannot (browsers refuse __Host- without Secure).
SESSION_COOKIE = "__Host-ostiary_session"
SESSION_COOKIE_DEV = "ostiary_session"
# Handshake state on the portal host; the suffix is the first hex digits of the
# nonce's hash, so two handshakes in one browser never overwrite each other.
STATE_COOKIE_PREFIX = "__Host-ostiary_state_"
STATE_COOKIE_PREFIX_DEV = "ostiary_state_"
CSRF_COOKIE = "__Host-ostiary_csrf"
CSRF_COOKIE_DEV = "ostiary_csrf"

# Identity headers, keyed by the short names used in app settings and the CLI.
IDENTITY_HEADERS = {
    "user": "X-Forwarded-User",
    "email": "X-Forwarded-Email",
    "groups": "X-Forwarded-Groups",
    "display_name": "X-Forwarded-Display-Name",
}
IDENTITY_HEADER_KEYS = tuple(IDENTITY_HEADERS)

# Where a not-signed-in answer puts the sign-in target for 401 responses.
LOCATION_HEADER = "X-Ostiary-Location"
# With a 401 asked for by ?not-signed-in=401 (nginx): "1" when the browser should be redirected.
NAVIGATION_HEADER = "X-Ostiary-Navigation"

# How the check answers "not signed in" for a proxy that can pass on only 2xx,
# 401 and 403 (docs/contract.md §3): the snippet adds this to the check URL.
STATUS_401_QUERY = "not-signed-in=401"
# Query parts that ask for that answer: the parameter, and the ?proxy=nginx
# that nginx snippets pasted before the parameter existed still send. The
# gate reads this set; ostiary.proxies.registry derives the same set from the
# proxy kinds, and a test keeps the two equal.
STATUS_401_QUERIES = frozenset({STATUS_401_QUERY.encode("ascii"), b"proxy=nginx"})

# What /check answered (gate/decide.py): the `outcome` label of ostiary_checks_total and the
# field of the gate's log lines (docs/operations.md). ERROR is the gate's own failure (a 500).
# Plain strings, not an enum: every check passes one.
ALLOWED = "allowed"  # 200 with the identity headers
PUBLIC = "public"  # 200 for a public path, identity headers empty
NOT_SIGNED_IN = "not_signed_in"  # 302, or 401 with the sign-in target
FORBIDDEN = "forbidden"  # 403: signed in, but this person may not enter this app
NO_APP = "no_app"  # 403: unknown portal host, incomplete or plain-http forwarded request, or no app matches
UNAVAILABLE = "unavailable"  # 503: the snapshot is not loaded, or a chat-cookie source is misconfigured
ERROR = "error"  # 500: an exception in the gate
# The two that let the request in come first: metrics.check_answered logs only the others.
CHECK_OUTCOMES = (ALLOWED, PUBLIC, NOT_SIGNED_IN, FORBIDDEN, NO_APP, UNAVAILABLE, ERROR)
