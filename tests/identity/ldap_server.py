"""A throwaway OpenLDAP directory for the tests: Debian's `slapd` on a free
loopback port, configured from a slapd.conf written here (mdb, the memberof
overlay, StartTLS with the test CA's certificate), loaded from an LDIF
through the running server so the overlay fills memberOf."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from tests.support.server import free_port
from tests.support.tls import TestTLS

SLAPD = "/usr/sbin/slapd"
SUFFIX = "dc=acme,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-password-for-tests"
READER_DN = f"cn=reader,{SUFFIX}"
READER_PASSWORD = "reader-password-for-tests"
PASSWORD = "correct horse battery"

LDIF = f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Acme
dc: acme

dn: {READER_DN}
objectClass: simpleSecurityObject
objectClass: organizationalRole
cn: reader
userPassword: {READER_PASSWORD}

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: alice
cn: Alice from the Directory
sn: Alice
mail: alice@acme.test
userPassword: {PASSWORD}

dn: uid=dora,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: dora
cn: Dora Directory
sn: Dora
mail: dora@acme.test
userPassword: {PASSWORD}

dn: uid=dave,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: dave
cn: Dave Disabled
sn: Dave
mail: dave@acme.test
employeeType: disabled
userPassword: {PASSWORD}

dn: cn=engineering,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: engineering
member: uid=alice,ou=people,{SUFFIX}
member: uid=dora,ou=people,{SUFFIX}

dn: cn=sales,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: sales
member: uid=dora,ou=people,{SUFFIX}
"""

# What the tests configure in Ostiary: disabled entries are excluded by the filter, as with
# Active Directory's userAccountControl (docs/identity-providers.md).
USER_FILTER = "(&(objectClass=inetOrgPerson)(|(uid={login})(mail={login}))(!(employeeType=disabled)))"


def _conf(workdir: Path, tls: TestTLS) -> str:
    return f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {workdir}/slapd.pid
argsfile {workdir}/slapd.args
TLSCACertificateFile {tls.ca_cert}
TLSCertificateFile {tls.cert_chain}
TLSCertificateKeyFile {tls.private_key}
database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {workdir}/db
overlay memberof
access to attrs=userPassword by self write by anonymous auth by * none
access to * by dn.exact="{READER_DN}" read by self read by * none
"""


class Slapd:
    def __init__(self, tls: TestTLS, workdir: Path):
        if shutil.which("slapd", path="/usr/sbin") is None:
            raise RuntimeError("Debian's slapd is missing: apt-get install slapd ldap-utils (the test script does this)")
        self.tls = tls
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ldap://localhost:{self.port}"

    def start(self) -> "Slapd":
        (self.workdir / "db").mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "slapd.conf"
        conf.write_text(_conf(self.workdir, self.tls))
        self._run()
        (self.workdir / "data.ldif").write_text(LDIF)
        subprocess.run(["ldapadd", "-x", "-H", f"ldap://127.0.0.1:{self.port}", "-D", ROOT_DN, "-w", ROOT_PASSWORD,
                        "-f", str(self.workdir / "data.ldif")], check=True, capture_output=True, timeout=30)
        return self

    def _run(self) -> None:
        log = open(self.workdir / "slapd.log", "ab")
        # -d 0: stay in the foreground (stopped by the test), logging nothing but errors.
        self.proc = subprocess.Popen([SLAPD, "-d", "0", "-f", str(self.workdir / "slapd.conf"),
                                      "-h", f"ldap://127.0.0.1:{self.port}/"], stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited: {(self.workdir / 'slapd.log').read_text()}")
            done = subprocess.run(["ldapwhoami", "-x", "-H", f"ldap://127.0.0.1:{self.port}"], capture_output=True)
            if done.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("slapd did not answer within 20 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self) -> None:
        """The same directory again, on the same port (after a test stopped it)."""
        self.stop()
        self._run()

    def __enter__(self) -> "Slapd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
