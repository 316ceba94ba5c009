"""A throw-away CA and a server certificate for 127.0.0.1 (trustme), written as PEM files:
the sink serves with the certificate, the clients verify it against the CA, host included."""

from __future__ import annotations

import dataclasses
import os

import trustme


@dataclasses.dataclass(frozen=True)
class Certs:
    ca_file: str
    cert_file: str
    key_file: str


def make(directory: str) -> Certs:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    certs = Certs(*(os.path.join(directory, name) for name in ("ca.pem", "cert.pem", "key.pem")))
    ca.cert_pem.write_to_path(certs.ca_file)
    with open(certs.cert_file, "wb") as out:
        out.writelines(blob.bytes() for blob in server.cert_chain_pems)
    server.private_key_pem.write_to_path(certs.key_file)
    return certs
