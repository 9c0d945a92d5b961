"""What a secured embedded cluster is made of: a certificate authority and a broker certificate
generated for this cluster alone (the `cryptography` library), and, for SASL_SSL, one SCRAM
user per role with a random password. Everything lives in a folder of the cluster's temp dir,
readable by its owner only, and goes with it.

Modes: `tls`: TLS listeners, any client that trusts the CA may connect (what TLS costs);
`sasl_ssl`: TLS plus SCRAM-SHA-512 logins and the standard authorizer, every role its own
principal with least-privilege ACLs (engine/acls.py).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MODES = ("tls", "sasl_ssl")
MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"   #: the brokers' own principal and the harness's (a super user)
# One principal per role: what each may do is in engine/acls.py.
ROLE_USERS = ("seeder", "producer", "consumer", "reader", "streams", "monitor", "mirror")
VALID_DAYS = 7


@dataclass(frozen=True)
class SecurityMaterial:
    mode: str
    folder: Path
    passwords: dict[str, str] = field(default_factory=dict, repr=False)   #: user -> password

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def keystore_file(self) -> Path:
        return self.folder / "broker.pem"

    @property
    def protocol(self) -> str:
        return "SASL_SSL" if self.mode == "sasl_ssl" else "SSL"

    def broker_overrides(self) -> dict[str, str]:
        props = {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(self.keystore_file),
                 "ssl.truststore.type": "PEM", "ssl.truststore.location": str(self.ca_file)}
        if self.mode == "sasl_ssl":
            jaas = f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config"
            props.update({
                "sasl.enabled.mechanisms": MECHANISM,
                "sasl.mechanism.inter.broker.protocol": MECHANISM,
                jaas: _jaas(ADMIN, self.passwords[ADMIN]),
                "authorizer.class.name":
                    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                # ANONYMOUS: the controller listener stays PLAINTEXT on loopback (KRaft's
                # controllers cannot log in with SCRAM before they hold the metadata).
                "super.users": f"User:{ADMIN};User:ANONYMOUS",
                "allow.everyone.if.no.acl.found": "false"})
        return props

    def remote_log_metadata_overrides(self) -> dict[str, str]:
        """Tiered Storage on a secured cluster: the brokers' remote-log metadata clients use the
        secured listener (the broker gives them its address and protocol) with the CA and,
        under SASL_SSL, the admin's login, which these settings add."""
        prefix = "rlmm.config.remote.log.metadata.common.client."
        props = {"remote.log.metadata.manager.listener.name": self.protocol,
                 f"{prefix}ssl.truststore.type": "PEM",
                 f"{prefix}ssl.truststore.location": str(self.ca_file)}
        if self.mode == "sasl_ssl":
            props.update({f"{prefix}sasl.mechanism": MECHANISM,
                          f"{prefix}sasl.jaas.config": _jaas(ADMIN, self.passwords[ADMIN])})
        return props

    def format_args(self) -> list[str]:
        """kafka-storage format arguments that create the SCRAM users."""
        return [arg for user, password in self.passwords.items()
                for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={password}]")]

    def client_config(self, user: str = ADMIN) -> dict[str, str]:
        config = {"security.protocol": self.protocol, "ssl.ca.location": str(self.ca_file)}
        if self.mode == "sasl_ssl":
            config.update({"sasl.mechanisms": MECHANISM, "sasl.username": user,
                           "sasl.password": self.passwords[user]})
        return config


def generate(folder: Path, mode: str) -> SecurityMaterial:
    folder.mkdir(mode=0o700, parents=True, exist_ok=False)
    ca_key, ca_cert = _authority()
    key, cert = _broker_certificate(ca_key, ca_cert)
    write_secret(folder / "ca.pem", ca_cert.public_bytes(serialization.Encoding.PEM))
    # PKCS#8, unencrypted: Kafka's PEM keystore reads it without a key password, and the file
    # is its owner's alone inside a folder that is removed with the cluster.
    write_secret(folder / "broker.pem", key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    users = (ADMIN, *ROLE_USERS) if mode == "sasl_ssl" else ()
    return SecurityMaterial(mode, folder, {u: secrets.token_urlsafe(18) for u in users})


def _authority():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "replaybench test CA")])
    cert = (_builder(name, name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _broker_certificate(ca_key, ca_cert):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (_builder(name, ca_cert.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _builder(subject, issuer, public_key) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS)))


def write_secret(path: Path, data: bytes) -> None:
    """A new file only its owner can read (refused if it exists: never an older one reused)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _jaas(user: str, password: str) -> str:
    return (f'org.apache.kafka.common.security.scram.ScramLoginModule required '
            f'username="{user}" password="{password}";')
