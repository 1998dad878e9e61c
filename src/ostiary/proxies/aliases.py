"""Alias spellings of identity headers, and what each proxy does about them.

CGI-style app servers hand headers to the app as variables: Apache httpd
turns every byte of the name that is not a letter or a digit into ``_``
and uppercases it (``HTTP_X_FORWARDED_USER``); wsgiref, gunicorn and PHP
fold ``-`` alone. So ``X_Forwarded-User``, ``x.forwarded.user`` or
``X~Forwarded~User`` sent by a client would be read as the identity Ostiary
set, or joined to it (``alice,admin``). Every snippet removes them: headers
with any of these characters in their name never reach the app (nginx
drops them itself; see docs/proxies/).
"""

from __future__ import annotations

# Token characters (RFC 9110) other than letters, digits and "-": the ones a
# header name may carry that a CGI server folds into "_".
ALIAS_SEPARATORS = "_.~+!#$%&'^`|*"
