"""The audit log as CSV, for a spreadsheet or an archive. A cell a
spreadsheet would read as a formula (=, +, -, @, tab, carriage return first)
is written with a leading apostrophe, so an app or group name chosen by
someone cannot run as a formula on the reader's machine."""

from __future__ import annotations

import csv
import io
from typing import Callable

HEADER = ["time (UTC)", "actor", "from address", "action", "subject", "changes", "action code", "entity",
          "entity id", "actor as recorded"]


def _cell(value: object) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: list, when: Callable[[float], str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for r in rows:
        e = r.entry
        writer.writerow([_cell(v) for v in (when(e.at), r.actor, e.actor_addr, r.action, r.subject,
                                            "; ".join(r.changes), e.action, e.entity, e.entity_id, e.actor)])
    return out.getvalue()
