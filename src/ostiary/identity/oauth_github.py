"""GitHub as a plain OAuth 2 provider (it has no OpenID Connect for people):
the authorization code flow with PKCE and `state`, then its user API for the
account id (the subject), login, name and the primary verified email; with
the `read:org` scope, teams as groups named "org/team"
(docs/identity-providers.md). GitHub Enterprise Server: the issuer is its
web address and the API is under /api/v3."""

from __future__ import annotations

import httpx

from ostiary.identity.oidc import TIMEOUT, grant_url, redeem_code
from ostiary.identity.provider import AnswerRefused, ProviderConfig, ProviderUnavailable, UpstreamPerson

GITHUB = "https://github.com"


def api_base(config: ProviderConfig) -> str:
    web = config.issuer.rstrip("/")
    return "https://api.github.com" if web == GITHUB else f"{web}/api/v3"


def authorization_url(config: ProviderConfig, redirect_uri: str, state: str, verifier: str) -> str:
    return grant_url(config.issuer.rstrip("/") + "/login/oauth/authorize", config, redirect_uri, state, verifier)


def _api(client: httpx.Client, url: str):
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"GitHub's API did not answer ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise ProviderUnavailable(f"GitHub's API answered HTTP {response.status_code} for {httpx.URL(url).path}")
    try:
        return response.json()
    except ValueError:
        raise ProviderUnavailable("GitHub's API did not answer JSON") from None


def finish(config: ProviderConfig, redirect_uri: str, code: str, verifier: str) -> UpstreamPerson:
    token = redeem_code(config.issuer.rstrip("/") + "/login/oauth/access_token", config, redirect_uri, code, verifier)
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise AnswerRefused("GitHub answered without an access token")
    base = api_base(config)
    headers = {"authorization": f"Bearer {access}", "accept": "application/vnd.github+json"}
    with httpx.Client(timeout=TIMEOUT, headers=headers) as client:
        user = _api(client, f"{base}/user")
        emails = _api(client, f"{base}/user/emails") if "user:email" in config.scopes.split() else []
        teams = _api(client, f"{base}/user/teams?per_page=100") if "read:org" in config.scopes.split() else []
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise AnswerRefused("GitHub's user API answered without an account id")
    primary = next((e for e in emails if isinstance(e, dict) and e.get("primary")), None) if isinstance(emails, list) else None
    return UpstreamPerson(
        subject=str(user["id"]),  # the login can be renamed; the numeric id cannot
        email=str(primary.get("email", "")) if primary else "",
        email_verified=bool(primary and primary.get("verified") is True),
        username=str(user.get("login") or ""),
        display_name=str(user.get("name") or user.get("login") or ""),
        groups=tuple(f"{t['organization']['login']}/{t['slug']}" for t in teams
                     if isinstance(t, dict) and isinstance(t.get("organization"), dict)) if isinstance(teams, list) else (),
    )
