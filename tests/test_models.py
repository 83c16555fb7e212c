"""The wire format: round trips (hypothesis), leniency where producers need it,
strictness everywhere else, and typed errors with paths for malformed input."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sigstore_async import Bundle, InvalidBundle, InvalidTrustRoot, TrustedRoot, TrustMaterial
from sigstore_async.models import (
    Checkpoint,
    InclusionPromise,
    InclusionProof,
    KindVersion,
    LogId,
    MessageSignature,
    TimestampVerificationData,
    TransparencyLogEntry,
    VerificationMaterial,
    X509Certificate,
    _converter,
)
from sigstore_async.models._converter import (
    WireFormatError,
    _decode_base64_lenient,
    decode_base64,
    format_rfc3339,
    parse_rfc3339,
    structure,
    unstructure,
)
from sigstore_async.models._direct import GiveUp
from sigstore_async.models.common import HashOutput, RFC3161SignedTimestamp
from sigstore_async.trust import embedded_trusted_root
from tests._json import inner_paths, json_values
from tests._vectors import cases

hash32 = st.binary(min_size=32, max_size=32)
int64 = st.integers(min_value=0, max_value=2**63 - 1)

entries = st.builds(
    TransparencyLogEntry,
    log_index=int64,
    log_id=st.builds(LogId, key_id=hash32),
    kind_version=st.builds(KindVersion, kind=st.just("hashedrekord"), version=st.just("0.0.1")),
    integrated_time=int64,
    inclusion_promise=st.none()
    | st.builds(InclusionPromise, signed_entry_timestamp=st.binary(min_size=1)),
    inclusion_proof=st.builds(
        InclusionProof,
        log_index=int64,
        root_hash=hash32,
        tree_size=int64,
        hashes=st.lists(hash32, max_size=5).map(tuple),
        checkpoint=st.builds(Checkpoint, envelope=st.text(min_size=1, max_size=40)),
    ),
    canonicalized_body=st.binary(min_size=1, max_size=64),
)

bundles = st.builds(
    Bundle,
    media_type=st.sampled_from(
        [
            "application/vnd.dev.sigstore.bundle.v0.3+json",
            "application/vnd.dev.sigstore.bundle+json;version=0.3",
        ]
    ),
    verification_material=st.builds(
        VerificationMaterial,
        certificate=st.builds(X509Certificate, raw_bytes=st.binary(min_size=1, max_size=64)),
        tlog_entries=st.lists(entries, max_size=3).map(tuple),
        timestamp_verification_data=st.none()
        | st.builds(
            TimestampVerificationData,
            rfc3161_timestamps=st.lists(
                st.builds(RFC3161SignedTimestamp, signed_timestamp=st.binary(min_size=1)),
                max_size=2,
            ).map(tuple),
        ),
    ),
    message_signature=st.builds(
        MessageSignature,
        message_digest=st.builds(HashOutput, algorithm=st.just("SHA2_256"), digest=hash32),
        signature=st.binary(min_size=1, max_size=72),
    ),
)


@given(bundles)
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_bundle_round_trip(bundle: Bundle) -> None:
    text = bundle.to_json()
    again = Bundle.from_json(text)
    assert again == bundle
    assert again.to_json() == text


@given(bundles)
@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
def test_bundle_protobuf_round_trip(bundle: Bundle) -> None:
    assert Bundle.from_protobuf(bundle.to_protobuf()) == bundle


@given(st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=st.just(UTC)))
@example(datetime(999, 6, 1, tzinfo=UTC))  # strftime's %Y writes "999", no Timestamp
def test_rfc3339_round_trip(when: datetime) -> None:
    # The whole range of protobuf's Timestamp: years 1 to 9999.
    assert parse_rfc3339(format_rfc3339(when)) == when


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-01-01T00:00:00Z", datetime(2023, 1, 1, tzinfo=UTC)),
        ("2023-01-01T00:00:00.5Z", datetime(2023, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2023-01-01T00:00:00.123456789Z", datetime(2023, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2023-01-01T02:00:00+02:00", datetime(2023, 1, 1, tzinfo=UTC)),
        ("2022-12-31T23:59:59.999Z", datetime(2022, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    ],
)
def test_rfc3339_any_fraction_digits(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2023-01-01",
        "2023-13-01T00:00:00Z",
        "2023-01-01T00:00:00",
        "x",
        # In range as written, out of it in UTC (datetime arithmetic overflows).
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-00:01",
        # Digits of other scripts: "\\d" matches them and int() reads them.
        "\u0662\u0660\u0662\u0663-01-01T00:00:00Z",
        "2023-01-01T00:00:00.\uff15Z",
    ],
)
def test_rfc3339_rejects(text: str) -> None:
    with pytest.raises(WireFormatError):
        parse_rfc3339(text)


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("AQID", b"\x01\x02\x03"),
        ("AQ==", b"\x01"),
        ("AQ", b"\x01"),  # padding optional
        ("-_8=", b"\xfb\xff"),  # URL-safe alphabet
        ("+/8=", b"\xfb\xff"),
        ("AQ\nID", b"\x01\x02\x03"),  # line breaks tolerated, as protobuf runtimes do
    ],
)
def test_base64_forms(text: str, raw: bytes) -> None:
    assert decode_base64(text) == raw


@pytest.mark.parametrize("text", ["!!!!", "A", "AQID====", "AQ=D", "AQ I"])
def test_base64_rejects(text: str) -> None:
    with pytest.raises(WireFormatError):
        decode_base64(text)


@given(
    st.one_of(
        st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
        st.text(alphabet="AQIDab+/-_=\n\r !", max_size=16),
        st.text(max_size=8),
    )
)
def test_base64_fast_path_agrees_with_lenient(text: str) -> None:
    # decode_base64 tries one strict decode first: it must never accept what the
    # lenient reader rejects, nor read different bytes.
    try:
        lenient: bytes | None = _decode_base64_lenient(text)
    except WireFormatError:
        lenient = None
    try:
        fast: bytes | None = decode_base64(text)
    except WireFormatError:
        fast = None
    assert fast == lenient


def test_int64_as_string_or_number() -> None:
    e1 = structure({"logIndex": "5", "integratedTime": 7}, TransparencyLogEntry)
    assert (e1.log_index, e1.integrated_time) == (5, 7)
    assert unstructure(e1) == {"logIndex": "5", "integratedTime": "7"}
    # int64 bounds, as a string and as a number (protobuf accepts both).
    for edge in (2**63 - 1, -(2**63)):
        assert structure({"logIndex": str(edge)}, TransparencyLogEntry).log_index == edge
        assert structure({"logIndex": edge}, TransparencyLogEntry).log_index == edge
    for bad in (True, "5.5", "0x10", "-", 1.5, str(2**64), [1], str(2**63), 2**63, -(2**63) - 1):
        with pytest.raises(WireFormatError):
            structure({"logIndex": bad}, TransparencyLogEntry)


def test_snake_case_names_and_nulls_are_read() -> None:
    e = structure(
        {"log_index": "3", "kind_version": {"kind": "k", "version": "v"}, "inclusionProof": None},
        TransparencyLogEntry,
    )
    assert e.log_index == 3
    assert e.kind_version == KindVersion("k", "v")
    assert e.inclusion_proof is None


def test_unknown_fields_ignored_and_not_written() -> None:
    e = structure({"logIndex": "3", "futureField": {"x": 1}}, TransparencyLogEntry)
    assert unstructure(e) == {"logIndex": "3"}


def test_strict_scalar_types() -> None:
    with pytest.raises(WireFormatError) as info:
        structure({"kindVersion": {"kind": 5}}, TransparencyLogEntry)
    assert info.value.path == "$.kindVersion.kind"


def _first_happy() -> dict[str, Any]:
    for c in cases():
        if c.name == "happy-path-v0.3":
            data: dict[str, Any] = json.loads(c.bundle.read_text())
            return data
    pytest.skip("vectors absent")


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d.pop("verificationMaterial"), "$.verificationMaterial"),
        (lambda d: d.update(mediaType="application/json"), "$.mediaType"),
        (
            lambda d: d["verificationMaterial"].update(tlogEntries="x"),
            "$.verificationMaterial.tlogEntries",
        ),
        (
            lambda d: d["verificationMaterial"]["tlogEntries"][0].update(logIndex="-1"),
            "$.verificationMaterial.tlogEntries[0].logIndex",
        ),
        (
            lambda d: d["verificationMaterial"]["tlogEntries"][0]["inclusionProof"].update(
                rootHash="AAAA"
            ),
            "$.verificationMaterial.tlogEntries[0].inclusionProof.rootHash",
        ),
        (
            lambda d: d["verificationMaterial"]["tlogEntries"][0]["logId"].update(keyId=5),
            "$.verificationMaterial.tlogEntries[0].logId.keyId",
        ),
        (
            lambda d: d["messageSignature"].update(signature="***"),
            "$.messageSignature.signature",
        ),
        (lambda d: d.update(dsseEnvelope={"payloadType": "x"}), "$"),
        # An enum name the schema does not have (sigstore-python refuses it too),
        # and the zero value spelled out, which means "not set".
        (
            lambda d: d["messageSignature"]["messageDigest"].update(algorithm="SH-2_256"),
            "$.messageSignature.messageDigest.algorithm",
        ),
        (
            lambda d: d["messageSignature"]["messageDigest"].update(
                algorithm="HASH_ALGORITHM_UNSPECIFIED"
            ),
            "$.messageSignature.messageDigest",
        ),
        (
            lambda d: d["verificationMaterial"].update(publicKey={"hint": "k"}),
            "$.verificationMaterial",
        ),
        (
            lambda d: d["verificationMaterial"].update(
                tlogEntries=d["verificationMaterial"]["tlogEntries"] * 33
            ),
            "$.verificationMaterial.tlogEntries",
        ),
    ],
)
def test_malformed_bundles_name_the_field(edit: Any, path: str, vectors: object) -> None:
    data = copy.deepcopy(_first_happy())
    edit(data)
    with pytest.raises(InvalidBundle) as info:
        Bundle.from_dict(data)
    assert info.value.path == path, str(info.value)


any_json = json_values()


@given(st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_replaced_value_is_parsed_or_rejected_typed(data: st.DataObject) -> None:
    base = _first_happy()
    doc = copy.deepcopy(base)
    path = data.draw(st.sampled_from(inner_paths(doc)))
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = data.draw(any_json)
    try:
        b = Bundle.from_dict(doc)
    except InvalidBundle:
        return
    assert Bundle.from_dict(b.to_dict()) == b
    # What is read has a binary encoding too, and it reads back the same.
    assert Bundle.from_protobuf(b.to_protobuf()) == b


def test_to_protobuf_of_a_hand_built_bundle_raises_typed(vectors: object) -> None:
    bundle = Bundle.from_dict(_first_happy())
    assert bundle.message_signature is not None
    odd = attrs.evolve(
        bundle,
        message_signature=attrs.evolve(
            bundle.message_signature, message_digest=HashOutput("SHA2-256", b"\x00" * 32)
        ),
    )
    with pytest.raises(InvalidBundle) as info:
        odd.to_protobuf()
    assert info.value.path == "$"
    assert "SHA2-256" in str(info.value)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(InvalidBundle):
        Bundle.from_json(data)
    with contextlib.suppress(InvalidBundle):
        Bundle.from_protobuf(data)


def test_trusted_root_errors_are_typed() -> None:
    with pytest.raises(InvalidTrustRoot) as info:
        TrustedRoot.from_json(
            b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",'
            b' "tlogs": [{"baseUrl": 1}]}'
        )
    assert info.value.path == "$.tlogs[0].baseUrl"
    with pytest.raises(InvalidTrustRoot):
        TrustedRoot.from_json(b"[]")
    with pytest.raises(InvalidTrustRoot):
        TrustedRoot.from_json(b"{")


@pytest.mark.parametrize("field", ["tlogs", "ctlogs"])
def test_trust_material_refuses_a_log_url_that_does_not_parse(field: str) -> None:
    # A string, so the model takes it; urlsplit raises ValueError for it.
    doc = json.loads(embedded_trusted_root().to_json())
    doc[field][0]["baseUrl"] = "https://[rekor.sigstore.dev"
    with pytest.raises(InvalidTrustRoot) as info:
        TrustMaterial.from_json(json.dumps(doc))
    assert info.value.path == f"$.{field}[0].baseUrl"


def test_every_vector_trust_root_round_trips(vectors: object) -> None:
    seen = 0
    for c in cases():
        if c.trusted_root is None:
            continue
        root = TrustedRoot.from_json(c.trusted_root.read_bytes())
        assert TrustedRoot.from_dict(root.to_dict()) == root
        seen += 1
    assert seen > 30


# --- the direct reader and the converter agree -------------------------------------------


def _both_readers(doc: object, cls: type[Any]) -> tuple[object, object]:
    """What the direct reader and the converter each make of ``doc`` (or the exception type)."""
    direct = _converter._direct(cls)
    assert direct is not None, f"{cls.__name__} has no direct reader"
    try:
        fast: object = direct(doc)
    except Exception as e:
        fast = type(e)
    try:
        slow: object = _converter._structure_slow(doc, cls)
    except WireFormatError:
        slow = WireFormatError
    return fast, slow


@attrs.frozen
class _Node:
    name: str
    child: _Node | None = None


@attrs.frozen
class _Loop:
    """Not for the direct reader (a validated field), and in a cycle with _Peer."""

    peer: _Peer | None = None
    checked: str = attrs.field(default="", validator=attrs.validators.instance_of(str))


@attrs.frozen
class _Peer:
    name: str = ""
    loop: _Loop | None = None


def test_direct_reader_of_a_recursive_model() -> None:
    assert _converter._direct(_Node) is not None
    doc = {"name": "a", "child": {"name": "b", "child": {"name": "c", "child": None}}}
    assert structure(doc, _Node) == _Node("a", _Node("b", _Node("c")))


def test_a_reader_its_class_left_unfinished_gives_way_to_the_converter() -> None:
    # Building _Loop's reader builds _Peer's, which points back at _Loop's; then
    # _Loop turns out unreadable. _Peer's reader exists, but must not read a
    # _Loop through the unfinished table (it would drop "checked").
    assert _converter._direct(_Loop) is None
    peer = _converter._direct(_Peer)
    assert peer is not None
    doc = {"name": "p", "loop": {"checked": "yes", "peer": {"name": "q"}}}
    with pytest.raises(GiveUp):
        peer(doc)
    assert structure(doc, _Peer) == _Peer("p", _Loop(peer=_Peer("q"), checked="yes"))
    assert peer({"name": "p"}) == _Peer("p")


@pytest.mark.vectors
def test_direct_reader_matches_converter_on_every_vector() -> None:
    all_cases = cases()
    if not all_cases:
        pytest.skip("vectors absent")
    read = 0
    for c in all_cases:
        try:
            doc = json.loads(c.bundle.read_bytes())
        except ValueError:
            continue
        fast, slow = _both_readers(doc, Bundle)
        if not isinstance(fast, type):
            assert fast == slow, c.name
            read += 1
        if c.trusted_root is not None:
            fast, slow = _both_readers(json.loads(c.trusted_root.read_bytes()), TrustedRoot)
            assert fast == slow, c.name
    assert read >= 60  # the direct reader takes the well-formed bundles


@given(st.data())
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_direct_reader_never_disagrees_with_converter(data: st.DataObject) -> None:
    doc = copy.deepcopy(_first_happy())
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(inner_paths(doc)))
        node = doc
        for p in path[:-1]:
            node = node[p]
        if data.draw(st.booleans()):
            node[path[-1]] = data.draw(any_json)
        elif isinstance(path[-1], str):  # the same value under its snake_case name
            value = node.pop(path[-1])
            node["".join("_" + ch.lower() if ch.isupper() else ch for ch in path[-1])] = value
    fast, slow = _both_readers(doc, Bundle)
    if not isinstance(fast, type):  # the direct reader answered: the converter agrees
        assert fast == slow
