"""PEM decoding inside Rekor entry bodies: exactly one block, nothing else."""

from __future__ import annotations

import base64

import pytest

from sigstore_async import TransparencyLogError
from sigstore_async.verify._bodies import _pem_to_der

DER = bytes(range(100))
B64 = base64.b64encode(DER)
CERT = (
    b"-----BEGIN CERTIFICATE-----\n"
    + B64[:64]
    + b"\n"
    + B64[64:]
    + b"\n-----END CERTIFICATE-----\n"
)


@pytest.mark.parametrize(
    "pem",
    [
        CERT,
        CERT.replace(b"\n", b"\r\n"),
        CERT.replace(b"CERTIFICATE", b"PUBLIC KEY"),
        b"\n" + CERT + b"\n\n",
    ],
)
def test_accepted(pem: bytes) -> None:
    assert _pem_to_der(pem, "$") == DER


@pytest.mark.parametrize(
    "pem",
    [
        b"junk\n" + CERT,
        CERT + CERT,
        CERT.replace(b"END CERTIFICATE", b"END PUBLIC KEY"),
        CERT.replace(b"CERTIFICATE", b"PRIVATE KEY"),
        CERT.replace(B64[:4], b"!!!!"),
        b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        b"",
    ],
)
def test_rejected(pem: bytes) -> None:
    with pytest.raises(TransparencyLogError):
        _pem_to_der(pem, "$")
