"""The fail2ban filter and jail shipped with Ostiary, and a small installer:

    python -m ostiary.observability.fail2ban install [--dest /etc/fail2ban]
    python -m ostiary.observability.fail2ban show filter|jail

(docs/operations.md, "fail2ban and CrowdSec")."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
FILTER = HERE / "filter.conf"
JAIL = HERE / "jail.conf"


def install(dest: Path) -> list[Path]:
    """Write filter.d/ostiary.conf and jail.d/ostiary.conf under `dest`; returns the files written."""
    written = []
    for source, sub in ((FILTER, "filter.d"), (JAIL, "jail.d")):
        target = dest / sub / "ostiary.conf"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
        written.append(target)
    return written
