import pytest

from ostiary.dns.names import (
    domain_problem,
    is_public_suffix,
    normalise_domain,
    portal_host_problem,
    registration_problems,
)


@pytest.mark.parametrize(
    "raw, normal",
    [
        ("Acme-Corp.COM", "acme-corp.com"),
        ("acme-corp.com.", "acme-corp.com"),
        ("  acme-corp.com  ", "acme-corp.com"),
        ("Bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_normalise_domain_lowercases_strips_trailing_dot_and_converts_to_a_labels(raw, normal):
    assert normalise_domain(raw) == normal


@pytest.mark.parametrize(
    "domain",
    ["acme-corp.test", "homelab.test", "apps.acme-corp.com", "Acme-Corp.COM.", "xn--bcher-kva.example", "bücher.example", "a.b.c.d.example.org", "foo.github.io", "example.co.uk", "1password.com"],
)
def test_domain_problem_accepts_registrable_names(domain):
    assert domain_problem(domain) is None


@pytest.mark.parametrize(
    "domain, words",
    [
        ("github.io", 'domain "github.io" is a public suffix'),
        ("co.uk", 'register a domain under it that you control, such as "yourname.co.uk"'),
        ("com", "single label"),
        ("localhost", 'domain "localhost" is a single label'),
        ("192.0.2.10", 'domain "192.0.2.10" is an IP address'),
        ("[2001:db8::1]", "is an IP address"),
        ("2001:db8::1", "is an IP address"),
        ("", "domain is empty"),
        ("acme..com", "an empty label"),
        ("-acme.com", 'the label "-acme" starting or ending with a hyphen'),
        ("acme-.com", "starting or ending with a hyphen"),
        ("acme_corp.com", 'the label "acme_corp" with characters other than letters, digits and hyphens'),
        ("acme corp.com", "characters other than letters, digits and hyphens"),
        ("ab--cd.com", '"--" in third and fourth position'),
        ("xn--zz.com", "not valid IDNA"),
        ("a" * 64 + ".com", "longer than 63 characters"),
        (("abcdefghi." * 26) + "com", "longer than 253 characters"),
    ],
)
def test_domain_problem_refuses_with_the_field_the_rule_and_the_fix(domain, words):
    problem = domain_problem(domain)
    assert problem is not None and words in problem
    assert problem.startswith("domain")


@pytest.mark.parametrize(
    "portal_host, domain",
    [
        ("login.acme-corp.com", "acme-corp.com"),
        ("acme-corp.com", "acme-corp.com"),
        ("a.b.acme-corp.com", "acme-corp.com"),
        ("Login.ACME-corp.com.", "acme-corp.com"),
        ("id.homelab.test", "homelab.test"),
    ],
)
def test_portal_host_equal_to_or_under_the_domain_is_accepted(portal_host, domain):
    assert portal_host_problem(portal_host, domain) is None


def test_portal_host_outside_the_domain_is_refused_with_the_suffix_to_use():
    assert portal_host_problem("login.other.com", "acme-corp.com") == (
        'portal host "login.other.com" is not under "acme-corp.com": '
        'choose "acme-corp.com" or a name ending in ".acme-corp.com", such as "login.acme-corp.com"'
    )


@pytest.mark.parametrize(
    "portal_host, words",
    [
        ("evilacme-corp.com", 'is not under "acme-corp.com"'),  # a shared suffix is not a subdomain
        ("acme-corp.com.evil.com", "is not under"),
        ("127.0.0.1", 'portal host "127.0.0.1" is an IP address'),
        ("login", 'portal host "login" is a single label'),
        ("login_.acme-corp.com", "characters other than letters"),
    ],
)
def test_portal_host_problem_refuses_names_that_cannot_serve_the_domain(portal_host, words):
    problem = portal_host_problem(portal_host, "acme-corp.com")
    assert problem is not None and words in problem
    assert problem.startswith("portal host")


def test_registration_problems_lists_every_problem_at_once():
    problems = registration_problems("github.io", "127.0.0.1")
    assert [field for field, _ in problems] == ["domain", "portal_host"]
    assert "public suffix" in problems[0][1]
    assert "portal host" in problems[1][1] and "IP address" in problems[1][1]


def test_registration_problems_names_the_portal_host_field_when_only_it_is_wrong():
    assert registration_problems("acme-corp.com", "login.other.com") == [
        ("portal_host", portal_host_problem("login.other.com", "acme-corp.com"))
    ]


def test_registration_problems_is_empty_for_a_good_pair():
    assert registration_problems("acme-corp.test", "login.acme-corp.test") == []


def test_is_public_suffix_uses_the_public_suffix_list():
    assert is_public_suffix("github.io") and is_public_suffix("co.uk") and is_public_suffix("COM.")
    assert not is_public_suffix("acme-corp.com") and not is_public_suffix("foo.github.io")
