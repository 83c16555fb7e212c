"""The one error hierarchy of sigstore-async, split by who is at fault.

This module owns every exception type the SDK raises on purpose. It owns no
messages for people: exceptions carry data (the failed step, the field path,
the underlying cause), and the CLI renders advice.

::

    SigstoreError
    ├── VerificationError            the evidence is bad: never retry
    │   ├── InvalidBundle            bundle structure or encoding         step "bundle"
    │   ├── CertificateError         chain, validity, key usage           step "certificate"
    │   ├── CertificateTransparencyError  embedded SCTs     step "certificate transparency"
    │   ├── TransparencyLogError     log entry body, proof, checkpoint, SET  step "transparency log"
    │   ├── TimestampError           RFC 3161 timestamps, time thresholds step "timestamp"
    │   ├── SignatureError           the signature over the artifact      step "signature"
    │   └── PolicyError              identity policy                      step "policy"
    ├── TrustError                   trust material is missing, malformed or unverifiable
    │   └── InvalidTrustRoot         trusted root / signing config parse failure
    ├── ServiceError                 a Sigstore service answered badly
    │   └── NetworkError             the service could not be reached
    └── IdentityError                an OIDC identity token is unusable

Misuse of the API (wrong argument types, calling a closed client) raises the
built-in ``TypeError``/``ValueError``/``RuntimeError`` instead.
"""

from __future__ import annotations

__all__ = [
    "CertificateError",
    "CertificateTransparencyError",
    "IdentityError",
    "InvalidBundle",
    "InvalidTrustRoot",
    "NetworkError",
    "PolicyError",
    "ServiceError",
    "SignatureError",
    "SigstoreError",
    "TimestampError",
    "TransparencyLogError",
    "TrustError",
    "VerificationError",
]


class SigstoreError(Exception):
    """Base of every error that sigstore-async raises on purpose."""


class VerificationError(SigstoreError):
    """The presented evidence does not verify. Retrying cannot help.

    ``step`` names the verification step that rejected the evidence; it is
    stable and meant for programs (the CLI, JSON output, metrics).
    """

    step: str = "verification"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: Where in the input the problem is (a JSON path such as
        #: ``$.verificationMaterial.tlogEntries[0].logIndex``), when known.
        self.path = path

    def __str__(self) -> str:
        if self.path:
            return f"{self.step}: {self.message} (at {self.path})"
        return f"{self.step}: {self.message}"


class InvalidBundle(VerificationError):
    """The bundle cannot be parsed, or breaks an invariant of its version."""

    step = "bundle"


class CertificateError(VerificationError):
    """The signing certificate does not chain, is not valid at the verified
    times, or is not a code-signing leaf."""

    step = "certificate"


class CertificateTransparencyError(VerificationError):
    """Not enough valid signed certificate timestamps (SCTs)."""

    step = "certificate transparency"


class TransparencyLogError(VerificationError):
    """A transparency log entry does not match the bundle or cannot be proven."""

    step = "transparency log"


class TimestampError(VerificationError):
    """An RFC 3161 timestamp is invalid, or too few verified times were found."""

    step = "timestamp"


class SignatureError(VerificationError):
    """The signature (or DSSE envelope) does not verify over the artifact."""

    step = "signature"


class PolicyError(VerificationError):
    """The signing certificate does not satisfy the identity policy."""

    step = "policy"


class TrustError(SigstoreError):
    """Trust material is missing, malformed, expired or failed verification."""


class InvalidTrustRoot(TrustError):
    """A trusted root, signing config or client trust config cannot be parsed."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        if self.path:
            return f"{self.message} (at {self.path})"
        return self.message


class ServiceError(SigstoreError):
    """A Sigstore service (Fulcio, Rekor, a TSA, an OIDC issuer) answered with
    an error or with a response that cannot be used."""

    def __init__(
        self, message: str, *, service: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.status = status


class NetworkError(ServiceError):
    """A Sigstore service could not be reached (connection, timeout, TLS)."""


class IdentityError(SigstoreError):
    """An OIDC identity token is missing, malformed, expired or unusable."""
