"""Everything a person or an admin touches: the handshake endpoints other
than /check, sign-in, pages, and (later) the JSON API."""
