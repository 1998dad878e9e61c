"""Everything a person or an admin touches: the handshake endpoints other
than /check, sign-in, the account and admin pages, and the JSON API."""
