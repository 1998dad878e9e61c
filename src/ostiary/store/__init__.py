"""The store: tables, engine, migrations, and tenant-scoped access."""

from ostiary.store.engine import Store, open_store
from ostiary.store.scoped import TenantScope

__all__ = ["Store", "TenantScope", "open_store"]
