"""PEM decoding inside Rekor entry bodies: exactly one block, nothing else."""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigstore_async import TransparencyLogError
from sigstore_async.models._direct import decode_base64_padded
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


def _pem_to_der_by_lines(pem: bytes) -> bytes | None:
    # The rule written line by line, as RFC 7468 puts it: the reference that
    # _pem_to_der (which slices instead of splitting) must agree with.
    lines = pem.strip().split(b"\n")
    if len(lines) < 3:
        return None
    for label in (b"CERTIFICATE", b"PUBLIC KEY"):
        if lines[0].rstrip() == b"-----BEGIN " + label + b"-----" and (
            lines[-1].rstrip() == b"-----END " + label + b"-----"
        ):
            try:
                return decode_base64_padded(b"".join(b"".join(lines[1:-1]).split()))
            except binascii.Error:
                return None
    return None


_PEM_PARTS = st.sampled_from(
    [
        b"-----BEGIN CERTIFICATE-----",
        b"-----END CERTIFICATE-----",
        b"-----BEGIN PUBLIC KEY-----",
        b"-----END PUBLIC KEY-----",
        B64[:64],
        B64[64:],
        b"AAAA",
        b"AA==",
        b"\n",
        b"\r\n",
        b" ",
        b"\t",
        b"!",
        b"",
    ]
)


@given(st.lists(_PEM_PARTS, max_size=10).map(b"".join))
def test_pem_reader_agrees_with_the_line_rule(pem: bytes) -> None:
    expected = _pem_to_der_by_lines(pem)
    try:
        got: bytes | None = _pem_to_der(pem, "$")
    except TransparencyLogError:
        got = None
    assert got == expected


@pytest.mark.parametrize("pem", [CERT, CERT.replace(b"\n", b"\r\n"), b" \n" + CERT + b"\t\n"])
def test_pem_reader_agrees_on_real_shapes(pem: bytes) -> None:
    assert _pem_to_der(pem, "$") == _pem_to_der_by_lines(pem) == DER


@given(
    st.one_of(
        st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
        st.text(alphabet="AQIDab+/-_=\n !", max_size=16),
        st.text(max_size=8),
    )
)
def test_body_base64_is_standard_padded_base64(text: str) -> None:
    # One strict call replaces b64decode(validate=True): it may refuse more
    # (padding after a complete quantum), never accept more or read otherwise.
    try:
        ours: bytes | None = decode_base64_padded(text)
    except binascii.Error:
        ours = None
    if ours is not None:
        assert ours == base64.b64decode(text, validate=True)


@given(
    st.binary(min_size=97, max_size=700),
    st.integers(min_value=0),
    st.sampled_from(["=", "==", "\n", " ", "-", "_", "!", "\u00e9", "\x00", "A", ""]),
)
def test_long_base64_takes_the_simd_decoder_and_stays_strict(
    data: bytes, where: int, insert: str
) -> None:
    # Text over 128 characters is decoded by pybase64: the same contract.
    text = base64.b64encode(data).decode()
    assert len(text) > 128
    assert decode_base64_padded(text) == data
    assert decode_base64_padded(text.encode()) == data
    at = where % (len(text) + 1)
    mutated = text[:at] + insert + text[at:]
    try:
        ours: bytes | None = decode_base64_padded(mutated)
    except binascii.Error:
        ours = None
    try:
        reference: bytes | None = base64.b64decode(mutated, validate=True)
    except (binascii.Error, ValueError):
        reference = None
    if ours is not None:
        assert ours == reference
