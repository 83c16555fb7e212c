"""Tests for ``sigstore_async._core.canonical`` (RFC 8785 JSON and Rekor v1 SETs)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from sigstore_async._core.canonical import (
    canonicalize,
    integrated_time,
    set_payload,
    verify_set,
)
from sigstore_async._core.keys import PublicKey
from sigstore_async.errors import TransparencyLogError

from .conftest import Conformance

# --- known answers, worked out from RFC 8785 ---------------------------------------------------


def test_keys_sort_by_utf16_code_units() -> None:
    # RFC 8785 3.2.3: property names sort by their UTF-16 code units. U+1F600 is the surrogate
    # pair D83D DE00, which sorts *before* U+FB33 although its code point is larger.
    value = {
        "\ufb33": 1,
        "\U0001f600": 2,
        "\u20ac": 3,
        "\u00f6": 4,
        "\u0080": 5,
        "1": 6,
        "\r": 7,
    }
    expected = (
        '{"\\r":7,"1":6,"\u0080":5,"\u00f6":4,"\u20ac":3,"\U0001f600":2,"\ufb33":1}'
    ).encode()
    assert canonicalize(value) == expected


def test_keys_sort_by_code_units_not_by_utf8_or_case() -> None:
    # Upper case (U+0041..) before lower case (U+0061..); "a" before "aa"; "\u00e9" (E9)
    # before "\u0100".
    assert canonicalize({"b": 0, "aa": 0, "a": 0, "B": 0, "\u0100": 0, "\u00e9": 0}) == (
        '{"B":0,"a":0,"aa":0,"b":0,"\u00e9":0,"\u0100":0}'.encode()
    )


@pytest.mark.parametrize(
    ("number", "text"),
    [
        # RFC 8785 3.2.2.3: numbers are written as ECMAScript's Number.prototype.toString does.
        (0, "0"),
        (-0.0, "0"),
        (2.0, "2"),
        (-1.25, "-1.25"),
        (0.5, "0.5"),
        (123456789.0, "123456789"),
        (333333333.3333333, "333333333.3333333"),
        (1e20, "100000000000000000000"),  # exponents below 21 are written out in full
        (2.0**68, "295147905179352830000"),  # 17 significant digits, then zeros
        (1e21, "1e+21"),  # from 21 on, exponent notation with an explicit sign
        (1.5e300, "1.5e+300"),
        (1e-6, "0.000001"),  # down to 1e-6 as a decimal fraction
        (1.5e-7, "1.5e-7"),  # below, exponent notation without leading zeros
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2**53 - 1, "9007199254740991"),
        (-(2**53) + 1, "-9007199254740991"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
    ],
)
def test_number_and_literal_formatting(number: object, text: str) -> None:
    assert canonicalize(number) == text.encode()
    assert canonicalize([number]) == f"[{text}]".encode()


def test_string_escaping() -> None:
    # RFC 8785 3.2.2.2: only '"', '\\' and U+0000..U+001F are escaped, with the short forms for
    # \b \t \n \f \r and lowercase \u00xx otherwise; everything else (including "/", DEL and
    # U+2028) is written as UTF-8.
    value = '\u0000\u001f\b\t\n\f\r"\\/\u007f\u2028\u00e9\U0001f600'
    expected = (
        b'"\\u0000\\u001f\\b\\t\\n\\f\\r\\"\\\\/\x7f' + "\u2028\u00e9\U0001f600".encode() + b'"'
    )
    assert canonicalize(value) == expected


def test_structure_has_no_whitespace_and_keeps_array_order() -> None:
    value = {"b": [3, 1, True, None, {"d": "x", "c": []}], "a": {}}
    assert canonicalize(value) == b'{"a":{},"b":[3,1,true,null,{"c":[],"d":"x"}]}'
    assert canonicalize((1, 2)) == b"[1,2]"


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        2**53,  # beyond the integers that an IEEE 754 double holds exactly
        -(2**53),
        {1: "x"},
        {"a": {1, 2}},
        b"bytes",
        "\ud800",
        {"\udc00": 1},
        [object()],
        _deep(100_000),
    ],
    ids=lambda v: type(v).__name__,
)
def test_values_without_a_canonical_form_raise_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="no canonical JSON form"):
        canonicalize(value)


# --- properties --------------------------------------------------------------------------------

no_surrogates = st.characters(blacklist_categories=["Cs"])
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(no_surrogates, max_size=10)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(no_surrogates, max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150)
@given(value=json_values)
def test_canonical_form_is_json_of_the_same_value_and_a_fixed_point(value: Any) -> None:
    out = canonicalize(value)
    # JSON numbers are IEEE 754 doubles (RFC 8785 3.2.2.3); Python would read "1e+16"-sized
    # integers back as exact ints of another value.
    parsed = json.loads(out, parse_int=float)
    assert parsed == value
    assert canonicalize(parsed) == out


@settings(max_examples=100)
@given(
    items=st.dictionaries(
        st.text(no_surrogates, max_size=6), json_values, min_size=1, max_size=8
    ).map(lambda d: list(d.items())),
    data=st.data(),
)
def test_key_order_does_not_matter(items: list[tuple[str, Any]], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(items))
    assert canonicalize(dict(shuffled)) == canonicalize(dict(items))


# Integers, strings and literals only, with keys inside the Basic Multilingual Plane (where
# UTF-16 order is code point order): here RFC 8785 agrees with sorted, compact json.dumps.
bmp_text = st.text(st.characters(blacklist_categories=["Cs"], max_codepoint=0xFFFF), max_size=8)
simple_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | bmp_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(bmp_text, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150)
@given(value=simple_values)
def test_agrees_with_sorted_compact_json_where_they_coincide(value: Any) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonicalize(value) == expected.encode()


# --- the signed entry timestamp payload --------------------------------------------------------


def test_set_payload_known_answer() -> None:
    payload = set_payload(body=b"hello", integrated_time=1, log_index=2, log_id=b"\x01\xab")
    assert payload == b'{"body":"aGVsbG8=","integratedTime":1,"logID":"01ab","logIndex":2}'


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"integrated_time": -1}, TransparencyLogError, "integrated time is negative"),
        ({"log_index": -5}, TransparencyLogError, "log index is negative"),
        ({"log_index": 2**53}, TransparencyLogError, "cannot build"),
        ({"log_index": True}, TypeError, "log index must be an int"),
        ({"integrated_time": "1"}, TypeError, "integrated time must be an int"),
    ],
)
def test_set_payload_rejects_bad_fields(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    args: dict[str, Any] = {
        "body": b"x",
        "integrated_time": 1,
        "log_index": 2,
        "log_id": b"\x00",
        **kwargs,
    }
    with pytest.raises(error, match=message):
        set_payload(**args)


LOG_KEY = ec.generate_private_key(ec.SECP256R1())


def _sign(payload: bytes) -> bytes:
    return LOG_KEY.sign(payload, ec.ECDSA(hashes.SHA256()))


@settings(max_examples=40, deadline=None)
@given(
    body=st.binary(max_size=200),
    integrated_time=st.integers(0, 2**53 - 1),
    log_index=st.integers(0, 2**53 - 1),
    log_id=st.binary(min_size=32, max_size=32),
    data=st.data(),
)
def test_set_sign_verify_and_any_changed_field_is_rejected(
    body: bytes, integrated_time: int, log_index: int, log_id: bytes, data: st.DataObject
) -> None:
    fields: dict[str, Any] = {
        "body": body,
        "integrated_time": integrated_time,
        "log_index": log_index,
        "log_id": log_id,
    }
    sig = _sign(set_payload(**fields))
    verify_set(key=LOG_KEY.public_key(), signed_entry_timestamp=sig, **fields)

    changed = dict(fields)
    field = data.draw(st.sampled_from(sorted(fields)), label="field")
    if field in ("integrated_time", "log_index"):
        changed[field] = data.draw(st.integers(0, 2**53 - 1).filter(lambda v: v != fields[field]))
    else:
        changed[field] = data.draw(st.binary(max_size=200).filter(lambda v: v != fields[field]))
    with pytest.raises(TransparencyLogError, match="does not verify"):
        verify_set(key=LOG_KEY.public_key(), signed_entry_timestamp=sig, **changed)


def test_set_with_wrong_key_or_garbage_is_rejected() -> None:
    fields: dict[str, Any] = {
        "body": b"b",
        "integrated_time": 1,
        "log_index": 2,
        "log_id": b"\x01" * 32,
    }
    sig = _sign(set_payload(**fields))
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    attempts: list[tuple[PublicKey, bytes]] = [
        (other, sig),
        (ed25519.Ed25519PrivateKey.generate().public_key(), sig),
        (LOG_KEY.public_key(), b""),
        (LOG_KEY.public_key(), b"\x30\x00"),
        (LOG_KEY.public_key(), sig[:-1]),
    ]
    for key, set_bytes in attempts:
        with pytest.raises(TransparencyLogError, match="does not verify"):
            verify_set(key=key, signed_entry_timestamp=set_bytes, **fields)


# --- real signed entry timestamps --------------------------------------------------------------


def _set_fields(conformance: Conformance, case: str) -> tuple[Any, dict[str, Any]]:
    log = conformance.log_entry(case)
    entry = log.entry
    return log.key, {
        "signed_entry_timestamp": log.b64("inclusionPromise", "signedEntryTimestamp"),
        "body": log.b64("canonicalizedBody"),
        "integrated_time": int(entry["integratedTime"]),
        "log_index": int(entry["logIndex"]),
        "log_id": log.key_id,
    }


@pytest.mark.vectors
@pytest.mark.parametrize("case", ["happy-path-v0.1", "happy-path-v0.2", "happy-path-v0.3"])
def test_real_sets_verify(conformance: Conformance, case: str) -> None:
    key, fields = _set_fields(conformance, case)
    verify_set(key=key, **fields)
    for change in [
        {"integrated_time": fields["integrated_time"] + 1},
        {"log_index": fields["log_index"] - 1},
        {"body": fields["body"] + b" "},
        {"log_id": bytes(32)},
    ]:
        with pytest.raises(TransparencyLogError, match="does not verify"):
            verify_set(key=key, **{**fields, **change})


@pytest.mark.vectors
def test_real_invalid_set_is_rejected(conformance: Conformance) -> None:
    key, fields = _set_fields(conformance, "set-invalid-signature_fail")
    with pytest.raises(TransparencyLogError, match="does not verify"):
        verify_set(key=key, **fields)


@pytest.mark.vectors
def test_real_set_payload_shape(conformance: Conformance) -> None:
    _, fields = _set_fields(conformance, "happy-path-v0.3")
    del fields["signed_entry_timestamp"]
    payload = json.loads(set_payload(**fields))
    assert list(payload) == ["body", "integratedTime", "logID", "logIndex"]
    assert base64.b64decode(payload["body"]) == fields["body"]
    assert payload["logID"] == fields["log_id"].hex()


@given(
    body=st.binary(max_size=200),
    integrated_time=st.integers(min_value=0, max_value=2**53 - 1),
    log_index=st.integers(min_value=0, max_value=2**53 - 1),
    log_id=st.binary(min_size=32, max_size=32),
)
def test_set_payload_is_the_canonical_json(
    body: bytes, integrated_time: int, log_index: int, log_id: bytes
) -> None:
    expected = canonicalize(
        {
            "logIndex": log_index,
            "logID": log_id.hex(),
            "integratedTime": integrated_time,
            "body": base64.b64encode(body).decode(),
        }
    )
    assert (
        set_payload(body=body, integrated_time=integrated_time, log_index=log_index, log_id=log_id)
        == expected
    )


def test_integrated_time_bounds() -> None:
    latest = datetime(2026, 1, 1, tzinfo=UTC)
    assert integrated_time(int(latest.timestamp()), latest=latest) == latest
    for seconds in (int(latest.timestamp()) + 1, 253402300800, 2**63 - 1):
        with pytest.raises(TransparencyLogError, match="in the future"):
            integrated_time(seconds, latest=latest)
    for seconds in (0, -1, -(2**63)):
        with pytest.raises(TransparencyLogError, match="negative or zero"):
            integrated_time(seconds, latest=latest)
