"""Tenant scoping in one place: every read and write of a tenant-owned table
goes through a TenantScope, which adds `tenant_id = ?` itself. Callers
cannot forget it, because they never build the query's WHERE on their own."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, func, insert, select, update
from sqlalchemy.sql import ColumnElement

from ostiary.store.changes import Entity, record_change
from ostiary.store.tables import audit_log


class TenantScope:
    def __init__(self, conn: Connection, tenant_id: int):
        self.conn = conn
        self.tenant_id = tenant_id

    def _scoped(self, table: Table, where: tuple[ColumnElement[bool], ...]) -> list[ColumnElement[bool]]:
        if "tenant_id" not in table.c:
            raise TypeError(f"table {table.name} is not tenant-owned")
        return [table.c.tenant_id == self.tenant_id, *where]

    def rows(
        self,
        table: Table,
        *where: ColumnElement[bool],
        order_by: Any = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Row]:
        stmt = select(table).where(*self._scoped(table, where))
        if order_by is not None:
            stmt = stmt.order_by(*(order_by if isinstance(order_by, (list, tuple)) else [order_by]))
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        return list(self.conn.execute(stmt))

    def one(self, table: Table, *where: ColumnElement[bool]) -> Row | None:
        return self.conn.execute(select(table).where(*self._scoped(table, where))).first()

    def count(self, table: Table, *where: ColumnElement[bool]) -> int:
        stmt = select(func.count()).select_from(table).where(*self._scoped(table, where))
        return int(self.conn.execute(stmt).scalar_one())

    def insert(self, table: Table, **values: Any) -> Any:
        result = self.conn.execute(insert(table).values(tenant_id=self.tenant_id, **values))
        pk = result.inserted_primary_key
        return pk[0] if pk else None

    def update(self, table: Table, *where: ColumnElement[bool], **values: Any) -> int:
        stmt = update(table).where(*self._scoped(table, where)).values(**values)
        return self.conn.execute(stmt).rowcount

    def delete(self, table: Table, *where: ColumnElement[bool]) -> int:
        return self.conn.execute(delete(table).where(*self._scoped(table, where))).rowcount

    def changed(self, entity: Entity, entity_id: Any) -> None:
        """Append to the change log (store/changes.py), in the caller's
        transaction, so every worker's snapshot picks the change up."""
        record_change(self.conn, self.tenant_id, entity, entity_id)

    def audit(self, actor: str, action: str, entity: str, entity_id: Any, actor_addr: str = "", **detail: Any) -> None:
        log_audit(self.conn, self.tenant_id, actor, actor_addr, action, entity, entity_id, detail)
        self.conn.execute(
            insert(audit_log).values(
                tenant_id=self.tenant_id,
                at=time.time(),
                actor=actor,
                actor_addr=actor_addr,
                action=action,
                entity=entity,
                entity_id=str(entity_id),
                detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
            )
        )


def log_audit(conn: Connection, tenant_id: int | None, actor: str, actor_addr: str, action: str, entity: str,
              entity_id: Any, detail: Any) -> None:
    """Each audit entry is also a log event, once its transaction commits (observability/audit_events.py)."""
    from ostiary.observability import audit_events

    audit_events.after_commit(conn, lambda: audit_events.audit_written(tenant_id, actor, actor_addr, action, entity,
                                                                       entity_id, detail))
