from alembic import context
from sqlalchemy import text

from ostiary.store.tables import metadata

config = context.config
engine = config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"


class ForeignKeysBroken(Exception):
    pass


with engine.connect() as connection:
    if sqlite:
        # SQLite rebuilds a table to alter it (copy, drop, rename). With foreign keys
        # on, the drop would cascade to (or be refused by) every referencing row, so
        # they are off for the migration and checked as a whole before it commits.
        # The pragma is a no-op inside a transaction: set it on the bare connection.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            context.configure(connection=connection, target_metadata=metadata, render_as_batch=sqlite)
            context.run_migrations()
            if sqlite:
                broken = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
                if broken:
                    raise ForeignKeysBroken(f"the migration would leave rows pointing at nothing: {broken[:5]}")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
