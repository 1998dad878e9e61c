"""sign-in methods on sessions; upstream identity providers

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30 19:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('methods', sa.Text(), nullable=False, server_default='[]'))
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_sign_in', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table('identity_providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('preset', sa.String(length=16), nullable=False),
    sa.Column('issuer', sa.Text(), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('client_secret_ref', sa.String(length=400), nullable=False),
    sa.Column('scopes', sa.String(length=400), nullable=False),
    sa.Column('claims', sa.Text(), nullable=False),
    sa.Column('allowed_directories', sa.Text(), nullable=False),
    sa.Column('account_policy', sa.String(length=16), nullable=False),
    sa.Column('create_domains', sa.Text(), nullable=False),
    sa.Column('trusted_domains', sa.Text(), nullable=False),
    sa.Column('options', sa.Text(), nullable=False, server_default='{}'),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_identity_providers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_providers')),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_identity_providers_tenant_name')
    )
    op.create_table('provider_group_map',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('upstream_group', sa.String(length=255), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_provider_group_map_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['identity_providers.id'], name=op.f('fk_provider_group_map_provider_id_identity_providers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_provider_group_map_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'upstream_group', 'group_id', name=op.f('pk_provider_group_map'))
    )
    op.create_table('linked_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('last_used_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['identity_providers.id'], name=op.f('fk_linked_identities_provider_id_identity_providers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_linked_identities_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_linked_identities_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linked_identities')),
    sa.UniqueConstraint('provider_id', 'subject', name='uq_linked_identities_provider_subject')
    )
    with op.batch_alter_table('linked_identities', schema=None) as batch_op:
        batch_op.create_index('ix_linked_identities_user', ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('linked_identities', schema=None) as batch_op:
        batch_op.drop_index('ix_linked_identities_user')
    op.drop_table('linked_identities')
    op.drop_table('provider_group_map')
    op.drop_table('identity_providers')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('password_sign_in')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('methods')
