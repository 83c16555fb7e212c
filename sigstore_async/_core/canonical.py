"""Canonical JSON (RFC 8785) and the Rekor v1 signed entry timestamp.

Owns: the one way this package serializes JSON canonically (through the
``rfc8785`` library), building the payload that a Rekor v1 signed entry
timestamp (SET) signs, and checking a SET with a given log key.

Does not own: choosing the log key (see ``trust``), deciding which times count
(the verification policy), or Rekor entry bodies (``models``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pybase64
import rfc8785

from sigstore_async._core.keys import PublicKey, verify_signature
from sigstore_async.errors import TransparencyLogError

__all__ = ["canonicalize", "integrated_time", "set_payload", "verify_set"]


def canonicalize(obj: object) -> bytes:
    """Serialize a JSON value (``dict`` with ``str`` keys, ``list``/``tuple``,
    ``str``, ``int``, ``float``, ``bool``, ``None``) with the JSON
    Canonicalization Scheme (RFC 8785), as UTF-8 bytes.

    Raises:
        ValueError: the value has no canonical form: a non-JSON type, a
            non-string key, NaN or an infinity, an integer outside the range
            that an IEEE 754 double holds exactly (beyond 2**53 - 1), a string
            that is not valid Unicode (lone surrogates), or nesting too deep.
    """
    try:
        # rfc8785 checks types at run time; its annotation is narrower than what it handles.
        return rfc8785.dumps(cast(Any, obj))
    except (ValueError, RecursionError) as e:
        # CanonicalizationError is a ValueError; UnicodeEncodeError (surrogates in keys) too.
        raise ValueError(f"value has no canonical JSON form: {e}") from e


_MAX_SAFE = 2**53 - 1


def _check_field(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise TransparencyLogError(f"{what} is negative ({value})")
    return value


def set_payload(*, body: bytes, integrated_time: int, log_index: int, log_id: bytes) -> bytes:
    """The bytes that a Rekor v1 signed entry timestamp signs.

    The canonical JSON (RFC 8785) of ``{"body": base64(body), "integratedTime":
    integrated_time, "logID": hex(log_id), "logIndex": log_index}``, where
    ``body`` is the entry's canonicalized body as bytes, base64 is standard
    with padding, and hex is lowercase.

    Raises:
        TransparencyLogError: ``integrated_time`` or ``log_index`` is negative
            or too large for canonical JSON (above 2**53 - 1).
        TypeError: an argument has the wrong type.
    """
    integrated_time = _check_field(integrated_time, "integrated time")
    log_index = _check_field(log_index, "log index")
    if integrated_time > _MAX_SAFE or log_index > _MAX_SAFE:
        raise TransparencyLogError(
            "cannot build the signed entry timestamp payload: an integer is above 2**53 - 1"
        )
    # RFC 8785 of this one shape, written directly (it is on every Rekor v1
    # bundle's path): keys in UTF-16 order, base64 and lowercase hex need no
    # escaping, and integers below 2**53 print as plain decimals. A property
    # test checks it against canonicalize().
    return b'{"body":"%s","integratedTime":%d,"logID":"%s","logIndex":%d}' % (
        pybase64.b64encode(body),  # SIMD: a body is a few KB
        integrated_time,
        bytes(log_id).hex().encode("ascii"),
        log_index,
    )


def verify_set(
    *,
    key: PublicKey,
    signed_entry_timestamp: bytes,
    body: bytes,
    integrated_time: int,
    log_index: int,
    log_id: bytes,
) -> None:
    """Check a Rekor v1 signed entry timestamp: the log's signature (ECDSA with
    SHA-256 for Rekor's P-256 keys) over :func:`set_payload`.

    ``log_id`` is the log's key id as the bundle states it; a SET made for
    another log id does not verify.

    Raises:
        TransparencyLogError: the signature does not verify, or the payload
            cannot be built (see :func:`set_payload`).
        TypeError: an argument has the wrong type.
    """
    payload = set_payload(
        body=body, integrated_time=integrated_time, log_index=log_index, log_id=log_id
    )
    if not verify_signature(
        key, bytes(signed_entry_timestamp), message=payload, hash_algorithm="SHA2_256"
    ):
        raise TransparencyLogError(
            f"signed entry timestamp of log entry {log_index} does not verify with the log key "
            f"{bytes(log_id).hex()}"
        )


def integrated_time(seconds: int, *, latest: datetime) -> datetime:
    """A Rekor v1 integrated time (what a SET signs: seconds since the epoch) as a datetime.

    Raises:
        TransparencyLogError: it is negative or zero, or later than ``latest``,
            however much later (it is compared in seconds first: a time past
            the year 9999 has no datetime).
    """
    if seconds <= 0:
        raise TransparencyLogError(f"negative or zero integrated time {seconds}")
    if seconds > latest.timestamp():
        raise TransparencyLogError(
            f"integrated time {seconds} (seconds since the epoch) is in the future"
        )
    return datetime.fromtimestamp(seconds, UTC)
