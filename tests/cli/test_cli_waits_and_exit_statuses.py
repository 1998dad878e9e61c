"""Long waits say on stderr what they wait for (stdout stays clean for
scripts), and every kind of refusal has its own exit status, mapped in one
place (docs/cli.md, "Exit status")."""

from __future__ import annotations

import json

import pytest

from ostiary.cli.base import ExitCode, exit_code_for
from ostiary.services.rules import domains as domains_service
from ostiary.services.base.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem, ServiceError
from tests.support.dnsserver import Dnsmasq, SilentDnsServer, free_udp_port


@pytest.fixture
def dnsmasq():
    server = Dnsmasq(port=free_udp_port())
    yield server
    server.close()


def test_domain_verify_says_what_it_looks_up_and_where(run, store, acme, dnsmasq):
    row = domains_service.get_domain(store, acme, "acme-corp.test")
    name, value = domains_service.txt_record(row)
    dnsmasq.restart(txt={name: [value]})
    done = run("domain", "verify", "acme-corp.test", OSTIARY_DNS_RESOLVERS=dnsmasq.resolvers_env,
               OSTIARY_DNS_TIMEOUT="2")
    assert done.status == 0, done.stderr
    assert f"looking up the TXT record {name} at {dnsmasq.resolvers_env} (up to 2 s)…" in done.stderr
    assert "looking up" not in done.stdout and "acme-corp.test: verified" in done.stdout


def test_a_silent_dns_server_is_named_while_waited_for_and_fails_with_1(run, acme):
    silent = SilentDnsServer()
    silent.start()
    try:
        done = run("domain", "verify", "acme-corp.test", OSTIARY_DNS_RESOLVERS=f"{silent.host}:{silent.port}",
                   OSTIARY_DNS_TIMEOUT="0.5")
    finally:
        silent.stop()
    assert done.status == ExitCode.FAILURE
    assert f"at {silent.host}:{silent.port} (up to 0.5 s)…" in done.stderr
    assert "learned nothing, nothing changed" in done.stdout


def test_doctor_says_what_it_checks_on_stderr(run, acme, dnsmasq):
    dnsmasq.restart()
    done = run("doctor", OSTIARY_DNS_RESOLVERS=dnsmasq.resolvers_env, OSTIARY_DNS_TIMEOUT="1")
    assert done.status == ExitCode.FAILURE  # not verified yet: sign-in would break
    assert ("checking acme-corp.test: its TXT record, portal host auth.acme-corp.test and 1 app at "
            f"{dnsmasq.resolvers_env} (each lookup up to 1 s)…") in done.stderr
    assert "comparing this machine's clock with the database's…" in done.stderr
    assert "checking" not in done.stdout and "would break sign-in" in done.stdout


def test_doctor_json_lists_each_finding_with_stdout_clean(run, acme, dnsmasq):
    dnsmasq.restart()
    done = run("doctor", "--json", OSTIARY_DNS_RESOLVERS=dnsmasq.resolvers_env, OSTIARY_DNS_TIMEOUT="1")
    assert done.status == ExitCode.FAILURE
    report = json.loads(done.stdout)  # nothing but the document on stdout
    assert report["breaks_sign_in"] is True
    assert {tuple(sorted(f)) for f in report["findings"]} == {("check", "fix", "message", "ok", "severity", "subject")}
    verified = next(f for f in report["findings"] if f["check"] == "domain-verified")
    assert (verified["subject"], verified["ok"], verified["severity"]) == ("acme-corp.test", False, "error")
    assert any(f["subject"] == "acme-corp.test app wiki" for f in report["findings"])
    assert "checking acme-corp.test" in done.stderr


def test_every_kind_of_refusal_has_its_own_status():
    assert exit_code_for(InvalidInput([Problem("x", "y")])) == ExitCode.INVALID_INPUT == 2
    assert exit_code_for(NotFound("x: y")) == ExitCode.NOT_FOUND == 3
    assert exit_code_for(Conflict("x: y")) == ExitCode.CONFLICT == 4
    assert exit_code_for(Forbidden("x: y")) == ExitCode.INVALID_INPUT
    assert exit_code_for(ServiceError("x: y")) == ExitCode.INVALID_INPUT
    assert len({c.value for c in ExitCode}) == len(ExitCode)


@pytest.mark.parametrize("args,status", [
    (("user", "add", "not-an-email"), ExitCode.INVALID_INPUT),
    (("user", "show", "nobody@acme.test"), ExitCode.NOT_FOUND),
    (("user", "add", "bob@acme.test"), ExitCode.CONFLICT),
    (("user", "list", "--no-such-option"), ExitCode.INVALID_INPUT),
    (("user", "list", "--json"), ExitCode.OK),
])
def test_the_status_reaches_the_shell_with_the_message_on_stderr(run, acme, args, status):
    done = run(*args)
    assert done.status == status
    if status:
        assert "rror" in done.stderr and done.stdout == ""


def test_an_unreachable_database_is_a_failure(run, tmp_path):
    done = run("user", "list", "--json", OSTIARY_DATABASE_URL="postgresql://ostiary@127.0.0.1:1/ostiary")
    assert done.status == ExitCode.FAILURE
    assert done.stdout == "" and "error:" in done.stderr
