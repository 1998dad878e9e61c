"""users.language: the language a person chose for the pages

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-01 02:00:00.000000

One nullable column; NULL keeps the language the browser asks for
(docs/translations.md). Existing users keep NULL.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
# At merge this follows 0011 (tenant branding); on its own branch it follows 0010.
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
