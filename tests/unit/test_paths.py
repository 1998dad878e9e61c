"""Path normalisation: the fast path for already-normal paths gives exactly
what full decoding and normalisation give, and a URI no request line can
carry (a fragment, characters outside a request-target) has no path at all."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ostiary.urlrules import _normalise_slowly, normalise_request_path

ALPHABET = "/abc.%2eE5;\\?#-_~!$&'()*+,=:@ \x00é|[]{}^`\"<>"
# RFC 3986 path characters, written out independently of the module under test.
PCHARS = re.compile(r"(?:[a-zA-Z0-9._~!$&'()*+,;=:@/-]|%[0-9a-fA-F]{2})*")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=24))
def test_the_fast_path_agrees_with_full_normalisation(uri):
    path = uri.split("?", 1)[0]
    holds_no_request_target = "#" in uri or any(not 33 <= ord(c) <= 126 for c in uri) or not PCHARS.fullmatch(path)
    expected = None if holds_no_request_target else _normalise_slowly(path)
    assert normalise_request_path(uri) == expected


def test_normalisation_examples():
    assert normalise_request_path("/") == "/"
    assert normalise_request_path("") is None
    assert normalise_request_path("/a//b/./c/") == "/a/b/c/"
    assert normalise_request_path("/static/app.js?x=/y") == "/static/app.js"
    assert normalise_request_path("/static/app.js?q=[1]{2}|x") == "/static/app.js"
    for never_public in ("/a/../b", "/a/%2e%2e/b", "/a;x/b", "/a%252e", "/a\\b", "/a%00", "/%ff", "a/b"):
        assert normalise_request_path(never_public) is None, never_public


FRAGMENT_AND_RAW_CHARACTER_ATTACKS = {
    "fragment_then_dot_dot": "/public/x#/../../admin/",
    "fragment_alone": "/public/x#",
    "fragment_in_query": "/public/x?a=#/../../admin/",
    "fragment_before_query": "/public/x#?/../admin",
    "prefix_app_fragment": "/a#/../b/x",
    "space": "/public/x /../../admin/",
    "tab": "/public/x\t/../admin",
    "raw_non_ascii": "/public/é",
    "del": "/public/x\x7f",
    "double_quote": '/public/"x',
    "angle_brackets": "/public/<x>",
    "braces": "/public/{x}",
    "pipe": "/public/x|y",
    "caret": "/public/x^y",
    "backtick": "/public/`x",
    "square_brackets": "/public/[x]",
    "lone_percent": "/public/x%",
    "percent_not_hex": "/public/x%zz",
}


@pytest.mark.parametrize("uri", FRAGMENT_AND_RAW_CHARACTER_ATTACKS.values(),
                         ids=FRAGMENT_AND_RAW_CHARACTER_ATTACKS.keys())
def test_a_fragment_or_a_character_no_request_target_holds_leaves_no_path_to_judge(uri):
    assert normalise_request_path(uri) is None
