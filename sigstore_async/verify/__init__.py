"""Bundle verification: the sans-I/O pipeline, policies, and the async Verifier."""

from .artifact import Artifact, ArtifactHasher
from .core import (
    Statement,
    VerificationOptions,
    VerificationResult,
    VerifiedTime,
    VerifyCache,
    VerifyingKey,
    verify_bundle,
)
from .policy import EXTENSION_OIDS, AllOf, AnyOf, Custom, Extension, Identity, Policy, UnsafeNoOp
from .verifier import Verifier, VerifyOutcome

__all__ = [
    "EXTENSION_OIDS",
    "AllOf",
    "AnyOf",
    "Artifact",
    "ArtifactHasher",
    "Custom",
    "Extension",
    "Identity",
    "Policy",
    "Statement",
    "UnsafeNoOp",
    "VerificationOptions",
    "VerificationResult",
    "VerifiedTime",
    "VerifyCache",
    "VerifyOutcome",
    "Verifier",
    "VerifyingKey",
    "verify_bundle",
]
