"""Bundle assembly, sans-I/O: proposed entries, log responses, the checks on
what a log returns, and v0.3 bundles."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from sigstore_async.errors import ServiceError, TransparencyLogError
from sigstore_async.models import Bundle, Envelope, Signature
from sigstore_async.sign.assembly import (
    ProposedEntry,
    SignedMessage,
    assemble_bundle,
    check_log_entry,
    in_toto_statement,
    key_details,
    parse_rekor_v1_entry,
    parse_rekor_v2_entry,
    propose_entry,
)
from sigstore_async.verify import VerifyCache

from ._fakelog import V1_URL, V2_URL, FakeLogs

NOW = datetime(2025, 10, 1, 0, 0, 30, tzinfo=UTC)
CERT = b"0\x82 not really a certificate"
P256 = ec.generate_private_key(ec.SECP256R1()).public_key()
P384 = ec.generate_private_key(ec.SECP384R1()).public_key()
MESSAGE = SignedMessage(digest=hashlib.sha256(b"hi").digest(), algorithm="SHA2_256", signature=b"s")
ENVELOPE = Envelope(
    payload=b'{"a":1}', payload_type="application/x-test", signatures=(Signature(sig=b"d"),)
)


def propose(content: SignedMessage | Envelope, version: int) -> ProposedEntry:
    return propose_entry(content, certificate=CERT, key=P256, rekor_version=version)


# --- proposed entries --------------------------------------------------------


def test_hashedrekord_v001_request() -> None:
    p = propose(MESSAGE, 1)
    assert (p.kind, p.version) == ("hashedrekord", "0.0.1")
    spec = p.request["spec"]
    assert spec["data"]["hash"] == {"algorithm": "sha256", "value": MESSAGE.digest.hex()}
    assert base64.b64decode(spec["signature"]["content"]) == b"s"
    pem = base64.b64decode(spec["signature"]["publicKey"]["content"])
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----\n")


def test_dsse_v001_request() -> None:
    p = propose(ENVELOPE, 1)
    assert (p.kind, p.version) == ("dsse", "0.0.1")
    content = p.request["spec"]["proposedContent"]
    env = json.loads(content["envelope"])
    assert env["payloadType"] == "application/x-test"
    assert base64.b64decode(env["payload"]) == ENVELOPE.payload
    assert env["signatures"] == [{"sig": base64.b64encode(b"d").decode()}]
    assert len(content["verifiers"]) == 1


def test_hashedrekord_v002_request() -> None:
    p = propose(MESSAGE, 2)
    assert (p.kind, p.version) == ("hashedrekord", "0.0.2")
    spec = p.request["hashedRekordRequestV002"]
    assert base64.b64decode(spec["digest"]) == MESSAGE.digest
    verifier = spec["signature"]["verifier"]
    assert verifier["keyDetails"] == "PKIX_ECDSA_P256_SHA_256"
    assert base64.b64decode(verifier["x509Certificate"]["rawBytes"]) == CERT


@pytest.mark.parametrize(
    ("key", "hash_name"), [(P256, "sha256"), (P384, "sha384")], ids=["p256", "p384"]
)
def test_dsse_v002_is_hashedrekord_over_pae(key: ec.EllipticCurvePublicKey, hash_name: str) -> None:
    p = propose_entry(ENVELOPE, certificate=CERT, key=key, rekor_version=2)
    spec = p.request["hashedRekordRequestV002"]
    assert base64.b64decode(spec["digest"]) == hashlib.new(hash_name, ENVELOPE.pae()).digest()
    assert p.envelope == ENVELOPE
    assert p.message is None


def test_key_details() -> None:
    assert key_details(P384) == "PKIX_ECDSA_P384_SHA_384"
    assert key_details(ed25519.Ed25519PrivateKey.generate().public_key()) == "PKIX_ED25519"


@pytest.mark.parametrize("version", [0, 3])
def test_unknown_rekor_version(version: int) -> None:
    with pytest.raises(ValueError, match="Rekor API version"):
        propose(MESSAGE, version)


def test_envelope_needs_one_signature() -> None:
    with pytest.raises(ValueError, match="exactly one signature"):
        propose(Envelope(payload=b"x", payload_type="t"), 1)


# --- log responses and checks -----------------------------------------------


@pytest.mark.parametrize("content", [MESSAGE, ENVELOPE], ids=["message", "dsse"])
def test_rekor_v1_entry_checks(content: SignedMessage | Envelope) -> None:
    logs = FakeLogs()
    p = propose(content, 1)
    entry = parse_rekor_v1_entry(logs.respond_v1(p))
    assert entry.inclusion_promise is not None
    assert check_log_entry(entry, p, trust=logs.trust(), base_url=V1_URL, now=NOW) is entry


@pytest.mark.parametrize("content", [MESSAGE, ENVELOPE], ids=["message", "dsse"])
def test_rekor_v2_entry_checks(content: SignedMessage | Envelope) -> None:
    logs = FakeLogs()
    p = propose(content, 2)
    entry = parse_rekor_v2_entry(logs.respond_v2(p))
    assert entry.integrated_time == 0
    check_log_entry(entry, p, trust=logs.trust(), base_url=V2_URL + "/", now=NOW)


def _other_body(p: ProposedEntry) -> bytes:
    other = propose(SignedMessage(MESSAGE.digest, "SHA2_256", b"other"), p.rekor_version)
    return FakeLogs.body_v1(other) if p.rekor_version == 1 else FakeLogs.body_v2(other)


ADVERSARIAL_V1: list[tuple[str, dict[str, Any], str]] = [
    ("wrong proof", {"bad_proof": True}, "inclusion proof"),
    (
        "foreign checkpoint",
        {"checkpoint_key": ec.generate_private_key(ec.SECP256R1())},
        "checkpoint",
    ),
    ("foreign SET", {"set_key": ec.generate_private_key(ec.SECP256R1())}, "signed entry timestamp"),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "match"), ADVERSARIAL_V1, ids=[c[0] for c in ADVERSARIAL_V1]
)
def test_rekor_v1_lies_are_caught(name: str, kwargs: dict[str, Any], match: str) -> None:
    logs = FakeLogs()
    p = propose(MESSAGE, 1)
    entry = parse_rekor_v1_entry(logs.respond_v1(p, **kwargs))
    with pytest.raises(TransparencyLogError, match=match):
        check_log_entry(entry, p, trust=logs.trust(), base_url=V1_URL, now=NOW)


@pytest.mark.parametrize(
    ("integrated_time", "match"),
    [
        (int((NOW + timedelta(hours=1)).timestamp()), "in the future"),
        (253402300800, "in the future"),  # 10000-01-01: no datetime holds it
        (2**63 - 1, "above 2\\*\\*53"),  # refused while reading the answer
        (-(2**63), "negative"),  # refused while reading the answer
        (0, "without an integrated time"),
    ],
)
def test_rekor_v1_integrated_time_out_of_range_is_caught(integrated_time: int, match: str) -> None:
    logs = FakeLogs()
    logs.integrated_time = integrated_time
    p = propose(MESSAGE, 1)

    def read_and_check() -> None:
        entry = parse_rekor_v1_entry(logs.respond_v1(p))
        check_log_entry(entry, p, trust=logs.trust(), base_url=V1_URL, now=NOW)

    with pytest.raises(TransparencyLogError, match=match):
        read_and_check()


@pytest.mark.parametrize("version", [1, 2])
def test_mismatched_body_is_caught(version: int) -> None:
    logs = FakeLogs()
    p = propose(MESSAGE, version)
    if version == 1:
        entry = parse_rekor_v1_entry(logs.respond_v1(p, body=_other_body(p)))
    else:
        entry = parse_rekor_v2_entry(logs.respond_v2(p, body=_other_body(p)))
    url = V1_URL if version == 1 else V2_URL
    with pytest.raises(TransparencyLogError, match="signature differs"):
        check_log_entry(entry, p, trust=logs.trust(), base_url=url, now=NOW)


def test_entry_from_another_log_is_caught() -> None:
    logs = FakeLogs()
    p = propose(MESSAGE, 1)
    entry = parse_rekor_v1_entry(logs.respond_v1(p))
    with pytest.raises(TransparencyLogError, match="submitted to"):
        check_log_entry(entry, p, trust=logs.trust(), base_url=V2_URL, now=NOW)


def test_kind_mismatch_is_caught() -> None:
    logs = FakeLogs()
    p = propose(MESSAGE, 1)
    entry = parse_rekor_v1_entry(logs.respond_v1(p))
    with pytest.raises(TransparencyLogError, match="was submitted"):
        check_log_entry(entry, propose(ENVELOPE, 1), trust=logs.trust(), base_url=V1_URL, now=NOW)


def test_integrated_time_in_the_future_is_caught() -> None:
    logs = FakeLogs()
    p = propose(MESSAGE, 1)
    entry = parse_rekor_v1_entry(logs.respond_v1(p))
    with pytest.raises(TransparencyLogError, match="future"):
        check_log_entry(entry, p, trust=logs.trust(), base_url=V1_URL, now=NOW - timedelta(hours=1))


MALFORMED_V1: list[object] = [
    [],
    {},
    {"a": {}, "b": {}},
    {"a": "x"},
    {"a": {"body": "!!"}},
    {"a": {"body": base64.b64encode(b"[]").decode()}},
]


@pytest.mark.parametrize("response", MALFORMED_V1)
def test_malformed_v1_response_is_a_service_error(response: object) -> None:
    with pytest.raises(ServiceError, match="unusable entry"):
        parse_rekor_v1_entry(response)


def test_malformed_v1_fields() -> None:
    logs = FakeLogs()
    good = logs.respond_v1(propose(MESSAGE, 1))
    (raw,) = good.values()
    for path, value in [
        (("logID",), "zz"),
        (("logIndex",), -1),
        (("integratedTime",), "1"),
        (("verification", "inclusionProof", "hashes"), "00"),
        (("verification", "inclusionProof", "checkpoint"), 5),
        (("verification", "signedEntryTimestamp"), "%%"),
    ]:
        broken = json.loads(json.dumps(raw))
        node = broken
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        with pytest.raises(ServiceError):
            parse_rekor_v1_entry({"x": broken})


@pytest.mark.parametrize(
    "response", [[], {"logIndex": "x"}, {"logIndex": "1"}], ids=["list", "index", "partial"]
)
def test_malformed_v2_response_is_a_service_error(response: object) -> None:
    with pytest.raises(ServiceError, match="unusable entry"):
        parse_rekor_v2_entry(response)


# --- bundles and statements -------------------------------------------------


@pytest.mark.parametrize("content", [MESSAGE, ENVELOPE], ids=["message", "dsse"])
def test_assemble_bundle(content: SignedMessage | Envelope) -> None:
    logs = FakeLogs()
    p = propose(content, 1)
    entry = parse_rekor_v1_entry(logs.respond_v1(p))
    bundle = assemble_bundle(content, certificate=CERT, entries=[entry], timestamps=[b"tsr"])
    assert bundle.media_type == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle.material.certificate is not None
    assert bundle.material.x509_certificate_chain is None
    assert bundle.material.timestamps == (b"tsr",)
    again = Bundle.from_json(bundle.to_json())
    assert again == bundle
    if isinstance(content, Envelope):
        assert bundle.dsse_envelope == content
    else:
        assert bundle.message_signature is not None
        assert bundle.message_signature.message_digest is not None
        assert bundle.message_signature.message_digest.digest == MESSAGE.digest


def test_assemble_without_timestamps() -> None:
    logs = FakeLogs()
    p = propose(MESSAGE, 1)
    entry = parse_rekor_v1_entry(logs.respond_v1(p))
    bundle = assemble_bundle(MESSAGE, certificate=CERT, entries=[entry])
    assert bundle.material.timestamp_verification_data is None
    assert "timestampVerificationData" not in bundle.to_dict()["verificationMaterial"]


def test_in_toto_statement() -> None:
    raw = in_toto_statement(
        [("a.txt", {"sha256": "00" * 32})], "https://slsa.dev/provenance/v1", {"k": [1]}
    )
    obj = json.loads(raw)
    assert obj == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "a.txt", "digest": {"sha256": "00" * 32}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"k": [1]},
    }


@pytest.mark.parametrize(
    ("subjects", "ptype", "predicate", "match"),
    [
        ([], "t", None, "subject"),
        ([("a", {})], "t", None, "digest"),
        ([("a", {"sha256": "00"})], "", None, "predicate type"),
        ([("a", {"sha256": "00"})], "t", {"x": object()}, "not JSON"),
    ],
)
def test_in_toto_statement_errors(
    subjects: list[tuple[str, dict[str, str]]], ptype: str, predicate: Any, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        in_toto_statement(subjects, ptype, predicate)


def test_checkpoint_checks_can_be_memoised() -> None:
    logs = FakeLogs()
    trust = logs.trust()
    p = propose(MESSAGE, 2)
    entry = parse_rekor_v2_entry(logs.respond_v2(p))
    cache = VerifyCache()
    for _ in range(3):
        check_log_entry(entry, p, trust=trust, base_url=V2_URL, now=NOW, memo=cache.get)
    assert (cache.misses, cache.hits) == (1, 2)
