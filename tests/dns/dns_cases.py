"""Names and tokens the DNS tests share (a module, not conftest, so it imports
the same way from any directory)."""

SLOW_DELAY = 3.0  # seconds the slow server sleeps before each answer

TOKENS = {
    "acme-corp.test": "tok-acme",
    "homelab.test": "tok-home",
    "split.test": "tok-split-0123456789",
    "wrong.test": "tok-wrong",
    "absent.test": "tok-absent",
    "slow.test": "tok-slow",
}

GOOD_DOMAINS = [f"good{i}.test" for i in range(6)]
