"""Ostiary as an OpenID Connect provider (docs/oidc-provider.md): an issuer
on each tenant host for apps that sign people in themselves. The protocol is
Authlib's server components and joserfc; this package holds Ostiary's side
of it: clients and who may use them, signing keys, codes and tokens, and
logout. The portal's routes (ostiary/portal/oidc.py) stay thin."""
