"""tenant branding: display name (tenants.name), accent colour, contact, logo

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 02:00:00.000000

Three nullable columns on tenants and one new table; nothing existing changes
(docs/upgrading.md, "Branding").
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accent_colour', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('contact', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('logo_version', sa.String(length=16), nullable=True))
    op.create_table('tenant_logos',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_logos_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_tenant_logos'))
    )


def downgrade() -> None:
    op.drop_table('tenant_logos')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('logo_version')
        batch_op.drop_column('contact')
        batch_op.drop_column('accent_colour')
