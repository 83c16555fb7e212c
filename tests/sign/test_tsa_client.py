"""The TSA client's check of an answer: any damage to it is a typed error."""

from __future__ import annotations

import contextlib

import pytest
from rfc3161_client import decode_timestamp_response

from sigstore_async.errors import ServiceError, TimestampError
from sigstore_async.testing import LocalSigstore
from sigstore_async.tsa import check_timestamp_response, timestamp_request

pytestmark = pytest.mark.anyio

SIGNATURE = b"the signature bytes a client timestamps"


async def _answer(signature: bytes) -> tuple[bytes, int]:
    body, nonce = timestamp_request(signature)
    async with LocalSigstore() as stack, stack.client() as http:
        r = await http.post(
            "/tsa/api/v1/timestamp",
            content=body,
            headers={"content-type": "application/timestamp-query"},
        )
    assert r.status_code == 200
    return r.content, nonce


async def test_the_answer_must_be_for_this_request() -> None:
    good, nonce = await _answer(SIGNATURE)
    check_timestamp_response(good, signature=SIGNATURE, nonce=nonce)
    with pytest.raises(TimestampError, match="other bytes"):
        check_timestamp_response(good, signature=b"another signature", nonce=nonce)
    with pytest.raises(TimestampError, match="nonce"):
        check_timestamp_response(good, signature=SIGNATURE, nonce=nonce + 1)


async def test_every_bit_flip_of_an_answer_is_refused_typed() -> None:
    good, nonce = await _answer(SIGNATURE)
    lazily_malformed = 0
    for at in range(len(good)):
        for mask in (0x01, 0x04, 0x80):
            damaged = good[:at] + bytes([good[at] ^ mask]) + good[at + 1 :]
            with contextlib.suppress(ServiceError, TimestampError):
                check_timestamp_response(damaged, signature=SIGNATURE, nonce=nonce)
            try:
                response = decode_timestamp_response(damaged)
            except ValueError:
                continue
            try:
                _ = response.tst_info
            except ValueError:
                lazily_malformed += 1
    # The flips that once escaped as ValueError: the answer reads, its token does not
    # (rfc3161-client parses the token only when it is first asked for).
    assert lazily_malformed > 0
