"""Binary protobuf encoding of Sigstore messages, without generated code.

Owns: the protobuf descriptors of the Sigstore messages we read and write in
binary form (``dev.sigstore.bundle.v1.Bundle``, ``dev.sigstore.trustroot.v1``
``TrustedRoot`` and ``SigningConfig``, and everything they reference), built at
import time from the table below into a private ``DescriptorPool``; and the
conversion between protobuf-JSON dicts and the binary wire form.

Does not own: the meaning of any field (the attrs models and the verification
steps check invariants), JSON text parsing, or I/O. The protobuf-JSON dicts that
go in and out are the ones the cattrs converter in ``_converter`` reads and
writes.

Why no generated ``_pb2`` modules: they pin the protobuf runtime to the protoc
version that wrote them and add a build step. The messages are small and
stable, so a reviewable table of ``(field, number, type, label)`` is enough. The
numbers, types, labels and enum values are those of the ``.proto`` files of
sigstore/protobuf-specs (checked against its generated code, release 0.5.2);
``tests/test_protobuf.py`` cross-checks the bytes against an independent
encoder when one is installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

# The protobuf runtime ships no type information (and types-protobuf may or may not be
# installed); the dynamic message classes are ``Any`` either way.
from google.protobuf import (  # type: ignore[import-untyped, unused-ignore]
    descriptor_pb2,
    descriptor_pool,
    json_format,
    message_factory,
    timestamp_pb2,
    unknown_fields,
)
from google.protobuf.message import (  # type: ignore[import-untyped, unused-ignore]
    DecodeError,
)

__all__ = [
    "bundle_binary_to_json",
    "bundle_json_to_binary",
    "normalize_bundle_json",
    "signing_config_binary_to_json",
    "signing_config_json_to_binary",
    "trusted_root_binary_to_json",
    "trusted_root_json_to_binary",
]

_BUNDLE: Final = "dev.sigstore.bundle.v1.Bundle"
_TRUSTED_ROOT: Final = "dev.sigstore.trustroot.v1.TrustedRoot"
_SIGNING_CONFIG: Final = "dev.sigstore.trustroot.v1.SigningConfig"

# --------------------------------------------------------------------------------------
# The descriptor table.
#
# A field's type is a scalar name from _SCALARS, or the name of a message or enum: a
# simple name is looked up among the types of this table (the names are unique), a
# dotted name is taken as fully qualified. Labels: "" (singular, proto3 implicit
# presence), "repeated", "optional" (proto3 ``optional``: explicit presence), or
# "oneof NAME".


class _Field(NamedTuple):
    name: str
    number: int
    type: str
    label: str = ""


class _Message(NamedTuple):
    name: str
    fields: tuple[_Field, ...]


class _Enum(NamedTuple):
    name: str
    values: tuple[tuple[str, int], ...]


class _File(NamedTuple):
    name: str
    package: str
    dependencies: tuple[str, ...]
    enums: tuple[_Enum, ...]
    messages: tuple[_Message, ...]


def _msg(name: str, *fields: _Field) -> _Message:
    return _Message(name, fields)


def _enum(name: str, *values: tuple[str, int]) -> _Enum:
    return _Enum(name, values)


_F = _Field
_REP = "repeated"
_OPT = "optional"
_TIMESTAMP = "google.protobuf.Timestamp"

_FILES: Final = (
    _File(
        "sigstore_common.proto",
        "dev.sigstore.common.v1",
        ("google/protobuf/timestamp.proto",),
        (
            _enum(
                "HashAlgorithm",
                ("HASH_ALGORITHM_UNSPECIFIED", 0),
                ("SHA2_256", 1),
                ("SHA2_384", 2),
                ("SHA2_512", 3),
                ("SHA3_256", 4),
                ("SHA3_384", 5),
            ),
            _enum(
                "PublicKeyDetails",
                ("PUBLIC_KEY_DETAILS_UNSPECIFIED", 0),
                ("PKCS1_RSA_PKCS1V5", 1),
                ("PKCS1_RSA_PSS", 2),
                ("PKIX_RSA_PKCS1V5", 3),
                ("PKIX_RSA_PSS", 4),
                ("PKIX_ECDSA_P256_SHA_256", 5),
                ("PKIX_ECDSA_P256_HMAC_SHA_256", 6),
                ("PKIX_ED25519", 7),
                ("PKIX_ED25519_PH", 8),
                ("PKIX_RSA_PKCS1V15_2048_SHA256", 9),
                ("PKIX_RSA_PKCS1V15_3072_SHA256", 10),
                ("PKIX_RSA_PKCS1V15_4096_SHA256", 11),
                ("PKIX_ECDSA_P384_SHA_384", 12),
                ("PKIX_ECDSA_P521_SHA_512", 13),
                ("LMS_SHA256", 14),
                ("LMOTS_SHA256", 15),
                ("PKIX_RSA_PSS_2048_SHA256", 16),
                ("PKIX_RSA_PSS_3072_SHA256", 17),
                ("PKIX_RSA_PSS_4096_SHA256", 18),
                ("PKIX_ECDSA_P384_SHA_256", 19),
                ("PKIX_ECDSA_P521_SHA_256", 20),
                ("ML_DSA_65", 21),
                ("ML_DSA_87", 22),
                ("ML_DSA_44", 23),
            ),
            _enum(
                "SubjectAlternativeNameType",
                ("SUBJECT_ALTERNATIVE_NAME_TYPE_UNSPECIFIED", 0),
                ("EMAIL", 1),
                ("URI", 2),
                ("OTHER_NAME", 3),
            ),
        ),
        (
            _msg("HashOutput", _F("algorithm", 1, "HashAlgorithm"), _F("digest", 2, "bytes")),
            _msg(
                "MessageSignature",
                _F("message_digest", 1, "HashOutput"),
                _F("signature", 2, "bytes"),
            ),
            _msg("LogId", _F("key_id", 1, "bytes")),
            _msg("RFC3161SignedTimestamp", _F("signed_timestamp", 1, "bytes")),
            _msg(
                "PublicKey",
                _F("raw_bytes", 1, "bytes", _OPT),
                _F("key_details", 2, "PublicKeyDetails"),
                _F("valid_for", 3, "TimeRange", _OPT),
            ),
            _msg("PublicKeyIdentifier", _F("hint", 1, "string")),
            _msg("ObjectIdentifier", _F("id", 1, "int32", _REP)),
            _msg(
                "ObjectIdentifierValuePair",
                _F("oid", 1, "ObjectIdentifier"),
                _F("value", 2, "bytes"),
            ),
            _msg(
                "DistinguishedName",
                _F("organization", 1, "string"),
                _F("common_name", 2, "string"),
            ),
            _msg("X509Certificate", _F("raw_bytes", 1, "bytes")),
            _msg(
                "SubjectAlternativeName",
                _F("type", 1, "SubjectAlternativeNameType"),
                _F("regexp", 2, "string", "oneof identity"),
                _F("value", 3, "string", "oneof identity"),
            ),
            _msg("X509CertificateChain", _F("certificates", 1, "X509Certificate", _REP)),
            _msg("TimeRange", _F("start", 1, _TIMESTAMP), _F("end", 2, _TIMESTAMP, _OPT)),
        ),
    ),
    _File(
        "sigstore_rekor.proto",
        "dev.sigstore.rekor.v1",
        ("sigstore_common.proto",),
        (),
        (
            _msg("KindVersion", _F("kind", 1, "string"), _F("version", 2, "string")),
            _msg("Checkpoint", _F("envelope", 1, "string")),
            _msg(
                "InclusionProof",
                _F("log_index", 1, "int64"),
                _F("root_hash", 2, "bytes"),
                _F("tree_size", 3, "int64"),
                _F("hashes", 4, "bytes", _REP),
                _F("checkpoint", 5, "Checkpoint"),
            ),
            _msg("InclusionPromise", _F("signed_entry_timestamp", 1, "bytes")),
            _msg(
                "TransparencyLogEntry",
                _F("log_index", 1, "int64"),
                _F("log_id", 2, "LogId"),
                _F("kind_version", 3, "KindVersion"),
                _F("integrated_time", 4, "int64"),
                _F("inclusion_promise", 5, "InclusionPromise"),
                _F("inclusion_proof", 6, "InclusionProof"),
                _F("canonicalized_body", 7, "bytes"),
            ),
        ),
    ),
    _File(
        "envelope.proto",
        "io.intoto",
        (),
        (),
        (
            _msg(
                "Envelope",
                _F("payload", 1, "bytes"),
                _F("payload_type", 2, "string"),
                _F("signatures", 3, "Signature", _REP),
            ),
            _msg("Signature", _F("sig", 1, "bytes"), _F("keyid", 2, "string")),
        ),
    ),
    _File(
        "sigstore_bundle.proto",
        "dev.sigstore.bundle.v1",
        ("envelope.proto", "sigstore_common.proto", "sigstore_rekor.proto"),
        (),
        (
            _msg(
                "TimestampVerificationData",
                _F("rfc3161_timestamps", 1, "RFC3161SignedTimestamp", _REP),
            ),
            _msg(
                "VerificationMaterial",
                _F("public_key", 1, "PublicKeyIdentifier", "oneof content"),
                _F("x509_certificate_chain", 2, "X509CertificateChain", "oneof content"),
                _F("tlog_entries", 3, "TransparencyLogEntry", _REP),
                _F("timestamp_verification_data", 4, "TimestampVerificationData"),
                _F("certificate", 5, "X509Certificate", "oneof content"),
            ),
            _msg(
                "Bundle",
                _F("media_type", 1, "string"),
                _F("verification_material", 2, "VerificationMaterial"),
                _F("message_signature", 3, "MessageSignature", "oneof content"),
                _F("dsse_envelope", 4, "Envelope", "oneof content"),
            ),
        ),
    ),
    _File(
        "sigstore_trustroot.proto",
        "dev.sigstore.trustroot.v1",
        ("google/protobuf/timestamp.proto", "sigstore_common.proto"),
        (
            _enum(
                "ServiceSelector",
                ("SERVICE_SELECTOR_UNDEFINED", 0),
                ("ALL", 1),
                ("ANY", 2),
                ("EXACT", 3),
            ),
        ),
        (
            _msg(
                "TransparencyLogInstance",
                _F("base_url", 1, "string"),
                _F("hash_algorithm", 2, "HashAlgorithm"),
                _F("public_key", 3, "PublicKey"),
                _F("log_id", 4, "LogId"),
                _F("checkpoint_key_id", 5, "LogId"),
                _F("operator", 6, "string"),
            ),
            _msg(
                "CertificateAuthority",
                _F("subject", 1, "DistinguishedName"),
                _F("uri", 2, "string"),
                _F("cert_chain", 3, "X509CertificateChain"),
                _F("valid_for", 4, "TimeRange"),
                _F("operator", 5, "string"),
            ),
            _msg(
                "TrustedRoot",
                _F("media_type", 1, "string"),
                _F("tlogs", 2, "TransparencyLogInstance", _REP),
                _F("certificate_authorities", 3, "CertificateAuthority", _REP),
                _F("ctlogs", 4, "TransparencyLogInstance", _REP),
                _F("timestamp_authorities", 5, "CertificateAuthority", _REP),
            ),
            # Fields 1-4 of SigningConfig are reserved (an earlier layout).
            _msg(
                "SigningConfig",
                _F("media_type", 5, "string"),
                _F("ca_urls", 6, "Service", _REP),
                _F("oidc_urls", 7, "Service", _REP),
                _F("rekor_tlog_urls", 8, "Service", _REP),
                _F("rekor_tlog_config", 9, "ServiceConfiguration"),
                _F("tsa_urls", 10, "Service", _REP),
                _F("tsa_config", 11, "ServiceConfiguration"),
            ),
            _msg(
                "Service",
                _F("url", 1, "string"),
                _F("major_api_version", 2, "uint32"),
                _F("valid_for", 3, "TimeRange"),
                _F("operator", 4, "string"),
            ),
            _msg(
                "ServiceConfiguration",
                _F("selector", 1, "ServiceSelector"),
                _F("count", 2, "uint32"),
            ),
            _msg(
                "ClientTrustConfig",
                _F("media_type", 1, "string"),
                _F("trusted_root", 2, "TrustedRoot"),
                _F("signing_config", 3, "SigningConfig"),
            ),
        ),
    ),
)

# --------------------------------------------------------------------------------------
# Building the pool.

_FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS: Final[dict[str, int]] = {
    "bytes": _FDP.TYPE_BYTES,
    "string": _FDP.TYPE_STRING,
    "int32": _FDP.TYPE_INT32,
    "int64": _FDP.TYPE_INT64,
    "uint32": _FDP.TYPE_UINT32,
    "uint64": _FDP.TYPE_UINT64,
    "bool": _FDP.TYPE_BOOL,
}


def _type_index(files: tuple[_File, ...]) -> dict[str, tuple[str, int]]:
    """Map each simple type name to its fully qualified name and descriptor type."""
    index: dict[str, tuple[str, int]] = {"Timestamp": (_TIMESTAMP, _FDP.TYPE_MESSAGE)}
    for file in files:
        kinds = [(e.name, _FDP.TYPE_ENUM) for e in file.enums]
        kinds += [(m.name, _FDP.TYPE_MESSAGE) for m in file.messages]
        for name, kind in kinds:
            if name in index:
                raise RuntimeError(f"type name {name!r} is not unique in the table")
            index[name] = (f"{file.package}.{name}", kind)
    return index


def _file_proto(file: _File, types: dict[str, tuple[str, int]]) -> Any:
    proto = descriptor_pb2.FileDescriptorProto(
        name=file.name,
        package=file.package,
        syntax="proto3",
        dependency=list(file.dependencies),
    )
    for enum in file.enums:
        enum_proto = proto.enum_type.add(name=enum.name)
        for value_name, number in enum.values:
            enum_proto.value.add(name=value_name, number=number)
    for message in file.messages:
        message_proto = proto.message_type.add(name=message.name)
        # Real oneofs must be declared before the synthetic ones of proto3 ``optional``.
        oneofs: list[str] = []
        for field in message.fields:
            if field.label.startswith("oneof ") and field.label[6:] not in oneofs:
                oneofs.append(field.label[6:])
        for oneof in oneofs:
            message_proto.oneof_decl.add(name=oneof)
        for field in message.fields:
            field_proto = message_proto.field.add(
                name=field.name, number=field.number, label=_FDP.LABEL_OPTIONAL
            )
            if field.type in _SCALARS:
                field_proto.type = _SCALARS[field.type]
            else:
                full_name, kind = types[field.type.rsplit(".", 1)[-1]]
                if "." in field.type and field.type != full_name:
                    raise RuntimeError(f"unknown type {field.type!r}")
                field_proto.type = kind
                field_proto.type_name = "." + full_name
            if field.label == _REP:
                field_proto.label = _FDP.LABEL_REPEATED
            elif field.label == _OPT:
                field_proto.proto3_optional = True
                field_proto.oneof_index = len(message_proto.oneof_decl)
                message_proto.oneof_decl.add(name="_" + field.name)
            elif field.label.startswith("oneof "):
                field_proto.oneof_index = oneofs.index(field.label[6:])
            elif field.label:
                raise RuntimeError(f"bad label {field.label!r} on {message.name}.{field.name}")
    return proto


def _build_pool(files: tuple[_File, ...]) -> Any:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    types = _type_index(files)
    for file in files:
        pool.AddSerializedFile(_file_proto(file, types).SerializeToString())
    return pool


_POOL: Final = _build_pool(_FILES)
_CLASSES: Final[dict[str, Any]] = {
    name: message_factory.GetMessageClass(_POOL.FindMessageTypeByName(name))
    for name in (_BUNDLE, _TRUSTED_ROOT, _SIGNING_CONFIG)
}

# --------------------------------------------------------------------------------------
# Conversion.


def _first_unknown_field(message: Any, path: str) -> str | None:
    """Return the path of the first field that the schema does not know, if any."""
    unknown = unknown_fields.UnknownFieldSet(message)
    if len(unknown):
        return f"{path} (field number {unknown[0].field_number})"
    for field, value in message.ListFields():
        if field.type != _FDP.TYPE_MESSAGE:
            continue
        children = enumerate(value) if field.is_repeated else [(None, value)]
        for i, child in children:
            child_path = f"{path}.{field.json_name}" + ("" if i is None else f"[{i}]")
            found = _first_unknown_field(child, child_path)
            if found is not None:
                return found
    return None


def _json_to_binary(
    full_name: str, data: Mapping[str, Any], *, ignore_unknown_fields: bool = False
) -> bytes:
    """Encode the protobuf-JSON dict ``data`` as the binary form of message ``full_name``.

    Raises:
        ValueError: ``data`` is not valid protobuf-JSON for the message (wrong type,
            bad base64, bad enum name, unknown field unless ``ignore_unknown_fields``...).
    """
    message_class = _CLASSES[full_name]
    kind = full_name.rsplit(".", 1)[-1]
    if not isinstance(data, Mapping):
        raise ValueError(f"invalid {kind}: expected a JSON object, got {type(data).__name__}")
    message = message_class()
    try:
        json_format.ParseDict(dict(data), message, ignore_unknown_fields=ignore_unknown_fields)
        serialized: bytes = message.SerializeToString(deterministic=True)
    except (json_format.Error, DecodeError, TypeError, ValueError) as exc:
        raise ValueError(f"invalid {kind} protobuf-JSON: {exc}") from exc
    return serialized


def _binary_to_json(
    full_name: str, data: bytes, *, ignore_unknown_fields: bool = False
) -> dict[str, Any]:
    """Decode the binary form of message ``full_name`` into a protobuf-JSON dict.

    The dict is canonical protobuf-JSON: lowerCamelCase names, fields holding their
    default value omitted, 64-bit integers as strings, bytes as padded base64.

    Raises:
        ValueError: ``data`` is not a valid encoding of the message, or it carries a
            field that the schema does not know (which the JSON form would silently
            lose) and ``ignore_unknown_fields`` is false.
    """
    message_class = _CLASSES[full_name]
    kind = full_name.rsplit(".", 1)[-1]
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError(f"invalid binary {kind}: expected bytes, got {type(data).__name__}")
    message = message_class()
    try:
        message.ParseFromString(bytes(data))
    except (DecodeError, ValueError) as exc:
        raise ValueError(f"invalid binary {kind}: {exc}") from exc
    if not ignore_unknown_fields:
        unknown = _first_unknown_field(message, kind)
        if unknown is not None:
            raise ValueError(f"invalid binary {kind}: unknown field at {unknown}")
    try:
        result: dict[str, Any] = json_format.MessageToDict(message)
    except (json_format.Error, ValueError) as exc:  # e.g. a Timestamp out of range
        raise ValueError(f"invalid binary {kind}: {exc}") from exc
    return result


def bundle_json_to_binary(data: Mapping[str, Any], *, ignore_unknown_fields: bool = False) -> bytes:
    """Encode a protobuf-JSON Sigstore bundle (``dev.sigstore.bundle.v1.Bundle``) as binary.

    Raises:
        ValueError: ``data`` is not valid protobuf-JSON for a bundle.
    """
    return _json_to_binary(_BUNDLE, data, ignore_unknown_fields=ignore_unknown_fields)


def bundle_binary_to_json(data: bytes, *, ignore_unknown_fields: bool = False) -> dict[str, Any]:
    """Decode a binary Sigstore bundle into its canonical protobuf-JSON dict.

    Raises:
        ValueError: ``data`` is not a valid binary bundle, or carries unknown fields.
    """
    return _binary_to_json(_BUNDLE, data, ignore_unknown_fields=ignore_unknown_fields)


def normalize_bundle_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the canonical protobuf-JSON form of a bundle dict (through binary and back).

    Two bundle dicts that mean the same message normalize to equal dicts, whatever
    defaults, name spellings (camelCase or snake_case), number-vs-string integers or
    base64 alphabets they used.

    Raises:
        ValueError: ``data`` is not valid protobuf-JSON for a bundle.
    """
    return bundle_binary_to_json(bundle_json_to_binary(data))


def trusted_root_json_to_binary(data: Mapping[str, Any]) -> bytes:
    """Encode a protobuf-JSON ``dev.sigstore.trustroot.v1.TrustedRoot`` as binary.

    Raises:
        ValueError: ``data`` is not valid protobuf-JSON for a trusted root.
    """
    return _json_to_binary(_TRUSTED_ROOT, data)


def trusted_root_binary_to_json(data: bytes) -> dict[str, Any]:
    """Decode a binary ``TrustedRoot`` into its canonical protobuf-JSON dict.

    Raises:
        ValueError: ``data`` is not a valid binary trusted root, or carries unknown fields.
    """
    return _binary_to_json(_TRUSTED_ROOT, data)


def signing_config_json_to_binary(data: Mapping[str, Any]) -> bytes:
    """Encode a protobuf-JSON ``dev.sigstore.trustroot.v1.SigningConfig`` as binary.

    Raises:
        ValueError: ``data`` is not valid protobuf-JSON for a signing config.
    """
    return _json_to_binary(_SIGNING_CONFIG, data)


def signing_config_binary_to_json(data: bytes) -> dict[str, Any]:
    """Decode a binary ``SigningConfig`` into its canonical protobuf-JSON dict.

    Raises:
        ValueError: ``data`` is not a valid binary signing config, or carries unknown fields.
    """
    return _binary_to_json(_SIGNING_CONFIG, data)
