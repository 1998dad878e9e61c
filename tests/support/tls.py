"""A throwaway certificate authority for HTTPS in tests (trustme), written to files.

Independent of pytest:

    tls = issue_certificates(tmp_dir, ["grafana.acme-corp.test", "auth.acme-corp.test"])
    httpx.Client(verify=str(tls.ca_cert))
    nginx: ssl_certificate {tls.cert_chain}; ssl_certificate_key {tls.private_key};
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import trustme


@dataclass(frozen=True)
class TestTLS:
    """Paths of a test CA and one leaf certificate covering every requested name."""

    __test__ = False  # not a pytest test class

    ca_cert: Path
    cert_chain: Path  # leaf followed by the CA chain, PEM
    private_key: Path
    hostnames: tuple[str, ...]

    def ssl_context(self):
        """A client-side ``ssl.SSLContext`` trusting only this CA."""
        import ssl

        return ssl.create_default_context(cafile=str(self.ca_cert))


def issue_certificates(directory: str | os.PathLike, hostnames: Iterable[str]) -> TestTLS:
    """Create a CA and a certificate for ``hostnames`` (wildcards allowed) under ``directory``."""
    names = tuple(hostnames)
    if not names:
        raise ValueError("issue_certificates needs at least one hostname")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="Ostiary test CA")
    leaf = ca.issue_cert(*names)
    tls = TestTLS(
        ca_cert=directory / "ca.pem",
        cert_chain=directory / "cert-chain.pem",
        private_key=directory / "key.pem",
        hostnames=names,
    )
    ca.cert_pem.write_to_path(str(tls.ca_cert))
    leaf.private_key_pem.write_to_path(str(tls.private_key))
    with open(tls.cert_chain, "wb") as chain:
        for blob in leaf.cert_chain_pems:
            chain.write(blob.bytes())
    os.chmod(tls.private_key, 0o600)
    return tls
