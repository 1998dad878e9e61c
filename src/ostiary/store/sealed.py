"""Which stored columns hold secrets sealed by the secret box (ostiary/secretbox.py),
and the operations over all of them at once: checking that they open with the
configured key, sealing the ones written before a key was configured, and
re-sealing every one under a new key (docs/operations.md, "Secrets at rest")."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, inspect, text

from ostiary.secretbox import SecretBox, is_sealed

# (table, primary key, column): every stored credential. A new one is added here.
SEALED_COLUMNS = (
    ("signing_keys", "id", "secret"),
    ("users", "id", "totp_secret"),
    ("oidc_signing_keys", "kid", "private_jwk"),
)


def _rows(conn: Connection, table: str, key: str, column: str):
    return conn.execute(text(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL")).all()


def check_values(values: Iterable[str], box: SecretBox) -> int:
    """Opens every sealed value among `values` (raising SecretsUnreadable on the
    first that does not open); returns how many are not sealed yet. `ostiary
    restore` runs it on the values read from a PostgreSQL backup file."""
    unsealed = 0
    for value in values:
        if is_sealed(value):
            box.open(value)
        else:
            unsealed += 1
    return unsealed


def present_columns(conn: Connection) -> list[tuple[str, str, str]]:
    """The SEALED_COLUMNS the database has: a database at an older schema (a backup
    being restored) lacks those that later migrations added."""
    schema = inspect(conn)
    tables = set(schema.get_table_names())
    return [(table, key, column) for table, key, column in SEALED_COLUMNS
            if table in tables and column in {c["name"] for c in schema.get_columns(table)}]


def check_all(conn: Connection, box: SecretBox) -> int:
    """check_values over every sealed column the database has (present_columns)."""
    return check_values((value for table, key, column in present_columns(conn)
                         for _, value in _rows(conn, table, key, column)), box)


def reseal_all(conn: Connection, old: SecretBox, new: SecretBox, *, only_unsealed: bool = False) -> int:
    """Opens every value with `old` and writes it sealed by `new` (or in the
    clear, when `new` has no key), inside the caller's transaction; returns
    how many values were written."""
    written = 0
    for table, key, column in SEALED_COLUMNS:
        for ident, value in _rows(conn, table, key, column):
            if only_unsealed and is_sealed(value):
                continue
            conn.execute(text(f"UPDATE {table} SET {column} = :value WHERE {key} = :ident"),
                         {"value": new.seal(old.open(value)), "ident": ident})
            written += 1
    return written
