"""The /check decision as a table (docs/contract.md §3), over a snapshot
built by hand: no store, no server. Each row names the branch of the
contract's table it exercises, so this file reads as the specification of
``decide()`` and fails when a branch moves or disappears."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest

from ostiary.gate.decide import decide
from ostiary.gate.forwarded import ForwardedRequest
from ostiary.snapshot.model import AppView, DomainView, Snapshot, TenantView, UserView
from ostiary.tokens import FORWARD_AUTH, SigningKey, sign

NOW = 1_900_000_000.0
KEY = SigningKey("k1", b"s" * 32, retire_at=None)
OTHER_KEY = SigningKey("k2", b"t" * 32, retire_at=None)

TENANT, RIVAL = 1, 2
STAFF, OPS, OPS_CHILD = 10, 11, 12
ALICE, BOB, DORA, RIVAL_USER = 100, 101, 102, 200


def _app(app_id, url, *, prefix="/", public=(), public_prefixes=(), all_users=False, granted=(), require_2fa=False,
         domain_id=1, tenant_id=TENANT, shared_cookie=None):
    split = urlsplit(url)
    return AppView(
        id=app_id, tenant_id=tenant_id, domain_id=domain_id, name=f"app{app_id}", url=url, host=split.hostname,
        port=split.port, path_prefix=prefix, public_exact=frozenset(public), public_prefixes=tuple(public_prefixes),
        header_keys=("user", "email", "groups", "display_name"), all_users=all_users, granted=frozenset(granted),
        enabled=True, require_2fa=require_2fa, shared_cookie=shared_cookie,
    )


def _user(user_id, name, groups, *, active=True, tenant_id=TENANT):
    return UserView(id=user_id, tenant_id=tenant_id, username=name, email=f"{name}@acme.test", display_name=name,
                    active=active, groups=frozenset(groups), groups_header="")


def _snapshot() -> Snapshot:
    acme = DomainView(1, TENANT, "acme.test", "auth.acme.test", True)
    rival = DomainView(2, RIVAL, "rival.test", "auth.rival.test", True)
    apps = [
        _app(1, "https://grafana.acme.test", granted={STAFF}, public={"/health"}, public_prefixes=("/static/",)),
        _app(2, "https://wiki.acme.test", all_users=True),
        _app(3, "https://vault.acme.test", all_users=True, require_2fa=True),
        _app(4, "https://ops.acme.test", granted={OPS}),  # OPS_CHILD members inherit OPS
        _app(5, "https://tools.acme.test/a", prefix="/a", all_users=True),
        _app(6, "https://tools.acme.test/b", prefix="/b", granted={OPS}),
        _app(7, "https://rival.rival.test", all_users=True, domain_id=2, tenant_id=RIVAL),
    ]
    snap = Snapshot(base_domain="id.test", loaded=True)
    snap.tenants = {TENANT: TenantView(TENANT, "acme", "acme.id.test", 3600, 86400),
                    RIVAL: TenantView(RIVAL, "rival", "rival.id.test", 3600, 86400)}
    snap.domains = {1: acme, 2: rival}
    snap.portal_hosts = {"auth.acme.test": acme, "auth.rival.test": rival}
    snap.apps = {a.id: a for a in apps}
    by_host: dict[str, list[AppView]] = {}
    for app in apps:
        by_host.setdefault(app.host, []).append(app)
    snap.apps_by_host = {h: tuple(sorted(v, key=lambda a: -len(a.path_prefix))) for h, v in by_host.items()}
    snap.users = {
        ALICE: _user(ALICE, "alice", {STAFF}),
        BOB: _user(BOB, "bob", set()),
        DORA: _user(DORA, "dora", {OPS_CHILD, OPS}),  # the closure the snapshot holds: the child and its ancestor
        103: _user(103, "carol", {STAFF}, active=False),
        RIVAL_USER: _user(RIVAL_USER, "rita", set(), tenant_id=RIVAL),
    }
    snap.ended_sessions = {"ended-session": NOW + 3600}
    snap.keys = {KEY.kid: KEY}
    return snap


def _cookie(user_id, *, session="s1", domain=1, tenant=TENANT, mf=False, exp=NOW + 600, key=KEY, kind=FORWARD_AUTH):
    payload = {"tn": tenant, "d": domain, "s": session, "u": user_id, "exp": exp}
    if mf:
        payload["mf"] = 1
    return sign(kind, payload, key)


def _request(url="https://grafana.acme.test/d/x", *, portal="auth.acme.test", cookies=(), navigation=True,
             answer_401=False, proto=None):
    split = urlsplit(url)
    uri = url[len(f"{split.scheme}://{split.netloc}"):] or "/"
    return ForwardedRequest(
        portal_host=portal, proto=proto or split.scheme, host=split.hostname, port=split.port, raw_host=split.netloc,
        uri=uri, method="GET", cookies=tuple(cookies), cookie_header="", navigation=navigation,
        answer_401=answer_401,
    )


def _portal_url(host: str, path: str) -> str:
    return f"https://{host}{path}"


# (branch of docs/contract.md §3, request, expected status, expected outcome)
ROWS = [
    ("2 unknown portal host", _request(portal="auth.unknown.test"), 403, "no_app"),
    ("2 portal host of another tenant's domain", _request(portal="auth.rival.test", cookies=[_cookie(ALICE)]),
     403, "no_app"),
    ("3 plain http without development mode", _request("http://grafana.acme.test/d/x"), 403, "no_app"),
    ("4 no app on the forwarded host", _request("https://nothing.acme.test/"), 403, "no_app"),
    ("4 app on the wrong port", _request("https://grafana.acme.test:8443/"), 403, "no_app"),
    ("4 no app under this path prefix", _request("https://tools.acme.test/c/x"), 403, "no_app"),
    ("4 a path that cannot be normalised on a host of prefixed apps", _request("https://tools.acme.test/a/../b/x"),
     403, "no_app"),
    ("5 exact public path, no cookie", _request("https://grafana.acme.test/health"), 200, "public"),
    ("5 public prefix, no cookie", _request("https://grafana.acme.test/static/app.js"), 200, "public"),
    ("5 dot-dot out of a public prefix is not public", _request("https://grafana.acme.test/static/../admin"),
     302, "not_signed_in"),
    ("5 percent-encoded dot-dot is not public", _request("https://grafana.acme.test/static/%2e%2e/admin"),
     302, "not_signed_in"),
    ("7 no cookie, navigation", _request(), 302, "not_signed_in"),
    ("7 no cookie, not a navigation", _request(navigation=False), 401, "not_signed_in"),
    ("7 no cookie, proxy asked for 401", _request(answer_401=True), 401, "not_signed_in"),
    ("7 cookie expired beyond the clock leeway", _request(cookies=[_cookie(ALICE, exp=NOW - 31)]), 302, "not_signed_in"),
    ("7 cookie expired within the 30 s clock leeway", _request(cookies=[_cookie(ALICE, exp=NOW - 20)]), 200, "allowed"),
    ("7 cookie signed with an unknown key", _request(cookies=[_cookie(ALICE, key=OTHER_KEY)]), 302, "not_signed_in"),
    ("7 cookie of another kind (a handshake token)", _request(cookies=[_cookie(ALICE, kind="hs")]),
     302, "not_signed_in"),
    ("7 cookie for another domain of the tenant", _request(cookies=[_cookie(ALICE, domain=2)]), 302, "not_signed_in"),
    ("7 cookie naming another tenant", _request(cookies=[_cookie(ALICE, tenant=RIVAL)]), 302, "not_signed_in"),
    ("7 the first cookie that verifies wins", _request(cookies=["garbage", _cookie(ALICE)]), 200, "allowed"),
    ("8 session ended", _request(cookies=[_cookie(ALICE, session="ended-session")]), 302, "not_signed_in"),
    ("8 user disabled", _request(cookies=[_cookie(103)]), 302, "not_signed_in"),
    ("8 user unknown", _request(cookies=[_cookie(999)]), 302, "not_signed_in"),
    ("8 user of another tenant with a cookie naming this one", _request(cookies=[_cookie(RIVAL_USER)]),
     302, "not_signed_in"),
    ("9 second factor required, not passed", _request("https://vault.acme.test/", cookies=[_cookie(BOB)]),
     302, "not_signed_in"),
    ("9 second factor required and passed", _request("https://vault.acme.test/", cookies=[_cookie(BOB, mf=True)]),
     200, "allowed"),
    ("10 not in a granted group", _request(cookies=[_cookie(BOB)]), 403, "forbidden"),
    ("10 in a group below the granted one", _request("https://ops.acme.test/", cookies=[_cookie(DORA)]),
     200, "allowed"),
    ("10 prefixed app with grants, not granted", _request("https://tools.acme.test/b/x", cookies=[_cookie(ALICE)]),
     403, "forbidden"),
    ("11 granted", _request(cookies=[_cookie(ALICE)]), 200, "allowed"),
    ("11 app open to everyone in the tenant", _request("https://wiki.acme.test/", cookies=[_cookie(BOB)]),
     200, "allowed"),
    ("11 longest matching prefix picks the app", _request("https://tools.acme.test/a/x", cookies=[_cookie(BOB)]),
     200, "allowed"),
]


@pytest.mark.parametrize("branch, req, status, outcome", ROWS, ids=[r[0] for r in ROWS])
def test_decision_table(branch, req, status, outcome):
    decision = decide(_snapshot(), req, NOW, _portal_url, allow_http=False)
    assert (decision.status, decision.outcome) == (status, outcome), branch


def test_1_an_unloaded_snapshot_answers_503_whatever_the_request():
    snap = _snapshot()
    snap.loaded = False
    decision = decide(snap, _request(cookies=[_cookie(ALICE)]), NOW, _portal_url, allow_http=False)
    assert (decision.status, decision.outcome) == (503, "unavailable")


def test_3_plain_http_passes_the_scheme_rule_in_development_mode():
    snap = _snapshot()
    http_app = dataclasses.replace(snap.apps[2], url="http://wiki.acme.test")
    snap.apps_by_host["wiki.acme.test"] = (http_app,)
    decision = decide(snap, _request("http://wiki.acme.test/", cookies=[_cookie(BOB)]), NOW, _portal_url,
                      allow_http=True)
    assert (decision.status, decision.outcome) == (200, "allowed")


def test_not_signed_in_points_at_the_portal_hosts_start_with_the_whole_original_url():
    decision = decide(_snapshot(), _request("https://grafana.acme.test/d/x?y=1&z=%20"), NOW, _portal_url,
                      allow_http=False)
    target = urlsplit(decision.location)
    assert (target.scheme, target.netloc, target.path) == ("https", "auth.acme.test", "/forward-auth/start")
    assert parse_qs(target.query) == {"rd": ["https://grafana.acme.test/d/x?y=1&z=%20"]}


def test_an_allowed_decision_names_the_app_and_the_user():
    decision = decide(_snapshot(), _request(cookies=[_cookie(ALICE)]), NOW, _portal_url, allow_http=False)
    assert decision.app.id == 1 and decision.user.username == "alice"


# --- row 9: the person owes a second factor, whatever the app (docs/sign-in.md) ---------------------
# The same rule as the portal's (access.second_factor_owed): they have one (an authenticator app or
# a passkey), or the tenant's policy requires it of them. Asked only of a cookie whose session did
# not pass a second factor ("mf" false).

def _with(policy="off", enrolled=(), admins=()) -> Snapshot:
    snap = _snapshot()
    snap.tenants[TENANT] = dataclasses.replace(snap.tenants[TENANT], second_factor_policy=policy)
    snap.second_factor_enrolled = set(enrolled)
    snap.admins = set(admins)
    return snap


GRAFANA = "https://grafana.acme.test/d/x"
WIKI = "https://wiki.acme.test/"
OWED_ROWS = [
    # (case, snapshot, request, expected status, expected outcome)
    ("policy off, nothing enrolled: as before", _with(), _request(cookies=[_cookie(ALICE)]), 200, "allowed"),
    ("policy everyone, no second factor passed", _with("everyone"), _request(cookies=[_cookie(ALICE)]),
     302, "not_signed_in"),
    ("policy everyone, not a navigation", _with("everyone"), _request(cookies=[_cookie(ALICE)], navigation=False),
     401, "not_signed_in"),
    ("policy everyone, second factor passed", _with("everyone"), _request(cookies=[_cookie(ALICE, mf=True)]),
     200, "allowed"),
    ("policy admins, an administrator without it", _with("admins", admins={BOB}),
     _request(WIKI, cookies=[_cookie(BOB)]), 302, "not_signed_in"),
    ("policy admins, an administrator with it", _with("admins", admins={BOB}),
     _request(WIKI, cookies=[_cookie(BOB, mf=True)]), 200, "allowed"),
    ("policy admins, not an administrator", _with("admins", admins={BOB}), _request(cookies=[_cookie(ALICE)]),
     200, "allowed"),
    ("policy off, enrolled, not passed", _with(enrolled={ALICE}), _request(cookies=[_cookie(ALICE)]),
     302, "not_signed_in"),
    ("policy off, enrolled, passed", _with(enrolled={ALICE}), _request(cookies=[_cookie(ALICE, mf=True)]),
     200, "allowed"),
    ("policy off, someone else enrolled", _with(enrolled={BOB}), _request(cookies=[_cookie(ALICE)]),
     200, "allowed"),
    ("policy admins, someone else is the administrator", _with("admins", admins={ALICE}),
     _request(WIKI, cookies=[_cookie(BOB)]), 200, "allowed"),
    # As an app's require_2fa: the second factor is asked before membership, so a password alone
    # tells nobody which apps an account may enter.
    ("owed before membership", _with("everyone"), _request(cookies=[_cookie(BOB)]), 302, "not_signed_in"),
    ("owed, and the session ended: not signed in either way", _with("everyone"),
     _request(cookies=[_cookie(ALICE, session="ended-session")]), 302, "not_signed_in"),
    ("another tenant's policy does not reach this one", _with("everyone"),
     _request("https://rival.rival.test/", portal="auth.rival.test",
              cookies=[_cookie(RIVAL_USER, domain=2, tenant=RIVAL)]), 200, "allowed"),
]


@pytest.mark.parametrize("case, snap, req, status, outcome", OWED_ROWS, ids=[r[0] for r in OWED_ROWS])
def test_9_a_person_who_owes_a_second_factor(case, snap, req, status, outcome):
    decision = decide(snap, req, NOW, _portal_url, allow_http=False)
    assert (decision.status, decision.outcome) == (status, outcome), case
    if outcome == "not_signed_in":
        # The portal's /start with the whole original URL, as for an app that requires one.
        assert urlsplit(decision.location).path == "/forward-auth/start"
        assert decision.until is None  # a refusal with a cookie is never remembered


def test_9_owed_answers_as_an_app_that_requires_a_second_factor_does():
    owed = decide(_with("everyone"), _request(WIKI, cookies=[_cookie(BOB)]), NOW, _portal_url, allow_http=False)
    app_requires = decide(_snapshot(), _request("https://vault.acme.test/", cookies=[_cookie(BOB)]), NOW,
                          _portal_url, allow_http=False)
    assert (owed.status, owed.outcome, owed.until) == (app_requires.status, app_requires.outcome, app_requires.until)
    assert parse_qs(urlsplit(owed.location).query) == {"rd": [WIKI]}


def test_9_a_tenant_the_snapshot_does_not_hold_owes_it_fail_closed():
    snap = _snapshot()
    del snap.tenants[TENANT]
    assert decide(snap, _request(cookies=[_cookie(ALICE)]), NOW, _portal_url, False).outcome == "not_signed_in"
    # A session that passed one never asks.
    assert decide(snap, _request(cookies=[_cookie(ALICE, mf=True)]), NOW, _portal_url, False).outcome == "allowed"
