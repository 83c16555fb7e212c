"""LocalSigstore's timestamp authority: real RFC 3161 responses that both the
SDK's verifier and rfc3161-client accept, and 400s for bad requests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rfc3161_client import (
    HashAlgorithm,
    TimestampRequestBuilder,
    VerifierBuilder,
    decode_timestamp_response,
)

from sigstore_async import TimestampError
from sigstore_async._core.rfc3161 import TsaAuthority, verify_timestamp
from sigstore_async.testing import LocalSigstore

from ._local import b64

pytestmark = pytest.mark.anyio

SIGNATURE = b"the signature bytes a client timestamps"


def _authority(stack: LocalSigstore) -> TsaAuthority:
    (tsa,) = stack.trusted_root.timestamp_authorities
    assert tsa.cert_chain is not None
    assert tsa.valid_for is not None
    return TsaAuthority(
        chain=[c.raw_bytes for c in tsa.cert_chain.certificates],
        valid_from=tsa.valid_for.start,
        name=tsa.uri,
    )


@pytest.mark.parametrize("cert_req", [False, True])
@pytest.mark.parametrize("algorithm", [HashAlgorithm.SHA256, HashAlgorithm.SHA512])
async def test_timestamp_verifies_with_both_verifiers(
    cert_req: bool, algorithm: HashAlgorithm
) -> None:
    request = (
        TimestampRequestBuilder()
        .hash_algorithm(algorithm)
        .data(SIGNATURE)
        .nonce(nonce=True)
        .cert_request(cert_request=cert_req)
        .build()
    )
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.post(
            "/tsa/api/v1/timestamp",
            content=request.as_bytes(),
            headers={"content-type": "application/timestamp-query"},
        )
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/timestamp-reply"
        chain_pem = (await http.get("/tsa/api/v1/timestamp/certchain")).content
    response = decode_timestamp_response(r.content)
    assert response.tst_info.nonce == request.nonce
    assert len(response.signed_data.certificates) == (1 if cert_req else 0)

    gen_time = verify_timestamp(r.content, signature=SIGNATURE, authorities=[_authority(stack)])
    assert abs((gen_time - datetime.now(UTC)).total_seconds()) < 60

    leaf, root = x509.load_pem_x509_certificates(chain_pem)
    checker = (
        VerifierBuilder.from_request(request)
        .tsa_certificate(leaf)
        .add_root_certificate(root)
        .build()
    )
    assert checker.verify_message(response, SIGNATURE)
    assert [c.public_bytes(serialization.Encoding.DER) for c in (leaf, root)] == [
        c.raw_bytes
        for c in stack.trusted_root.timestamp_authorities[0].cert_chain.certificates  # type: ignore[union-attr]
    ]


async def test_json_request() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.post(
            "/tsa/api/v1/timestamp",
            json={
                "artifactHash": b64(hashlib.sha256(SIGNATURE).digest()),
                "hashAlgorithm": "sha256",
                "nonce": 1234,
                "certificates": True,
            },
        )
    assert r.status_code == 200, r.text
    assert decode_timestamp_response(r.content).tst_info.nonce == 1234
    verify_timestamp(r.content, signature=SIGNATURE, authorities=[_authority(stack)])
    with pytest.raises(TimestampError):
        verify_timestamp(r.content, signature=b"other", authorities=[_authority(stack)])


async def test_fixed_clock_sets_gen_time() -> None:
    fixed = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    async with LocalSigstore(clock=lambda: fixed) as stack, stack.client() as http:
        r = await http.post(
            "/tsa/api/v1/timestamp",
            json={"artifactHash": b64(hashlib.sha256(SIGNATURE).digest())},
        )
    expected = fixed.replace(microsecond=0)  # genTime has whole seconds
    gen_time = decode_timestamp_response(r.content).tst_info.gen_time
    assert gen_time.replace(tzinfo=UTC) == expected
    authorities = [_authority(stack)]
    assert verify_timestamp(r.content, signature=SIGNATURE, authorities=authorities) == expected


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "application/timestamp-query", "truncated"),
        (b"\x30\x03\x02\x01\x02", "application/timestamp-query", "version"),
        (b"\x04\x00", "application/timestamp-query", "unexpected DER tag"),
        (b"\x30\x80\x00\x00", "application/timestamp-query", "length"),
        (b"{", "application/json", "JSON"),
        (b'{"artifactHash": "AAAA"}', "application/json", "sha256 digest"),
        (b'{"artifactHash": 5}', "application/json", "base64"),
        (b'{"artifactHash": "AAAA", "hashAlgorithm": "md5"}', "application/json", "md5"),
        (b'{"nonce": "x", "artifactHash": ""}', "application/json", "digest"),
    ],
)
async def test_bad_requests_are_400(body: bytes, content_type: str, message: str) -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.post(
            "/tsa/api/v1/timestamp", content=body, headers={"content-type": content_type}
        )
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]


async def test_wrong_imprint_length_and_policy_are_400() -> None:
    from sigstore_async.testing import _der

    sha256 = _der.seq(_der.oid("2.16.840.1.101.3.4.2.1"))
    short = _der.seq(_der.integer(1), _der.seq(sha256, _der.octets(b"\x00" * 5)))
    other_policy = _der.seq(
        _der.integer(1),
        _der.seq(sha256, _der.octets(hashlib.sha256(b"x").digest())),
        _der.oid("1.2.3.4"),
    )
    async with LocalSigstore() as stack, stack.client() as http:
        for body, message in [(short, "sha256 digest"), (other_policy, "policy")]:
            r = await http.post("/tsa/api/v1/timestamp", content=body)
            assert r.status_code == 400, r.text
            assert message in r.json()["message"]
