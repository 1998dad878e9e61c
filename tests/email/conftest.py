"""Email tests run against a real SMTP server (aiosmtpd, its own process on
loopback, tests/support/smtpserver.py) and read back what it received."""

from __future__ import annotations

import pytest

from ostiary.config import load_settings
from ostiary.services.rules import tenants, users
from ostiary.services.base.actor import CLI_ACTOR
from tests.support.server import free_port
from tests.support.smtpserver import SmtpServer
from tests.support.tls import issue_certificates

PASSWORD = "correct horse battery"
ADMIN = "admin@acme.test"
SENDER = "sso@acme.test"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    """A plain SMTP server on loopback (security "none"), as a local relay is."""
    server = SmtpServer(tmp_path_factory.mktemp("smtp") / "inbox", free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def inbox(smtp):
    """The plain server, emptied for this test."""
    smtp.clear()
    return smtp


@pytest.fixture(scope="module")
def secure_smtp(tmp_path_factory):
    """An SMTP server that requires STARTTLS (a certificate from the test CA) and a login."""
    tmp = tmp_path_factory.mktemp("smtp-tls")
    tls = issue_certificates(tmp / "tls", ["smtp.test", "localhost"])
    server = SmtpServer(tmp / "inbox", free_port(), tls=(tls.cert_chain, tls.private_key),
                        login=("relay-user", "relay secret 42")).start()
    server.ca = tls.ca_cert
    yield server
    server.stop()


@pytest.fixture(scope="module")
def implicit_tls_smtp(tmp_path_factory):
    """An SMTP server speaking TLS from the first byte (as on port 465), with a login."""
    tmp = tmp_path_factory.mktemp("smtp-implicit-tls")
    tls = issue_certificates(tmp / "tls", ["smtp.test", "localhost"])
    server = SmtpServer(tmp / "inbox", free_port(), tls=(tls.cert_chain, tls.private_key),
                        login=("relay-user", "relay secret 42"), implicit_tls=True).start()
    server.ca = tls.ca_cert
    yield server
    server.stop()


def mail_settings(smtp_port: int, **more):
    values = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_security": "none", "smtp_from": SENDER,
              "smtp_timeout": 5, **more}
    return load_settings(**values)


@pytest.fixture
def acme(store):
    """A tenant named "Acme Corp" with an admin and one person."""
    tenants.init_installation(store, "id.example.test", "acme", ADMIN, PASSWORD, CLI_ACTOR)
    tenant = tenants.tenant_by_slug(store, "acme")
    from sqlalchemy import update

    from ostiary.store.tables import tenants as tenants_table

    with store.write() as conn:
        conn.execute(update(tenants_table).where(tenants_table.c.id == tenant.id).values(name="Acme Corp"))
    users.add_user(store, tenant.id, CLI_ACTOR, email="bob@acme.test", display_name="Bob", password=PASSWORD)
    return tenant.id
