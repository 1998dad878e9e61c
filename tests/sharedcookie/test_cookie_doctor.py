"""Cookie doctor: one test per way a shared cookie goes wrong (docs/contract.md §9), plus the CLI."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from ostiary.sharedcookie import Severity, breaks_sharing, diagnose, parse_set_cookie, render_findings
from ostiary.sharedcookie.tooling.cli import cookie_doctor_command

# What LibreChat sends at sign-in, and what the sibling-subdomain snippet turns it into.
LIBRECHAT_LINE = ("refreshToken=eyJ.x.y; Path=/; Expires=Thu, 01 Jan 2037 00:00:00 GMT; HttpOnly; Secure; "
                  "SameSite=Strict")
REWRITTEN_LINE = ("refreshToken=eyJ.x.y; Domain=acme.test; Path=/; Expires=Thu, 01 Jan 2037 00:00:00 GMT; "
                  "HttpOnly; Secure; SameSite=Lax")
REWRITTEN_CLEAR = "refreshToken=; Domain=acme.test; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
LIBRECHAT_CLEAR = "refreshToken=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
SIBLINGS = ["https://chat.acme.test", "https://console.acme.test"]


def codes(findings, severity=Severity.BREAKS):
    return {f.code for f in findings if f.severity is severity}


def test_rewritten_cookie_is_shared_by_every_sibling_with_nothing_broken():
    findings = diagnose([REWRITTEN_LINE, REWRITTEN_CLEAR], SIBLINGS + ["admin.acme.test"])
    assert not breaks_sharing(findings)
    delivery = [f for f in findings if f.code == "delivery"]
    assert "https://console.acme.test" in delivery[0].message and "https://admin.acme.test" in delivery[0].message


def test_host_only_cookie_is_not_sent_to_siblings():
    findings = diagnose([LIBRECHAT_LINE], SIBLINGS)
    host_only = [f for f in findings if f.code == "host_only_not_shared"]
    assert [f.host for f in host_only] == ["console.acme.test"]
    assert "Domain=acme.test" in host_only[0].fix


def test_samesite_strict_across_subdomains_breaks_links_from_outside():
    findings = diagnose([LIBRECHAT_LINE.replace("Path=/;", "Domain=acme.test; Path=/;")], SIBLINGS)
    assert codes(findings) == {"samesite_strict_from_outside_links"}
    assert "SameSite=Lax" in next(f.fix for f in findings if f.code == "samesite_strict_from_outside_links")


def test_samesite_strict_on_a_single_host_is_fine():
    assert not breaks_sharing(diagnose([LIBRECHAT_LINE], ["https://chat.acme.test"]))


def test_domain_that_does_not_cover_a_host_is_diagnosed_for_that_host():
    findings = diagnose([REWRITTEN_LINE.replace("Domain=acme.test", "Domain=chat.acme.test")],
                        SIBLINGS + ["https://admin.acme.test"])
    assert {f.host for f in findings if f.code == "domain_not_covering_host"} == {"console.acme.test",
                                                                                 "admin.acme.test"}


def test_domain_that_does_not_cover_the_setting_host_is_rejected_by_the_browser():
    findings = diagnose([REWRITTEN_LINE.replace("Domain=acme.test", "Domain=console.acme.test")], SIBLINGS)
    assert codes(findings) == {"domain_not_matching_setter"}


@pytest.mark.parametrize("suffix,hosts", [("co.uk", ["https://chat.acme.co.uk", "https://console.acme.co.uk"]),
                                          ("github.io", ["https://chat.github.io", "https://console.github.io"])])
def test_public_suffix_domain_is_rejected_by_the_browser(suffix, hosts):
    findings = diagnose([REWRITTEN_LINE.replace("Domain=acme.test", f"Domain={suffix}")], hosts)
    assert "domain_public_suffix" in codes(findings)


def test_secure_cookie_is_never_sent_to_an_http_host():
    findings = diagnose([REWRITTEN_LINE], ["https://chat.acme.test", "http://console.acme.test"])
    assert [f.host for f in findings if f.code == "secure_over_http"] == ["console.acme.test"]


def test_secure_cookie_cannot_be_set_over_http():
    findings = diagnose([REWRITTEN_LINE], ["http://chat.acme.test", "http://console.acme.test"])
    assert codes(findings) == {"secure_from_http"}


def test_localhost_counts_as_secure_for_secure_cookies():
    line = "refreshToken=x; Path=/; HttpOnly; Secure; SameSite=Lax"
    assert not breaks_sharing(diagnose([line], ["http://localhost:3080"]))


def test_mixed_schemes_are_warned_about():
    line = REWRITTEN_LINE.replace(" Secure;", "")
    findings = diagnose([line], ["https://chat.acme.test", "http://console.acme.test"])
    assert "mixed_schemes" in codes(findings, Severity.WARNING)
    assert not breaks_sharing(findings)


def test_hosts_on_separate_registrable_domains_need_the_forward_auth_handshake():
    findings = diagnose([REWRITTEN_LINE], ["https://chat.acme.test", "https://console.homelab.test"])
    separate = next(f for f in findings if f.code == "separate_registrable_domains")
    assert separate.severity is Severity.BREAKS and "forward-auth handshake" in separate.fix


def test_host_prefixed_cookie_with_a_domain_is_rejected():
    findings = diagnose(["__Host-sid=1; Domain=acme.test; Path=/; Secure; SameSite=Lax"], SIBLINGS)
    assert codes(findings) == {"host_prefix_rules"}


def test_valid_host_prefixed_cookie_still_cannot_reach_siblings():
    findings = diagnose(["__Host-sid=1; Path=/; Secure; HttpOnly; SameSite=Lax"], SIBLINGS)
    host_only = next(f for f in findings if f.code == "host_only_not_shared")
    assert "__Host-" in host_only.message and "same-origin" in host_only.message


def test_secure_prefixed_cookie_without_secure_is_rejected():
    findings = diagnose(["__Secure-sid=1; Domain=acme.test; Path=/; SameSite=Lax"], SIBLINGS)
    assert codes(findings) == {"secure_prefix_rules"}


def test_samesite_none_without_secure_is_rejected():
    findings = diagnose(["refreshToken=x; Domain=acme.test; Path=/; SameSite=None"], SIBLINGS)
    assert codes(findings) == {"samesite_none_without_secure"}


def test_sign_out_that_clears_only_the_host_only_copy_leaves_siblings_signed_in():
    findings = diagnose([REWRITTEN_LINE, LIBRECHAT_CLEAR], SIBLINGS)
    assert codes(findings) == {"sign_out_misses_shared_cookie"}


def test_path_limited_cookie_is_warned_about():
    findings = diagnose([REWRITTEN_LINE.replace("Path=/", "Path=/api")], SIBLINGS)
    assert "path_limited" in codes(findings, Severity.WARNING)


def test_no_set_cookie_line_explains_where_the_chat_sets_it():
    findings = diagnose([], SIBLINGS)
    assert codes(findings) == {"no_set_cookie"}


def test_parser_keeps_attributes_http_cookies_would_drop():
    cookie = parse_set_cookie("Set-Cookie: sid=a=b; Domain=.Acme.Test; Path=/; Secure; HttpOnly; "
                              "SameSite=strict; Partitioned; Max-Age=0")
    assert (cookie.name, cookie.value, cookie.domain, cookie.same_site) == ("sid", "a=b", "acme.test", "strict")
    assert cookie.partitioned and cookie.secure and cookie.http_only and cookie.clears


def test_rendered_report_names_each_finding_and_its_fix():
    text = render_findings(diagnose([LIBRECHAT_LINE], SIBLINGS))
    assert "BREAKS  host_only_not_shared (cookie refreshToken on console.acme.test)" in text
    assert "fix: have the proxy add Domain=acme.test" in text
    assert text.rstrip().endswith("sharing will break: fix every BREAKS finding above")


# --- the click command -------------------------------------------------------------------------

def test_cli_exits_non_zero_when_sharing_will_break():
    result = CliRunner().invoke(cookie_doctor_command, ["--set-cookie", LIBRECHAT_LINE,
                                                        "--host", "chat.acme.test", "--host", "console.acme.test"])
    assert result.exit_code == 1
    assert "host_only_not_shared" in result.output


def test_cli_exits_zero_when_sharing_works():
    result = CliRunner().invoke(cookie_doctor_command, ["--set-cookie", REWRITTEN_LINE, "--set-cookie",
                                                        REWRITTEN_CLEAR, "--host", "chat.acme.test",
                                                        "--host", "console.acme.test"])
    assert result.exit_code == 0, result.output
    assert "sharing will work" in result.output


def test_cli_without_url_or_line_is_a_usage_error():
    result = CliRunner().invoke(cookie_doctor_command, ["--host", "chat.acme.test"])
    assert result.exit_code == 2 and "--set-cookie" in result.output


@pytest.fixture(scope="module")
def chat_that_redirects():
    class Chat(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/":
                self.send_response(302)
                self.send_header("Location", "/signed-in")
                self.send_header("Set-Cookie", LIBRECHAT_LINE)
            else:
                self.send_response(200)
                self.send_header("Set-Cookie", "late=1; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_cli_fetches_the_urls_set_cookie_without_following_redirects(chat_that_redirects):
    result = CliRunner().invoke(cookie_doctor_command, [chat_that_redirects + "/", "--host", chat_that_redirects])
    assert "refreshToken" in result.output and "late" not in result.output
    # the chat is plain http here, so its Secure cookie is refused outright
    assert "secure_from_http" in result.output and result.exit_code == 1


def test_cli_follows_redirects_only_when_asked(chat_that_redirects):
    result = CliRunner().invoke(cookie_doctor_command, [chat_that_redirects + "/", "--follow-redirects",
                                                        "--host", chat_that_redirects])
    assert "cookie late" in result.output and "cookie refreshToken" in result.output
