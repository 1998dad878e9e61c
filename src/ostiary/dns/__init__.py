"""Protected domains in DNS: the TXT challenge (verification), registration
name rules (names), the resolvers setting (resolvers), re-verification
(recheck), the doctor's checks (sign_in_checks) and the domain states
(status).

Import the module you need; the package itself imports nothing, so the
gate's worker can name a domain state without loading publicsuffixlist or
dnspython (tests/unit/test_layering.py)."""
