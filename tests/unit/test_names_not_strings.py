"""Names instead of strings: change-log entities, token kinds, domain states,
/check outcomes and the NOTIFY channel are each defined once, and the code
uses the names (issue 21). A typo in a string would have been a silent no-op;
a typo in a name is an error at import, and the checks below keep strings
from creeping back."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from ostiary import tokens, wire
from ostiary.dns.status import DomainStatus
from ostiary.snapshot import build
from ostiary.store.changes import CHANNEL, Entity, record_change
from ostiary.store.tables import change_log, metadata

ROOT = Path(__file__).parents[2]
SRC = ROOT / "src" / "ostiary"


def _sources():
    for path in SRC.rglob("*.py"):
        if "migrations" not in path.parts:
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _calls(name: str):
    """(file, line, call) for every call of a function or method named `name`."""
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                if (isinstance(f, ast.Name) and f.id == name) or (isinstance(f, ast.Attribute) and f.attr == name):
                    yield path.relative_to(SRC), node.lineno, node


def _is_entity(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Entity"


# --- the change log ----------------------------------------------------------------------------------


def test_every_entity_has_one_handler_in_the_snapshot():
    assert set(build._HANDLERS) == set(Entity)


def test_every_change_names_an_entity():
    calls = [(f, n, c.args[0]) for f, n, c in _calls("changed") if c.args]
    calls += [(f, n, c.args[2]) for f, n, c in _calls("record_change") if len(c.args) > 2]
    assert len(calls) > 30, "the AST walk found too few changes: it reads the wrong files"
    bad = [f"{f}:{n}" for f, n, arg in calls if not _is_entity(arg) and str(f) != "store/scoped.py"]
    assert not bad, "name the entity with store.changes.Entity:\n" + "\n".join(bad)


def test_the_change_log_refuses_an_unknown_entity_and_stores_plain_names():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        with pytest.raises(ValueError):
            record_change(conn, 1, "usr", 7)
        record_change(conn, 1, Entity.USER, 7)
        record_change(conn, None, "key", "*")  # a stored value is read back as its entity
        rows = conn.execute(select(change_log.c.entity, change_log.c.entity_id)).all()
    assert [tuple(r) for r in rows] == [("user", "7"), ("key", "*")]
    assert all(type(r.entity) is str for r in rows)


def test_an_unknown_entity_in_the_log_only_counts_a_generation():
    """A newer version's entry read by an older follower changes nothing but the generation."""
    from ostiary.snapshot.model import Snapshot

    snap = Snapshot()
    build.apply_change(snap, None, "something-new", "1", None)
    assert snap.generation == 1


def test_one_notify_channel():
    texts = {p: p.read_text(encoding="utf-8") for p in SRC.rglob("*.py")}
    assert [str(p.relative_to(SRC)) for p, t in texts.items() if CHANNEL in t] == ["store/changes.py"]
    assert re.fullmatch(r"[a-z_]+", CHANNEL)  # it is formatted into LISTEN and pg_notify


# --- token kinds -----------------------------------------------------------------------------------


def test_every_token_kind_is_a_name_from_ostiary_tokens():
    kind_names = {n for n, v in vars(tokens).items() if n.isupper() and isinstance(v, str) and v in tokens.KINDS}
    calls = [(f, n, c) for name in ("sign", "verify") for f, n, c in _calls(name)]
    ours = [(f, n, c.args[0]) for f, n, c in calls
            if isinstance(c.func, ast.Name) and len(c.args) >= 3 and str(f) != "tokens.py"]
    assert len(ours) >= 10, "the AST walk found too few sign/verify calls"
    bad = [f"{f}:{n}" for f, n, arg in ours if not (isinstance(arg, ast.Name) and arg.id in kind_names)]
    assert not bad, "pass a kind from ostiary.tokens:\n" + "\n".join(bad)


def test_the_kinds_are_distinct_and_the_contract_lists_each():
    kind_names = [n for n, v in vars(tokens).items() if n.isupper() and isinstance(v, str) and v in tokens.KINDS]
    assert len(kind_names) == len(tokens.KINDS)
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    section = contract.split("## 4. ", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\s*\| `(\w+)` \|", section, flags=re.M))
    assert listed == set(tokens.KINDS)


def test_sign_refuses_a_kind_that_is_not_one():
    key = tokens.SigningKey("k1", b"s" * 32, None)
    with pytest.raises(ValueError, match="kind"):
        tokens.sign("fx", {"exp": 2000}, key, now=1000)
    signed = tokens.sign(tokens.HANDSHAKE, {"exp": 2000}, key, now=1000)
    assert tokens.verify(tokens.HANDSHAKE, signed, {"k1": key}, 1000) == {"iat": 1000, "exp": 2000}
    assert tokens.verify(tokens.FORWARD_AUTH, signed, {"k1": key}, 1000) is None  # the MAC covers the kind


# --- domain states and /check outcomes -----------------------------------------------------------------


def _literal_comparisons(values: set[str], where=lambda path: True):
    for path, tree in _sources():
        if not where(path):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                for side in [node.left, *node.comparators]:
                    if isinstance(side, ast.Constant) and side.value in values:
                        yield f"{path.relative_to(SRC)}:{node.lineno}: {side.value!r}"


def test_no_domain_state_is_compared_as_a_string():
    states = {s.value for s in DomainStatus}
    bad = list(_literal_comparisons(states, lambda p: "dns/status.py" not in str(p)))
    assert not bad, "compare with dns.status.DomainStatus:\n" + "\n".join(bad)


def test_the_check_outcomes_are_named_once():
    assert len(set(wire.CHECK_OUTCOMES)) == len(wire.CHECK_OUTCOMES) == 7
    assert wire.CHECK_OUTCOMES[:2] == (wire.ALLOWED, wire.PUBLIC)  # metrics logs those after them
    outcomes = set(wire.CHECK_OUTCOMES)
    gate = [p for p in (SRC / "gate").rglob("*.py")] + [SRC / "observability" / "metrics.py"]
    bad = [f"{p.relative_to(SRC)}:{n.lineno}: {n.value!r}" for p in gate
           for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
           if isinstance(n, ast.Constant) and n.value in outcomes]
    assert not bad, "use the outcomes of ostiary.wire:\n" + "\n".join(bad)
