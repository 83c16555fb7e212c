"""Signing: service selection (``config``) and bundle assembly (``assembly``),
both sans-I/O, under the async :class:`Signer` shell (``signer``)."""

from .assembly import SignedMessage, in_toto_statement
from .config import SigningPlan, plan_signing
from .signer import (
    ArtifactInput,
    Attestation,
    KeyType,
    Payload,
    Signer,
    SignInput,
    SignOutcome,
    SignProgress,
    SignResults,
    Subject,
    TokenSource,
)

__all__ = [
    "ArtifactInput",
    "Attestation",
    "KeyType",
    "Payload",
    "SignInput",
    "SignOutcome",
    "SignProgress",
    "SignResults",
    "SignedMessage",
    "Signer",
    "SigningPlan",
    "Subject",
    "TokenSource",
    "in_toto_statement",
    "plan_signing",
]
