"""group names unique regardless of case

A tenant could hold both "STAFF" and "staff", two groups that a person
reading X-Forwarded-Groups (and many apps) cannot tell apart. User emails
are compared regardless of case; group names now are too, guarded by a
unique index on lower(name). A database that already holds such a pair is
refused with the pairs named, before anything changes.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

from ostiary.store.engine import MigrationRefused


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

INDEX = 'uq_groups_tenant_lower_name'


def _clashes() -> list[str]:
    rows = op.get_bind().execute(sa.text(
        "SELECT t.slug, g.name FROM groups g JOIN tenants t ON t.id = g.tenant_id "
        "WHERE EXISTS (SELECT 1 FROM groups o WHERE o.tenant_id = g.tenant_id AND o.id <> g.id "
        "AND lower(o.name) = lower(g.name)) ORDER BY t.slug, lower(g.name), g.name"
    )).all()
    return [f'tenant "{slug}": group "{name}"' for slug, name in rows]


def upgrade() -> None:
    clashes = _clashes()
    if clashes:
        raise MigrationRefused(
            "group names must now be unique regardless of case, and these differ only in case: "
            + "; ".join(clashes)
            + ". With the Ostiary you run now, move the members and grants of one of each pair to the other and "
            "delete it (`ostiary group delete NAME --tenant SLUG`), then migrate again. Nothing was changed."
        )
    op.create_index(INDEX, 'groups', ['tenant_id', sa.text('lower(name)')], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name='groups')
