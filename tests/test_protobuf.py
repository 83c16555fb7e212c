"""Binary protobuf encoding of bundles, trusted roots and signing configs.

Round trips over the sigstore-conformance bundles and over generated bundles, errors on
malformed input, and a cross-check of our descriptor table and of our bytes against
sigstore-protobuf-specs (an independent schema, betterproto-based) when it is installed.
"""

from __future__ import annotations

import base64
import binascii
import json
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigstore_async.models import _protobuf as pb
from tests.conftest import REPO, vectors_root

# --------------------------------------------------------------------------------------
# Inputs.

_VROOT = vectors_root()
_NO_VECTORS = pytest.param(
    None,
    marks=pytest.mark.skip(
        reason="sigstore-conformance vectors not found: set SIGSTORE_ASYNC_VECTORS "
        "or place them in ../shared/vectors"
    ),
    id="no-vectors",
)


def _params(paths: list[Path]) -> list[Any]:
    return [pytest.param(p, id=p.parent.name) for p in paths] or [_NO_VECTORS]


BUNDLES = _params(
    sorted(_VROOT.glob("bundle-verify/*/bundle.sigstore.json")) if _VROOT is not None else []
)
VECTOR_TRUSTED_ROOTS = _params(
    sorted(_VROOT.glob("bundle-verify/*/trusted_root.json")) if _VROOT is not None else []
)
EMBEDDED = REPO / "sigstore_async" / "trust" / "_embedded"
EMBEDDED_TRUSTED_ROOTS = sorted(EMBEDDED.glob("*/trusted_root.json"))
EMBEDDED_SIGNING_CONFIGS = sorted(EMBEDDED.glob("*/signing_config.json"))


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except ValueError:
        pytest.skip(f"{path.parent.name}: not valid JSON (a case for the JSON parser)")
    assert isinstance(data, dict)
    return data


# --------------------------------------------------------------------------------------
# "No field lost": a schema-free comparison of a protobuf-JSON document with its
# canonical form. The canonical form may omit fields that hold a default (a scalar
# default or an empty list, never a message: a set message stays as ``{}``), write 64-bit
# integers as strings, re-encode base64 and re-format timestamps; nothing else.


# An enum's default is its value numbered 0, spelled by name in JSON.
_ENUM_DEFAULTS = {
    value.name
    for file_spec in pb._FILES
    for enum in file_spec.enums
    for value in pb._POOL.FindEnumTypeByName(f"{file_spec.package}.{enum.name}").values
    if value.number == 0
}


def _is_default(value: Any) -> bool:
    return value is None or value in ("", 0, "0", False) or value == [] or value in _ENUM_DEFAULTS


def _same_string(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return base64.b64decode("".join(a.split()), validate=True) == base64.b64decode(
            b, validate=True
        )
    except (binascii.Error, ValueError):
        pass
    try:
        return datetime.fromisoformat(a) == datetime.fromisoformat(b)
    except ValueError:
        return False


def assert_same_message(original: Any, canonical: Any, path: str = "$") -> None:
    if isinstance(original, dict):
        assert isinstance(canonical, dict), path
        for key in original.keys() | canonical.keys():
            if key not in canonical:
                assert _is_default(original[key]), f"{path}.{key} was lost"
            elif key not in original:
                pytest.fail(f"{path}.{key} appeared from nowhere")
            else:
                assert_same_message(original[key], canonical[key], f"{path}.{key}")
    elif isinstance(original, list):
        assert isinstance(canonical, list), path
        assert len(original) == len(canonical), path
        for i, (a, b) in enumerate(zip(original, canonical, strict=True)):
            assert_same_message(a, b, f"{path}[{i}]")
    elif isinstance(original, int) and not isinstance(original, bool):
        assert canonical == str(original) or canonical == original, path
    elif isinstance(original, str):
        assert isinstance(canonical, str), path
        assert _same_string(original, canonical), f"{path}: {original!r} != {canonical!r}"
    else:
        assert original == canonical, path


# --------------------------------------------------------------------------------------
# The conformance vectors.


# Cases whose bundle is valid JSON but not valid protobuf-JSON (all must fail verification).
UNENCODABLE = {"bundle-invalid-base64-signature_fail"}


def _encode_or_expect_failure(path: Path, data: dict[str, Any]) -> bytes:
    if path.parent.name in UNENCODABLE:
        with pytest.raises(ValueError, match="invalid Bundle protobuf-JSON"):
            pb.bundle_json_to_binary(data)
        pytest.skip("not valid protobuf-JSON, and rejected as such")
    return pb.bundle_json_to_binary(data)


@pytest.mark.vectors
@pytest.mark.parametrize("path", BUNDLES)
def test_bundle_json_binary_json_loses_nothing(path: Path) -> None:
    original = _load_json(path)
    binary = _encode_or_expect_failure(path, original)
    decoded = pb.bundle_binary_to_json(binary)
    assert_same_message(original, decoded)
    assert pb.normalize_bundle_json(original) == decoded
    assert pb.normalize_bundle_json(decoded) == decoded


@pytest.mark.vectors
@pytest.mark.parametrize("path", BUNDLES)
def test_bundle_binary_json_binary_is_byte_identical(path: Path) -> None:
    binary = _encode_or_expect_failure(path, _load_json(path))
    assert pb.bundle_json_to_binary(pb.bundle_binary_to_json(binary)) == binary


def test_all_but_the_expected_vectors_encode() -> None:
    if _VROOT is None:
        pytest.skip("sigstore-conformance vectors not found")
    failures = []
    for path in sorted(_VROOT.glob("bundle-verify/*/bundle.sigstore.json")):
        try:
            pb.bundle_json_to_binary(json.loads(path.read_bytes()))
        except ValueError:
            failures.append(path.parent.name)
    assert set(failures) == UNENCODABLE | {"bundle-malformed-json_fail"}
    assert all(name.endswith("_fail") for name in failures)


@pytest.mark.parametrize(
    "path",
    [
        *VECTOR_TRUSTED_ROOTS,
        *[pytest.param(p, id=f"embedded-{p.parent.name}") for p in EMBEDDED_TRUSTED_ROOTS],
    ],
)
def test_trusted_root_round_trips(path: Path) -> None:
    original = _load_json(path)
    binary = pb.trusted_root_json_to_binary(original)
    decoded = pb.trusted_root_binary_to_json(binary)
    assert_same_message(original, decoded)
    assert pb.trusted_root_json_to_binary(decoded) == binary


@pytest.mark.parametrize("path", EMBEDDED_SIGNING_CONFIGS, ids=lambda p: p.parent.name)
def test_signing_config_round_trips(path: Path) -> None:
    original = _load_json(path)
    binary = pb.signing_config_json_to_binary(original)
    decoded = pb.signing_config_binary_to_json(binary)
    assert_same_message(original, decoded)
    assert pb.signing_config_json_to_binary(decoded) == binary


# --------------------------------------------------------------------------------------
# Generated bundles.

_b64 = st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
_int64 = st.integers(-(2**63), 2**63 - 1)
_int64_json = st.one_of(_int64, _int64.map(str))
_tlog_entry = st.fixed_dictionaries(
    {
        "logIndex": _int64_json,
        "logId": st.fixed_dictionaries({"keyId": _b64}),
        "kindVersion": st.fixed_dictionaries({"kind": st.text(), "version": st.text()}),
        "canonicalizedBody": _b64,
    },
    optional={
        "integratedTime": _int64_json,
        "inclusionPromise": st.fixed_dictionaries({"signedEntryTimestamp": _b64}),
        "inclusionProof": st.fixed_dictionaries(
            {
                "logIndex": _int64_json,
                "rootHash": _b64,
                "treeSize": _int64_json,
                "hashes": st.lists(_b64, max_size=4),
                "checkpoint": st.fixed_dictionaries({"envelope": st.text()}),
            }
        ),
    },
)
_material_content = st.one_of(
    st.fixed_dictionaries({"publicKey": st.fixed_dictionaries({"hint": st.text()})}),
    st.fixed_dictionaries(
        {
            "x509CertificateChain": st.fixed_dictionaries(
                {"certificates": st.lists(st.fixed_dictionaries({"rawBytes": _b64}), max_size=3)}
            )
        }
    ),
    st.fixed_dictionaries({"certificate": st.fixed_dictionaries({"rawBytes": _b64})}),
)
_content = st.one_of(
    st.fixed_dictionaries(
        {
            "messageSignature": st.fixed_dictionaries(
                {
                    "messageDigest": st.fixed_dictionaries(
                        {
                            "algorithm": st.sampled_from(
                                ["HASH_ALGORITHM_UNSPECIFIED", "SHA2_256", "SHA2_384", "SHA3_256"]
                            ),
                            "digest": _b64,
                        }
                    ),
                    "signature": _b64,
                }
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "dsseEnvelope": st.fixed_dictionaries(
                {
                    "payload": _b64,
                    "payloadType": st.text(),
                    "signatures": st.lists(
                        st.fixed_dictionaries({"sig": _b64}, optional={"keyid": st.text()}),
                        max_size=2,
                    ),
                }
            )
        }
    ),
)


@st.composite
def _bundles(draw: st.DrawFn) -> dict[str, Any]:
    material: dict[str, Any] = dict(draw(_material_content))
    material["tlogEntries"] = draw(st.lists(_tlog_entry, max_size=3))
    if draw(st.booleans()):
        material["timestampVerificationData"] = {
            "rfc3161Timestamps": draw(st.lists(st.fixed_dictionaries({"signedTimestamp": _b64})))
        }
    bundle: dict[str, Any] = {"mediaType": draw(st.text()), "verificationMaterial": material}
    bundle.update(draw(_content))
    return bundle


@settings(max_examples=200, deadline=None)
@given(_bundles())
def test_generated_bundles_round_trip(bundle: dict[str, Any]) -> None:
    binary = pb.bundle_json_to_binary(bundle)
    decoded = pb.bundle_binary_to_json(binary)
    assert_same_message(bundle, decoded)
    assert pb.bundle_json_to_binary(decoded) == binary


# --------------------------------------------------------------------------------------
# Malformed input.

_SIG = {"messageDigest": {"algorithm": "SHA2_256", "digest": "AAAA"}, "signature": "AAAA"}
_MINIMAL = {
    "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    "verificationMaterial": {"publicKey": {"hint": "k"}},
    "messageSignature": _SIG,
}

BAD_JSON = [
    ("not an object", [1, 2], "expected a JSON object"),
    ("unknown field", {**_MINIMAL, "bogus": 1}, "bogus"),
    ("bad base64", {**_MINIMAL, "messageSignature": {**_SIG, "signature": "A"}}, "signature"),
    (
        "bad enum name",
        {**_MINIMAL, "messageSignature": {**_SIG, "messageDigest": {"algorithm": "SHA2_999"}}},
        "SHA2_999",
    ),
    ("string as int", {**_MINIMAL, "mediaType": 5}, "mediaType"),
    (
        "int64 not a number",
        {**_MINIMAL, "verificationMaterial": {"tlogEntries": [{"logIndex": "x"}]}},
        "logIndex",
    ),
    (
        "int64 out of range",
        {**_MINIMAL, "verificationMaterial": {"tlogEntries": [{"logIndex": str(2**63)}]}},
        "logIndex",
    ),
    ("two oneof members", {**_MINIMAL, "dsseEnvelope": {"payload": "AAAA"}}, "content"),
    # (json_format lets an empty list or string through as an empty message.)
    ("list for a message", {**_MINIMAL, "verificationMaterial": [1]}, "verificationMaterial"),
]


@pytest.mark.parametrize(
    ("data", "needle"), [p[1:] for p in BAD_JSON], ids=[p[0] for p in BAD_JSON]
)
def test_bad_json_raises_value_error(data: Any, needle: str) -> None:
    with pytest.raises(ValueError, match="invalid Bundle") as info:
        pb.bundle_json_to_binary(data)
    assert needle in str(info.value)


def test_unknown_json_fields_can_be_ignored() -> None:
    data = {**_MINIMAL, "bogus": 1, "verificationMaterial": {"publicKey": {"hint": "k", "x": 2}}}
    binary = pb.bundle_json_to_binary(data, ignore_unknown_fields=True)
    assert pb.bundle_binary_to_json(binary) == {
        **_MINIMAL,
        "verificationMaterial": {"publicKey": {"hint": "k"}},
    }


def test_snake_case_names_and_number_ints_normalize() -> None:
    snake = {
        "media_type": "m",
        "verification_material": {"tlog_entries": [{"log_index": 7, "integrated_time": "0"}]},
        "message_signature": {"signature": base64.urlsafe_b64encode(b"\xfb\xff").decode()},
    }
    assert pb.normalize_bundle_json(snake) == {
        "mediaType": "m",
        "verificationMaterial": {"tlogEntries": [{"logIndex": "7"}]},
        "messageSignature": {"signature": "+/8="},
    }


_MINIMAL_BINARY = pb.bundle_json_to_binary(_MINIMAL)

BAD_BINARY = [
    ("not bytes", "abc", "expected bytes"),
    ("truncated varint", b"\x0a\xff", "invalid binary Bundle"),
    ("length past the end", b"\x0a\x05ab", "invalid binary Bundle"),
    ("invalid UTF-8 in a string", b"\x0a\x02\xff\xfe", "invalid binary Bundle"),
    ("unknown top-level field", _MINIMAL_BINARY + b"\xf8\x01\x01", "unknown field at Bundle"),
    # Field 1 (mediaType, a string) sent as a varint: the runtime keeps it as unknown.
    ("wrong wire type", b"\x08\x01", "field number 1"),
    (
        "unknown nested field",
        _MINIMAL_BINARY + b"\x12\x03\xb8\x06\x01",  # verificationMaterial { 103: 1 }
        "unknown field at Bundle.verificationMaterial (field number 103)",
    ),
]


@pytest.mark.parametrize(
    ("data", "needle"), [p[1:] for p in BAD_BINARY], ids=[p[0] for p in BAD_BINARY]
)
def test_bad_binary_raises_value_error(data: Any, needle: str) -> None:
    with pytest.raises(ValueError, match="invalid binary Bundle") as info:
        pb.bundle_binary_to_json(data)
    assert needle in str(info.value)


def test_unknown_binary_fields_can_be_ignored() -> None:
    data = _MINIMAL_BINARY + b"\xf8\x01\x01"
    assert pb.bundle_binary_to_json(data, ignore_unknown_fields=True) == _MINIMAL


def test_empty_input_is_an_empty_bundle() -> None:
    assert pb.bundle_binary_to_json(b"") == {}
    assert pb.bundle_json_to_binary({}) == b""


def _len_delimited(number: int, payload: bytes) -> bytes:
    # One-byte tag and length are enough here.
    assert number < 16
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


# TrustedRoot { certificate_authorities { valid_for { start { seconds = 2**62 } } } }
_FAR_FUTURE = _len_delimited(
    3, _len_delimited(4, _len_delimited(1, b"\x08" + bytes([0x80] * 8) + b"\x40"))
)


def test_trusted_root_errors() -> None:
    with pytest.raises(ValueError, match=r"invalid binary TrustedRoot: .*Timestamp is not valid"):
        pb.trusted_root_binary_to_json(_FAR_FUTURE)
    bad = {"certificateAuthorities": [{"validFor": {"start": "yesterday"}}]}
    with pytest.raises(ValueError, match=r"invalid TrustedRoot protobuf-JSON: .*start"):
        pb.trusted_root_json_to_binary(bad)


# --------------------------------------------------------------------------------------
# The descriptor table.


def _our_messages() -> list[Any]:
    out = []
    for file_spec in pb._FILES:
        for message in file_spec.messages:
            out.append(pb._POOL.FindMessageTypeByName(f"{file_spec.package}.{message.name}"))
    return out


def _our_enums() -> list[Any]:
    return [
        pb._POOL.FindEnumTypeByName(f"{f.package}.{e.name}") for f in pb._FILES for e in f.enums
    ]


def test_json_names_are_lower_camel_case() -> None:
    for message in _our_messages():
        for field in message.fields:
            head, *rest = field.name.split("_")
            assert field.json_name == head + "".join(p[:1].upper() + p[1:] for p in rest)


# --------------------------------------------------------------------------------------
# Cross-check against sigstore-protobuf-specs (betterproto). Its own message classes do
# not (de)serialize with the pydantic release installed here (constructing an empty
# message with a oneof fails its validator), so we compare its schema metadata with our
# descriptors, and decode our bytes with betterproto's wire parser driven by its schema.


def _specs_module(package: str) -> Any:
    return pytest.importorskip(
        "sigstore_protobuf_specs." + package, reason="sigstore-protobuf-specs is not installed"
    )


def _specs_class(full_name: str) -> Any:
    package, _, name = full_name.rpartition(".")
    module = _specs_module(package)
    # betterproto renames e.g. RFC3161SignedTimestamp to Rfc3161SignedTimestamp.
    matches = [v for k, v in vars(module).items() if k.lower() == name.lower()]
    assert len(matches) == 1, full_name
    return matches[0]


def _our_type_name(field: Any) -> str:
    from google.protobuf.descriptor import FieldDescriptor  # type: ignore[import-untyped, unused-ignore]

    names = {
        FieldDescriptor.TYPE_BYTES: "bytes",
        FieldDescriptor.TYPE_STRING: "string",
        FieldDescriptor.TYPE_INT32: "int32",
        FieldDescriptor.TYPE_INT64: "int64",
        FieldDescriptor.TYPE_UINT32: "uint32",
        FieldDescriptor.TYPE_UINT64: "uint64",
        FieldDescriptor.TYPE_BOOL: "bool",
        FieldDescriptor.TYPE_ENUM: "enum",
        FieldDescriptor.TYPE_MESSAGE: "message",
    }
    return names[field.type]


@pytest.mark.parametrize("message", _our_messages(), ids=lambda m: m.full_name)
def test_schema_matches_sigstore_protobuf_specs(message: Any) -> None:
    cls = _specs_class(message.full_name)
    meta = cls._betterproto.meta_by_field_name
    hints = cls._type_hints()
    assert sorted(meta) == sorted(f.name for f in message.fields)
    for field in message.fields:
        theirs = meta[field.name]
        where = f"{message.full_name}.{field.name}"
        assert theirs.number == field.number, where
        assert theirs.proto_type == _our_type_name(field), where
        assert (typing.get_origin(hints[field.name]) is list) == field.is_repeated, where
        oneof = field.containing_oneof
        synthetic = oneof is not None and oneof.name == "_" + field.name
        assert theirs.group == (oneof.name if oneof is not None and not synthetic else None), where
        if theirs.group is None:
            assert bool(theirs.optional) == synthetic, where
        target = cls._betterproto.cls_by_field[field.name]
        if field.message_type is not None:
            expected = field.message_type.full_name
            if expected == "google.protobuf.Timestamp":
                assert target is datetime, where
            else:
                assert target is _specs_class(expected), where
        elif field.enum_type is not None:
            assert target is _specs_class(field.enum_type.full_name), where


@pytest.mark.parametrize("enum", _our_enums(), ids=lambda e: e.full_name)
def test_enums_match_sigstore_protobuf_specs(enum: Any) -> None:
    theirs = {int(v): v.name for v in _specs_class(enum.full_name)}
    ours = {v.number: v.name for v in enum.values}
    assert sorted(theirs) == sorted(ours)
    for number, name in ours.items():
        # betterproto drops the enum-name prefix (HASH_ALGORITHM_UNSPECIFIED -> UNSPECIFIED).
        assert name == theirs[number] or name.endswith("_" + theirs[number]), name


def test_the_models_hash_algorithm_names_are_the_schemas() -> None:
    from sigstore_async.models.common import HASH_ALGORITHMS

    enum = pb._POOL.FindEnumTypeByName("dev.sigstore.common.v1.HashAlgorithm")
    assert {v.name for v in enum.values if v.number} == HASH_ALGORITHMS


@pytest.mark.parametrize(
    "package",
    [
        "dev.sigstore.common.v1",
        "dev.sigstore.rekor.v1",
        "dev.sigstore.bundle.v1",
        "dev.sigstore.trustroot.v1",
        "io.intoto",
    ],
)
def test_we_define_every_type_of_the_packages_we_use(package: str) -> None:
    module = _specs_module(package)
    betterproto = pytest.importorskip("betterproto")
    theirs = {
        name.lower()
        for name, value in vars(module).items()
        if isinstance(value, type)
        and value.__module__ == module.__name__
        and issubclass(value, betterproto.Message | betterproto.Enum)
    }
    ours = {m.name.lower() for f in pb._FILES if f.package == package for m in f.messages}
    ours |= {e.name.lower() for f in pb._FILES if f.package == package for e in f.enums}
    assert theirs == ours


def _wire_decode(cls: Any, data: bytes) -> dict[str, Any]:
    """Decode with betterproto's wire parser and sigstore-protobuf-specs' schema."""
    betterproto = pytest.importorskip("betterproto")
    meta = cls._betterproto
    hints = cls._type_hints()
    out: dict[str, Any] = {}
    for parsed in betterproto.parse_fields(data):
        name = meta.field_name_by_number[parsed.number]
        kind = meta.meta_by_field_name[name].proto_type
        target = meta.cls_by_field[name]
        value: Any
        if kind == "message":
            assert parsed.wire_type == 2, name
            if target is datetime:  # google.protobuf.Timestamp {seconds = 1; nanos = 2}
                raw = {p.number: p.value for p in betterproto.parse_fields(parsed.value)}
                value = {"seconds": raw.get(1, 0), "nanos": raw.get(2, 0)}
                value = {k: v for k, v in value.items() if v}
            else:
                value = _wire_decode(target, parsed.value)
        elif kind in ("bytes", "string"):
            assert parsed.wire_type == 2, name
            value = parsed.value.decode() if kind == "string" else parsed.value
        else:
            assert parsed.wire_type == 0, name
            value = parsed.value
            if kind == "int64" and value >= 2**63:
                value -= 2**64
        if typing.get_origin(hints[name]) is list:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def _fields_of(message: Any) -> dict[str, Any]:
    """Our runtime's view of a message, in the shape ``_wire_decode`` returns."""
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.message_type is None:
            out[field.name] = list(value) if field.is_repeated else value
        elif field.is_repeated:
            out[field.name] = [_fields_of(v) for v in value]
        else:
            out[field.name] = _fields_of(value)
    return out


def _cross_check(full_name: str, binary: bytes) -> None:
    cls = _specs_class(full_name)
    ours = pb._CLASSES[full_name]()
    ours.ParseFromString(binary)
    assert _wire_decode(cls, binary) == _fields_of(ours)


@pytest.mark.vectors
@pytest.mark.parametrize("path", BUNDLES)
def test_bytes_decode_alike_with_sigstore_protobuf_specs(path: Path) -> None:
    _specs_module("dev.sigstore.bundle.v1")
    binary = _encode_or_expect_failure(path, _load_json(path))
    _cross_check("dev.sigstore.bundle.v1.Bundle", binary)


@pytest.mark.parametrize("path", EMBEDDED_TRUSTED_ROOTS, ids=lambda p: p.parent.name)
def test_trusted_root_bytes_decode_alike_with_sigstore_protobuf_specs(path: Path) -> None:
    _specs_module("dev.sigstore.trustroot.v1")
    binary = pb.trusted_root_json_to_binary(_load_json(path))
    _cross_check("dev.sigstore.trustroot.v1.TrustedRoot", binary)


@pytest.mark.parametrize("path", EMBEDDED_SIGNING_CONFIGS, ids=lambda p: p.parent.name)
def test_signing_config_bytes_decode_alike_with_sigstore_protobuf_specs(path: Path) -> None:
    _specs_module("dev.sigstore.trustroot.v1")
    binary = pb.signing_config_json_to_binary(_load_json(path))
    _cross_check("dev.sigstore.trustroot.v1.SigningConfig", binary)
