"""The CLI says a service's refusal in English, as it always has, whatever the
language of the shell: the pages translate the same refusal (docs/translations.md,
"Problems the services raise")."""

from __future__ import annotations


def test_a_refusal_reads_the_same_in_a_german_shell(run, acme):
    comma = run("group", "add", "a,b", LANG="de_DE.UTF-8", LANGUAGE="de")
    missing = run("group", "add", "team", "--parent", "nope", LANG="de_DE.UTF-8", LANGUAGE="de")
    assert comma.status != 0
    assert 'name: "a,b" contains a comma, which would split X-Forwarded-Groups: remove it' in comma.stderr
    assert missing.status != 0
    assert 'parent: no group "nope" in this tenant: see `ostiary group list`' in missing.stderr
    assert "Komma" not in comma.stderr + missing.stderr
