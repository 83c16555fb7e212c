"""Sigstore's messages as frozen attrs models (sans-I/O).

One private cattrs converter owns the protobuf-JSON wire format; binary
protobuf is supported for bundles.
"""

from .bundle import Bundle, TimestampVerificationData, VerificationMaterial
from .common import (
    HashOutput,
    LogId,
    MessageSignature,
    PublicKey,
    PublicKeyIdentifier,
    RFC3161SignedTimestamp,
    TimeRange,
    X509Certificate,
    X509CertificateChain,
)
from .dsse import Envelope, Signature
from .rekor import Checkpoint, InclusionPromise, InclusionProof, KindVersion, TransparencyLogEntry
from .trust_root import (
    CertificateAuthority,
    ClientTrustConfig,
    Service,
    ServiceConfiguration,
    SigningConfig,
    TransparencyLogInstance,
    TrustedRoot,
)

__all__ = [
    "Bundle",
    "CertificateAuthority",
    "Checkpoint",
    "ClientTrustConfig",
    "Envelope",
    "HashOutput",
    "InclusionPromise",
    "InclusionProof",
    "KindVersion",
    "LogId",
    "MessageSignature",
    "PublicKey",
    "PublicKeyIdentifier",
    "RFC3161SignedTimestamp",
    "Service",
    "ServiceConfiguration",
    "Signature",
    "SigningConfig",
    "TimeRange",
    "TimestampVerificationData",
    "TransparencyLogEntry",
    "TransparencyLogInstance",
    "TrustedRoot",
    "VerificationMaterial",
    "X509Certificate",
    "X509CertificateChain",
]
