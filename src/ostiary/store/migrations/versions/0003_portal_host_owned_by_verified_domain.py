"""portal host unique among verified domains only (pending ones block no one)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 19:35:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

VERIFIED_ONLY = sa.text("status = 'verified'")


def upgrade() -> None:
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.drop_constraint('uq_domains_portal_host', type_='unique')
        batch_op.create_unique_constraint('uq_domains_tenant_portal_host', ['tenant_id', 'portal_host'])
    op.create_index('uq_domains_verified_portal_host', 'domains', ['portal_host'], unique=True,
                    sqlite_where=VERIFIED_ONLY, postgresql_where=VERIFIED_ONLY)


def downgrade() -> None:
    # 0002 allows one registration per portal host in the whole installation. Rather than
    # delete registrations to get there, refuse and name them (docs/upgrading.md).
    shared = op.get_bind().execute(sa.text(
        "SELECT portal_host FROM domains GROUP BY portal_host HAVING COUNT(*) > 1 ORDER BY portal_host"
    )).scalars().all()
    if shared:
        raise RuntimeError(
            "cannot downgrade below 0003: these portal hosts are registered by more than one protected domain, "
            f"which 0002 cannot hold: {', '.join(shared[:10])}; delete the registrations not verified "
            "(`ostiary domain delete NAME --tenant SLUG`) and run the downgrade again"
        )
    op.drop_index('uq_domains_verified_portal_host', table_name='domains',
                  sqlite_where=VERIFIED_ONLY, postgresql_where=VERIFIED_ONLY)
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.drop_constraint('uq_domains_tenant_portal_host', type_='unique')
        batch_op.create_unique_constraint('uq_domains_portal_host', ['portal_host'])
