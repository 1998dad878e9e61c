"""Pages of a list: search, LIMIT and OFFSET pushed into SQL, with the total,
so the admin UI and the API stay fast at tens of thousands of rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.sql import ColumnElement

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
# Far beyond any list Ostiary keeps, and far below the 64-bit integers the databases can hold (docs/api.md).
MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None


def clamp(limit: int | None, offset: int | None) -> tuple[int, int]:
    """A limit within 1-MAX_LIMIT; an offset out of 0-MAX_OFFSET starts at the first page."""
    limit = DEFAULT_LIMIT if limit is None else max(1, min(int(limit), MAX_LIMIT))
    offset = int(offset or 0)
    return limit, offset if 0 <= offset <= MAX_OFFSET else 0


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(search: str, *columns: ColumnElement) -> list[ColumnElement[bool]]:
    """A case-insensitive substring match on any of `columns`; nothing when
    the search is empty."""
    search = (search or "").strip().lower()
    if not search:
        return []
    like = f"%{escape_like(search)}%"
    return [or_(*(func.lower(c).like(like, escape="\\") for c in columns))]


def ordering(sort: str | None, columns: dict[str, ColumnElement], default: list) -> list:
    """ORDER BY for `sort`, a column's key ("-" first: descending), then the
    default order to break ties; an unknown key gives the default order."""
    key = (sort or "").removeprefix("-")
    if key not in columns:
        return default
    column = columns[key]
    return [column.desc() if (sort or "").startswith("-") else column.asc(), *default]
