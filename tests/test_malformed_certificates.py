"""A malformed certificate is a typed error wherever one is read.

cryptography raises several exception types for malformed certificates, not all
of them ValueErrors (``InvalidVersion``, ``UnsupportedAlgorithm``...). Each site
that reads certificates from outside must turn all of them into its own error.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from cryptography import x509

from sigstore_async import InvalidTrustRoot, ServiceError, TrustMaterial
from sigstore_async.fulcio import _read_chain
from sigstore_async.trust import embedded_trusted_root
from tests.conftest import pem_certificate, with_bad_version


def _root() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(embedded_trusted_root().to_json())
    return doc


def _fulcio_chain() -> list[bytes]:
    certs = _root()["certificateAuthorities"][-1]["certChain"]["certificates"]
    return [base64.b64decode(c["rawBytes"]) for c in certs]


def test_bad_version_is_refused_by_cryptography_with_a_non_value_error() -> None:
    # What the tests below rely on: without it, they would not test the bug.
    der = _fulcio_chain()[0]
    with pytest.raises(x509.InvalidVersion) as info:
        x509.load_der_x509_certificate(with_bad_version(der))
    assert not isinstance(info.value, ValueError)


def test_trust_root_with_a_malformed_ca_certificate_is_invalid() -> None:
    root = _root()
    for field in ("certificateAuthorities", "timestampAuthorities"):
        doc = json.loads(json.dumps(root))
        cert = doc[field][0]["certChain"]["certificates"][0]
        cert["rawBytes"] = base64.b64encode(
            with_bad_version(base64.b64decode(cert["rawBytes"]))
        ).decode()
        with pytest.raises(InvalidTrustRoot) as info:
            TrustMaterial.from_json(json.dumps(doc))
        assert info.value.path == f"$.{field}[0].certChain"
        assert "version" in str(info.value)


def test_fulcio_answer_with_a_malformed_certificate_is_a_service_error() -> None:
    chain = _fulcio_chain()
    answer = {
        "signedCertificateEmbeddedSct": {
            "chain": {
                "certificates": [
                    pem_certificate(with_bad_version(chain[0])).decode(),
                    pem_certificate(chain[-1]).decode(),
                ]
            }
        }
    }
    with pytest.raises(ServiceError, match="malformed PEM certificate"):
        _read_chain(httpx.Response(201, json=answer))
