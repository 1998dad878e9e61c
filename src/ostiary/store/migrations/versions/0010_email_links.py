"""email links: invitations, password resets and email changes

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:30:00.000000

One new table; nothing existing changes (docs/upgrading.md, "Email").
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('email_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('new_email', sa.String(length=320), nullable=True),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.Column('used_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_email_links_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_email_links_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_email_links_token_hash'))
    )
    with op.batch_alter_table('email_links', schema=None) as batch_op:
        batch_op.create_index('ix_email_links_user', ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('email_links', schema=None) as batch_op:
        batch_op.drop_index('ix_email_links_user')
    op.drop_table('email_links')
