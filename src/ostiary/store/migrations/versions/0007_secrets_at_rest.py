"""secrets at rest: signing keys and TOTP secrets sealed with OSTIARY_SECRET_KEY_FILE

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:40:00.000000

Sealed values are longer than the clear ones, so both columns become TEXT.
With a key configured the upgrade seals every value, and the downgrade opens
them again (it needs the same key); without one both leave the values as
they are (docs/upgrading.md, "Secrets at rest").
"""
from alembic import context, op
import sqlalchemy as sa

from ostiary.secretbox import SecretBox, is_sealed


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# (table, primary key, column, the type before this revision)
COLUMNS = (
    ('signing_keys', 'id', 'secret', sa.String(128)),
    ('users', 'id', 'totp_secret', sa.String(64)),
)


def _box() -> SecretBox:
    return context.config.attributes.get('secret_box') or SecretBox()


def _rewrite(table: str, key: str, column: str, change) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(f'SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL')).all()
    for ident, value in rows:
        new = change(value)
        if new != value:
            conn.execute(sa.text(f'UPDATE {table} SET {column} = :v WHERE {key} = :k'), {'v': new, 'k': ident})


def upgrade() -> None:
    box = _box()
    for table, key, column, before in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, type_=sa.Text(), existing_type=before)
        if box.has_key:
            _rewrite(table, key, column, lambda v: v if is_sealed(v) else box.seal(v))


def downgrade() -> None:
    box = _box()
    for table, key, column, before in COLUMNS:
        # Opens every sealed value, or refuses (naming the key setting) before anything changed.
        _rewrite(table, key, column, box.open)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, type_=before, existing_type=sa.Text())
