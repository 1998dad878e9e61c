"""Issue 13.9: the chat cookie is judged exactly as the chat judges it.

LibreChat reads its refresh cookie with the npm `cookie` package and
verifies it with `jsonwebtoken`'s `jwt.verify(token, secret)`. Each case
below is a Cookie header; Node's real packages (tests/node/librechat-verdict.js)
and Ostiary give their verdict on it at the same pinned clock, and the two
must agree — valid or not, and for whom. Before the fix Ostiary accepted a
numeric-string `exp`, a padded signature and the *last* of duplicated
cookies, where the chat refuses or reads the first.

Ostiary is stricter than the chat in two deliberate ways only (HS256 pinned,
`exp` required): `test_ostiary_is_stricter_than_the_chat_only_where_it_says_so`."""

from __future__ import annotations

import json
import subprocess

import jwt
import pytest

from ostiary.sharedcookie import SharedCookieSource, SharedCookieIdentity
from sharedcookie_servers import NODE_DIR

VERDICT_SCRIPT = NODE_DIR / "librechat-verdict.js"
CLOCK = 1_900_000_000  # the instant both verifiers take as "now"
ALICE = {"id": "65f1c0ffee0123456789abcd", "sessionId": "65f1c0ffee0123456789dcba"}
BOB = {"id": "65f1c0ffee0123456789b0b0", "sessionId": "65f1c0ffee0123456789b1b1"}


def node_verdicts(secret: str, headers: list[str]) -> list[dict]:
    requests = [{"secret": secret, "cookieHeader": h, "cookieName": "refreshToken", "clockTimestamp": CLOCK}
                for h in headers]
    done = subprocess.run(["node", str(VERDICT_SCRIPT)], input=json.dumps(requests), capture_output=True,
                          text=True, timeout=60, check=True, cwd=NODE_DIR)
    return json.loads(done.stdout)


def ostiary_verdict(source: SharedCookieSource, header: str) -> dict:
    result = source.verify(header, now=CLOCK + 0.7)  # Node reads whole seconds of the same instant
    return {"valid": True, "id": result.user_id} if isinstance(result, SharedCookieIdentity) else {"valid": False}


def signed(secret: str, claims: dict, **header) -> str:
    """A token the chat's own signer would not mint (PyJWT checks no claim types when signing)."""
    return jwt.encode(claims, secret, algorithm="HS256", headers=header or None)


def respelled_signature(token: str) -> str:
    """The same signature bytes, its last character's unused low bits set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    return token[:-1] + alphabet[last | 0b11 if last & 0b11 != 0b11 else last & ~0b11]


@pytest.fixture(scope="module")
def cases(chat_secret) -> dict[str, str]:
    good = lambda who=ALICE, **extra: signed(chat_secret, {**who, "iat": CLOCK - 60, "exp": CLOCK + 3600, **extra})
    token = good()
    head, body, signature = token.split(".")
    return {
        # issue 13.9, the three leniencies
        "exp_as_numeric_string": f"refreshToken={good(exp=str(CLOCK + 3600))}",
        "signature_padded_with_one_equals": f"refreshToken={token}=",
        "signature_padded_with_two_equals": f"refreshToken={token}==",
        "duplicated_cookie_first_is_garbage": f"refreshToken=garbage; refreshToken={token}",
        "duplicated_cookie_first_is_alice_then_bob": f"refreshToken={token}; refreshToken={good(BOB)}",
        "duplicated_cookie_first_is_expired": f"refreshToken={good(exp=CLOCK - 1)}; refreshToken={token}",
        # the same rules, around them
        "valid": f"other=1; refreshToken={token}; token_provider=librechat",
        "signature_respelled_with_other_low_bits": f"refreshToken={respelled_signature(token)}",
        "signature_in_standard_base64": f"refreshToken={head}.{body}.{signature.replace('-', '+').replace('_', '/')}"
        if "-" in signature or "_" in signature else f"refreshToken={head}.{body}.{signature}+",
        "four_segments": f"refreshToken={token}.x",
        "exp_as_float": f"refreshToken={good(exp=CLOCK + 0.5)}",
        "exp_now_exactly": f"refreshToken={good(exp=CLOCK)}",
        "exp_next_second": f"refreshToken={good(exp=CLOCK + 1)}",
        "exp_as_boolean": f"refreshToken={good(exp=True)}",
        "exp_as_null": f"refreshToken={good(exp=None)}",
        "nbf_in_the_future": f"refreshToken={good(nbf=CLOCK + 1)}",
        "nbf_now": f"refreshToken={good(nbf=CLOCK)}",
        "nbf_as_string": f"refreshToken={good(nbf=str(CLOCK - 10))}",
        "iat_far_in_the_future": f"refreshToken={good(iat=CLOCK + 86400)}",
        "iat_as_string": f"refreshToken={good(iat='yesterday')}",
        "audience_present": f"refreshToken={good(aud='someone')}",
        "quoted_value": f'refreshToken="{token}"',
        "spaces_and_tabs_around": f"a=1;  refreshToken =\t{token} \t; b=2",
        "percent_encoded_dots": f"refreshToken={token.replace('.', '%2E')}",
        "broken_percent_escape": f"refreshToken={token}%zz",
        "pair_without_equals_before": f"flag; refreshToken={token}",
        "other_cookie_holds_the_name": f"x=refreshToken={token}",
        "wrong_secret": f"refreshToken={signed('another-secret-0123456789abcdef-0123456789', {**ALICE, 'exp': CLOCK + 60})}",
    }


def test_the_chat_cookie_verdict_equals_the_chats_own_jsonwebtoken(cases, chat_secret):
    source = SharedCookieSource(secret=chat_secret.encode(), sign_in_url="https://chat.acme.test/login")
    node = node_verdicts(chat_secret, list(cases.values()))
    disagreements = {}
    for (name, header), theirs in zip(cases.items(), node):
        ours = ostiary_verdict(source, header)
        if ours != {k: v for k, v in theirs.items() if k != "error"}:
            disagreements[name] = (ours, theirs)
    assert not disagreements, disagreements


def test_the_comparison_covers_both_verdicts(cases, chat_secret):
    """A corpus where Node said the same for everything would prove nothing."""
    verdicts = [v["valid"] for v in node_verdicts(chat_secret, list(cases.values()))]
    assert verdicts.count(True) >= 8 and verdicts.count(False) >= 10, verdicts


def test_ostiary_is_stricter_than_the_chat_only_where_it_says_so(chat_secret, node_minter):
    """docs/shared-cookie.md: HS256 only (jsonwebtoken also takes HS384/HS512 with the same
    secret), and `exp` required (jsonwebtoken takes a token that never expires)."""
    source = SharedCookieSource(secret=chat_secret.encode(), sign_in_url="https://chat.acme.test/login")
    stricter = [f"refreshToken={jwt.encode({**ALICE, 'exp': CLOCK + 60}, chat_secret, algorithm='HS512')}",
                f"refreshToken={signed(chat_secret, {**ALICE, 'iat': CLOCK})}"]
    assert [v["valid"] for v in node_verdicts(chat_secret, stricter)] == [True, True]
    assert [ostiary_verdict(source, h)["valid"] for h in stricter] == [False, False]
