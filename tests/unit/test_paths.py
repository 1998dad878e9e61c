"""Path normalisation: the fast path for already-normal paths gives exactly
what full decoding and normalisation give."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ostiary.gate.paths import _normalise_slowly, normalise_request_path

ALPHABET = "/abc.%2eE5;\\?#-_~!$&'()*+,=:@ \x00é"


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=24))
def test_the_fast_path_agrees_with_full_normalisation(uri):
    path = uri.split("?", 1)[0].split("#", 1)[0]
    assert normalise_request_path(uri) == _normalise_slowly(path)


def test_normalisation_examples():
    assert normalise_request_path("/") == "/"
    assert normalise_request_path("") is None
    assert normalise_request_path("/a//b/./c/") == "/a/b/c/"
    assert normalise_request_path("/static/app.js?x=/y") == "/static/app.js"
    for never_public in ("/a/../b", "/a/%2e%2e/b", "/a;x/b", "/a%252e", "/a\\b", "/a%00", "/%ff", "a/b"):
        assert normalise_request_path(never_public) is None, never_public
