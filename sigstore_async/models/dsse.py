"""DSSE envelopes (``io.intoto.Envelope``) and their pre-authentication encoding.

Owns: the envelope model and PAE. No I/O.
"""

from __future__ import annotations

import attrs

__all__ = ["Envelope", "Signature", "pae"]


@attrs.frozen
class Signature:
    sig: bytes = b""
    keyid: str = ""


@attrs.frozen
class Envelope:
    """A DSSE envelope: a payload, its type, and signatures over its PAE."""

    payload: bytes = b""
    payload_type: str = ""
    signatures: tuple[Signature, ...] = ()

    def pae(self) -> bytes:
        """The bytes that DSSE signatures cover."""
        return pae(self.payload_type, self.payload)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding:
    ``"DSSEv1" SP len(type) SP type SP len(body) SP body`` (lengths in ASCII decimal
    of the UTF-8 byte length)."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)
