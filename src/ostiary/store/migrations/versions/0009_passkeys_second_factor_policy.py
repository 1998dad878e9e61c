"""passkeys (WebAuthn credentials) and a per-tenant second-factor policy

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 22:30:00

Adds the webauthn_credentials table and tenants.second_factor_policy
(off | admins | everyone, "off" for every existing tenant, so nothing
changes for anyone until an administrator sets it; docs/upgrading.md).
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('second_factor_policy', sa.String(length=16), nullable=False,
                                      server_default='off'))
    op.create_table('webauthn_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.String(length=1400), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('transports', sa.String(length=200), nullable=False),
    sa.Column('aaguid', sa.String(length=36), nullable=False),
    sa.Column('backed_up', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('last_used_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_webauthn_credentials_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_webauthn_credentials_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webauthn_credentials')),
    sa.UniqueConstraint('tenant_id', 'credential_id', name='uq_webauthn_credentials_tenant_credential')
    )
    with op.batch_alter_table('webauthn_credentials', schema=None) as batch_op:
        batch_op.create_index('ix_webauthn_credentials_user', ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webauthn_credentials', schema=None) as batch_op:
        batch_op.drop_index('ix_webauthn_credentials_user')
    op.drop_table('webauthn_credentials')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('second_factor_policy')
