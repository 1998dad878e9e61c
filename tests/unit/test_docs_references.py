"""Every reference in the code to a document resolves to a file in the
repository, and every section of the contract it cites exists: a maintainer
can always follow a comment to the page it names."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOC_REF = re.compile(r"(?<![\w/])((?:docs/[\w./-]+|SECURITY|README|BENCHMARKS)\.md)(?: §(\d+))?")
OUTSIDE = re.compile(r"\bSPEC(?:\.md| section| \d)|\bDESIGN(?:\.md|:| \")|\.\./shared/")


def _sources():
    for folder in ("src", "tests", "bench", "scripts", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "node_modules" not in path.parts and path.suffix in (".py", ".md", ".lua", ".go", ""):
                yield path


def _contract_sections() -> set[str]:
    text = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    return set(re.findall(r"^## (\d+)\. ", text, flags=re.M))


def test_every_document_the_code_cites_exists():
    sections = _contract_sections()
    broken = []
    for path in _sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in DOC_REF.finditer(text):
            doc, section = match.group(1), match.group(2)
            target = ROOT / doc
            if doc.startswith("docs/") and not target.exists():
                broken.append(f"{path.relative_to(ROOT)}: {doc}")
            elif section and doc == "docs/contract.md" and section not in sections:
                broken.append(f"{path.relative_to(ROOT)}: {doc} §{section}")
    assert not broken, "references to documents that do not exist:\n" + "\n".join(broken)


def test_nothing_cites_a_brief_outside_the_repository():
    outside = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in _sources()
               for m in OUTSIDE.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    assert not outside, "cite docs/contract.md instead:\n" + "\n".join(outside)


def test_the_contract_has_its_eleven_sections():
    assert _contract_sections() == {str(n) for n in range(1, 12)}  # §11: the OpenID Connect provider
