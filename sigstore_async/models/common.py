"""Messages shared by bundles and trust roots (``dev.sigstore.common.v1``).

Owns: frozen attrs models of the common messages. Wire-format mapping lives
in the converter; no I/O.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from ._converter import Int64

__all__ = [
    "HASH_ALGORITHMS",
    "DistinguishedName",
    "HashOutput",
    "LogId",
    "MessageSignature",
    "PublicKey",
    "PublicKeyIdentifier",
    "RFC3161SignedTimestamp",
    "TimeRange",
    "X509Certificate",
    "X509CertificateChain",
]

_ = Int64  # re-exported for sibling modules' annotations

#: The names of ``dev.sigstore.common.v1.HashAlgorithm`` other than its zero value
#: (``HASH_ALGORITHM_UNSPECIFIED``, which means "not set").
HASH_ALGORITHMS = frozenset({"SHA2_256", "SHA2_384", "SHA2_512", "SHA3_256", "SHA3_384"})


@attrs.frozen
class HashOutput:
    """A digest and the algorithm that produced it (``SHA2_256`` ...)."""

    algorithm: str = ""
    digest: bytes = b""


@attrs.frozen
class MessageSignature:
    """A signature over an artifact's bytes, with an optional digest hint."""

    message_digest: HashOutput | None = None
    signature: bytes = b""


@attrs.frozen
class LogId:
    """A transparency log's identifier: the hash of its key (RFC 6962 3.2)."""

    key_id: bytes = b""


@attrs.frozen
class RFC3161SignedTimestamp:
    """A DER ``TimeStampResp`` from an RFC 3161 timestamp authority."""

    signed_timestamp: bytes = b""


@attrs.frozen
class PublicKeyIdentifier:
    """An opaque hint naming the key a bundle was signed with (untrusted)."""

    hint: str = ""


@attrs.frozen
class X509Certificate:
    """One DER X.509 certificate."""

    raw_bytes: bytes = b""


@attrs.frozen
class X509CertificateChain:
    """Certificates ordered leaf-most first."""

    certificates: tuple[X509Certificate, ...] = ()


@attrs.frozen
class TimeRange:
    """A closed validity interval; a missing end is open-ended."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` lies in the interval (both ends inclusive).

        A range without a start contains nothing: the trust root must say
        when a key became valid.
        """
        if self.start is None or when < self.start:
            return False
        return self.end is None or when <= self.end


@attrs.frozen
class PublicKey:
    """A DER SubjectPublicKeyInfo with its algorithm and validity."""

    raw_bytes: bytes = b""
    key_details: str = ""
    valid_for: TimeRange | None = None


@attrs.frozen
class DistinguishedName:
    organization: str = ""
    common_name: str = ""
