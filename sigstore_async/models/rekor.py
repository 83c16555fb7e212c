"""Transparency log entries as bundles carry them (``dev.sigstore.rekor.v1``).

Owns: the entry models. Rebuilding and comparing entry bodies is the verifier's
job. No I/O.
"""

from __future__ import annotations

import attrs

from ._converter import Int64
from .common import LogId

_ZERO = Int64(0)

__all__ = [
    "Checkpoint",
    "InclusionPromise",
    "InclusionProof",
    "KindVersion",
    "TransparencyLogEntry",
]


@attrs.frozen
class KindVersion:
    kind: str = ""
    version: str = ""


@attrs.frozen
class Checkpoint:
    """A signed note (checkpoint) as text."""

    envelope: str = ""


@attrs.frozen
class InclusionProof:
    """An RFC 6962 inclusion proof and the checkpoint whose root it reaches."""

    log_index: Int64 = _ZERO
    root_hash: bytes = b""
    tree_size: Int64 = _ZERO
    hashes: tuple[bytes, ...] = ()
    checkpoint: Checkpoint | None = None


@attrs.frozen
class InclusionPromise:
    """A Rekor v1 signed entry timestamp (SET)."""

    signed_entry_timestamp: bytes = b""


@attrs.frozen
class TransparencyLogEntry:
    log_index: Int64 = _ZERO
    log_id: LogId | None = None
    kind_version: KindVersion | None = None
    integrated_time: Int64 = _ZERO
    inclusion_promise: InclusionPromise | None = None
    inclusion_proof: InclusionProof | None = None
    canonicalized_body: bytes = b""
