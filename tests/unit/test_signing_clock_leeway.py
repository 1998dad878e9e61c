"""Issue 13.10: values signed on one instance are verified on another whose
clock differs. Every value carries `iat`; `exp` is honoured CLOCK_LEEWAY (30 s)
late, and a value issued more than 30 s in the verifier's future is refused.
Before, a handshake token 20 s past its `exp` on a verifier 20 s ahead was
"expired", and a value issued hours in the future verified."""

from __future__ import annotations

import pytest

from ostiary.tokens import CLOCK_LEEWAY, SigningKey, sign, verify

KEY = SigningKey("k1", b"s" * 32, None)
KEYS = {KEY.kid: KEY}
T = 1_900_000_000.0


def test_a_value_carries_its_issue_time():
    payload = verify("hs", sign("hs", {"exp": T + 60}, KEY, now=T), KEYS, T)
    assert payload["iat"] == int(T)


def test_a_token_past_its_exp_by_20_seconds_verifies_on_a_clock_20_seconds_ahead():
    token = sign("hs", {"exp": T + 10}, KEY, now=T)
    assert verify("hs", token, KEYS, T + 10 + 20) is not None


def test_a_token_past_its_exp_by_more_than_the_leeway_is_refused():
    token = sign("fa", {"exp": T + 10}, KEY, now=T)
    assert verify("fa", token, KEYS, T + 10 + CLOCK_LEEWAY) is None
    assert verify("fa", token, KEYS, T + 10 + CLOCK_LEEWAY) is None  # also from the verified-token cache


@pytest.mark.parametrize("verifier_behind_by", [CLOCK_LEEWAY + 1, 7200])
def test_a_value_issued_in_the_verifiers_future_beyond_the_leeway_is_refused(verifier_behind_by):
    token = sign("fa", {"exp": T + 3600 * 4}, KEY, now=T)
    assert verify("fa", token, KEYS, T) is not None
    assert verify("fa", token, KEYS, T - verifier_behind_by) is None


def test_a_value_issued_20_seconds_in_the_verifiers_future_verifies():
    token = sign("fa", {"exp": T + 3600}, KEY, now=T)
    assert verify("fa", token, KEYS, T - 20) is not None


def test_a_value_signed_before_iat_existed_still_verifies():
    from ostiary import tokens

    body = tokens._b64(b'{"exp":%d}' % (T + 3600))  # exactly what the old sign() wrote
    legacy = f"{body}.{KEY.kid}.{tokens._b64(tokens._mac('fa', body, KEY.kid, KEY.secret))}"
    assert verify("fa", legacy, KEYS, T) == {"exp": T + 3600}
