"""The shared-cookie verifier: what the gate needs to take identity from a
chat's JWT cookie (docs/contract.md §9), and nothing more.

It imports PyJWT and the standard library only, so a gate worker that checks
requests against a shared-cookie source loads none of the operator tooling
(ostiary.sharedcookie.tooling) or its dependencies. tests/unit/test_layering.py
holds it to that.
"""
