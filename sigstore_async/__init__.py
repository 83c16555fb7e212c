"""sigstore-async: an async-first Sigstore client SDK.

Every network operation is an awaitable; verification and signing of many
artifacts run concurrently without blocking the event loop. The public names
are re-exported here; everything under an underscore is private.
"""

from .errors import (
    CertificateError,
    CertificateTransparencyError,
    IdentityError,
    InvalidBundle,
    InvalidTrustRoot,
    NetworkError,
    PolicyError,
    ServiceError,
    SignatureError,
    SigstoreError,
    TimestampError,
    TransparencyLogError,
    TrustError,
    VerificationError,
)
from .models import Bundle, ClientTrustConfig, SigningConfig, TrustedRoot
from .trust import TrustMaterial
from .verify import (
    AllOf,
    AnyOf,
    Artifact,
    Custom,
    Extension,
    Identity,
    Policy,
    Statement,
    UnsafeNoOp,
    VerificationOptions,
    VerificationResult,
    VerifiedTime,
    Verifier,
    VerifyingKey,
    VerifyOutcome,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "AllOf",
    "AnyOf",
    "Artifact",
    "Bundle",
    "CertificateError",
    "CertificateTransparencyError",
    "ClientTrustConfig",
    "Custom",
    "Extension",
    "Identity",
    "IdentityError",
    "InvalidBundle",
    "InvalidTrustRoot",
    "NetworkError",
    "Policy",
    "PolicyError",
    "ServiceError",
    "SignatureError",
    "SigningConfig",
    "SigstoreError",
    "Statement",
    "TimestampError",
    "TransparencyLogError",
    "TrustError",
    "TrustMaterial",
    "TrustedRoot",
    "UnsafeNoOp",
    "VerificationError",
    "VerificationOptions",
    "VerificationResult",
    "VerifiedTime",
    "Verifier",
    "VerifyOutcome",
    "VerifyingKey",
    "__version__",
]
