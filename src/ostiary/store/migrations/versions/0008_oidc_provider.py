"""OpenID Connect provider: clients, their grants, codes, tokens, consents, signing keys

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 22:30:00

New tables only (docs/oidc-provider.md); the downgrade drops them, and with
them every client and token the issuer held.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f(f'fk_{table}_tenant_id_tenants'),
                                   ondelete='CASCADE')


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f'{target}.id'], name=op.f(f'fk_{table}_{column}_{target}'),
                                   ondelete='CASCADE')


def upgrade() -> None:
    op.create_table(
        'oidc_clients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=True),
        sa.Column('redirect_uris', sa.Text(), nullable=False),
        sa.Column('post_logout_redirect_uris', sa.Text(), nullable=False),
        sa.Column('backchannel_logout_uri', sa.Text(), nullable=True),
        sa.Column('scopes', sa.String(length=200), nullable=False),
        sa.Column('all_users', sa.Boolean(), nullable=False),
        sa.Column('require_2fa', sa.Boolean(), nullable=False),
        sa.Column('skip_consent', sa.Boolean(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('access_token_seconds', sa.Integer(), nullable=False),
        sa.Column('refresh_token_seconds', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.Float(), nullable=False),
        _tenant_fk('oidc_clients'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_clients')),
        sa.UniqueConstraint('client_id', name=op.f('uq_oidc_clients_client_id')),
        sa.UniqueConstraint('tenant_id', 'name', name='uq_oidc_clients_tenant_name'),
    )
    op.create_table(
        'oidc_client_grants',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=False),
        _tenant_fk('oidc_client_grants'),
        _fk('oidc_client_grants', 'client_id', 'oidc_clients'),
        _fk('oidc_client_grants', 'group_id', 'groups'),
        sa.PrimaryKeyConstraint('client_id', 'group_id', name=op.f('pk_oidc_client_grants')),
    )
    op.create_table(
        'oidc_codes',
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=32), nullable=False),
        sa.Column('redirect_uri', sa.Text(), nullable=False),
        sa.Column('scope', sa.String(length=200), nullable=False),
        sa.Column('nonce', sa.Text(), nullable=True),
        sa.Column('code_challenge', sa.String(length=128), nullable=True),
        sa.Column('code_challenge_method', sa.String(length=8), nullable=True),
        sa.Column('auth_time', sa.Float(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.Column('used_at', sa.Float(), nullable=True),
        _tenant_fk('oidc_codes'),
        _fk('oidc_codes', 'client_id', 'oidc_clients'),
        _fk('oidc_codes', 'user_id', 'users'),
        sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_oidc_codes')),
    )
    op.create_table(
        'oidc_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('family', sa.String(length=32), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=True),
        sa.Column('scope', sa.String(length=200), nullable=False),
        sa.Column('auth_time', sa.Float(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.Column('used_at', sa.Float(), nullable=True),
        sa.Column('revoked_at', sa.Float(), nullable=True),
        _tenant_fk('oidc_tokens'),
        _fk('oidc_tokens', 'client_id', 'oidc_clients'),
        _fk('oidc_tokens', 'user_id', 'users'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_oidc_tokens_token_hash')),
    )
    op.create_index('ix_oidc_tokens_family', 'oidc_tokens', ['family'])
    op.create_index('ix_oidc_tokens_session', 'oidc_tokens', ['session_id'])
    op.create_table(
        'oidc_consents',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        _tenant_fk('oidc_consents'),
        _fk('oidc_consents', 'client_id', 'oidc_clients'),
        _fk('oidc_consents', 'user_id', 'users'),
        sa.PrimaryKeyConstraint('user_id', 'client_id', name=op.f('pk_oidc_consents')),
    )
    op.create_table(
        'oidc_signing_keys',
        sa.Column('kid', sa.String(length=32), nullable=False),
        sa.Column('alg', sa.String(length=8), nullable=False),
        sa.Column('private_jwk', sa.Text(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('retired_at', sa.Float(), nullable=True),
        sa.Column('drop_at', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('kid', name=op.f('pk_oidc_signing_keys')),
    )


def downgrade() -> None:
    op.drop_table('oidc_signing_keys')
    op.drop_table('oidc_consents')
    op.drop_index('ix_oidc_tokens_session', table_name='oidc_tokens')
    op.drop_index('ix_oidc_tokens_family', table_name='oidc_tokens')
    op.drop_table('oidc_tokens')
    op.drop_table('oidc_codes')
    op.drop_table('oidc_client_grants')
    op.drop_table('oidc_clients')
