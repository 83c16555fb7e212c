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
    │   ├── InvalidTrustRoot         trusted root / signing config parse failure
    │   └── TufError                 a TUF update or target download failed   reason
    │       ├── RepositoryUnavailable    unreachable, an HTTP error, timed out  "unavailable"
    │       ├── MetadataExpired          expired metadata (freeze attack)      "expired"
    │       ├── RollbackAttack           a version went back or mismatched     "rollback"
    │       ├── BadMetadataSignature     too few valid signatures              "signature"
    │       ├── LengthOrHashMismatch     wrong length or hash, or too large    "length or hash"
    │       ├── MalformedMetadata        not TUF metadata of the expected role "malformed"
    │       └── TargetNotFound           no trusted role lists the target      "not found"
    ├── ServiceError                 a Sigstore service answered badly
    │   ├── NetworkError             the service could not be reached
    │   └── ResponseTooLarge         a response exceeded the size allowed for it
    └── IdentityError                no usable OIDC identity token          reason
        ├── InvalidToken             not a JWT; a claim missing or mistyped  "malformed"
        ├── ExpiredToken             past its ``exp`` (with leeway)          "expired"
        ├── TokenNotYetValid         before its ``nbf``/``iat`` (leeway)     "not yet valid"
        ├── WrongAudience            ``aud`` lacks the expected audience     "audience"
        ├── WrongIssuer              ``iss`` is not the expected issuer      "issuer"
        ├── NoIdentity               no identity Fulcio would certify        "no identity"
        ├── AuthorizationFailed      an OAuth flow was refused or failed     "authorization"
        └── NoCredential             no source supplied a token              "no credential"

Misuse of the API (wrong argument types, calling a closed client) raises the
built-in ``TypeError``/``ValueError``/``RuntimeError`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "AuthorizationFailed",
    "BadMetadataSignature",
    "CertificateError",
    "CertificateTransparencyError",
    "ExpiredToken",
    "IdentityError",
    "InvalidBundle",
    "InvalidToken",
    "InvalidTrustRoot",
    "LengthOrHashMismatch",
    "MalformedMetadata",
    "MetadataExpired",
    "NetworkError",
    "NoCredential",
    "NoIdentity",
    "PolicyError",
    "RepositoryUnavailable",
    "ResponseTooLarge",
    "RollbackAttack",
    "ServiceError",
    "SignatureError",
    "SigstoreError",
    "TargetNotFound",
    "TimestampError",
    "TokenNotYetValid",
    "TransparencyLogError",
    "TrustError",
    "TufError",
    "VerificationError",
    "WrongAudience",
    "WrongIssuer",
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


class TufError(TrustError):
    """A TUF repository could not deliver trusted metadata or a target file.

    ``reason`` is stable and meant for programs, like ``VerificationError.step``.
    ``role`` names the metadata role (``"root"``, ``"timestamp"``, a delegated
    role) or, for a target file, ``"target:<path>"``; ``repository`` is the
    metadata URL. Whatever was trusted before the failed update stays trusted.
    """

    reason: str = "tuf"

    def __init__(
        self, message: str, *, role: str | None = None, repository: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.role = role
        self.repository = repository

    def __str__(self) -> str:
        where = f"{self.role}: " if self.role else ""
        return f"{where}{self.message}"


class RepositoryUnavailable(TufError):
    """The repository could not be reached, answered with an error status, or
    did not finish within the time allowed (``status`` when it answered)."""

    reason = "unavailable"

    def __init__(
        self,
        message: str,
        *,
        role: str | None = None,
        repository: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, role=role, repository=repository)
        self.status = status


class MetadataExpired(TufError):
    """Metadata that must be current has expired: a freeze attack, or a
    repository that stopped publishing."""

    reason = "expired"


class RollbackAttack(TufError):
    """A version went backwards, or metadata from two repository states was
    mixed (a version that does not match the one its parent records)."""

    reason = "rollback"


class BadMetadataSignature(TufError):
    """Metadata is not signed by a threshold of the keys trusted for its role."""

    reason = "signature"


class LengthOrHashMismatch(TufError):
    """Downloaded bytes do not have the length or hashes their parent records,
    or are longer than allowed (an endless-data attack)."""

    reason = "length or hash"


class MalformedMetadata(TufError):
    """Bytes that are not TUF metadata of the expected role."""

    reason = "malformed"


class TargetNotFound(TufError):
    """No trusted targets role lists the requested target path."""

    reason = "not found"


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


class ResponseTooLarge(ServiceError):
    """A response body was larger than the limit set for it; reading stopped there."""

    def __init__(self, message: str, *, service: str | None = None, limit: int) -> None:
        super().__init__(message, service=service)
        self.limit = limit


class IdentityError(SigstoreError):
    """No usable OIDC identity token: it is missing, malformed, expired or
    names no identity, or the flow that should have produced it failed.

    ``reason`` is stable and meant for programs, like ``VerificationError.step``.
    No identity error ever carries the token itself.
    """

    reason: str = "identity"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidToken(IdentityError):
    """The token is not a JWT, or a required claim is missing or mistyped."""

    reason = "malformed"

    def __init__(self, message: str, *, claim: str | None = None) -> None:
        super().__init__(message)
        #: The claim at fault (``"exp"``, ``"federated_claims.connector_id"``), when one is.
        self.claim = claim


class ExpiredToken(IdentityError):
    """The token's ``exp`` has passed (beyond the allowed clock leeway)."""

    reason = "expired"

    def __init__(self, message: str, *, expires_at: datetime, now: datetime) -> None:
        super().__init__(message)
        self.expires_at = expires_at
        self.now = now


class TokenNotYetValid(IdentityError):
    """The token's ``nbf`` (or ``iat``) is in the future (beyond the leeway)."""

    reason = "not yet valid"

    def __init__(self, message: str, *, valid_from: datetime, now: datetime) -> None:
        super().__init__(message)
        self.valid_from = valid_from
        self.now = now


class WrongAudience(IdentityError):
    """The token was not issued for the expected audience."""

    reason = "audience"

    def __init__(self, message: str, *, expected: str, actual: tuple[str, ...]) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class WrongIssuer(IdentityError):
    """The token comes from another issuer than the one expected."""

    reason = "issuer"

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class NoIdentity(IdentityError):
    """The claims name no identity that Fulcio would certify (an unverified
    email, a missing workflow claim, a federated token without its connector)."""

    reason = "no identity"

    def __init__(self, message: str, *, claim: str | None = None) -> None:
        super().__init__(message)
        self.claim = claim


class AuthorizationFailed(IdentityError):
    """An OAuth flow was refused or broke: the issuer answered with an OAuth
    ``error`` (``access_denied``, ``expired_token`` ...), the redirect's
    ``state`` did not match, or the user did not finish in time."""

    reason = "authorization"

    def __init__(
        self, message: str, *, error: str | None = None, description: str | None = None
    ) -> None:
        super().__init__(message)
        #: The OAuth error code (RFC 6749 5.2, RFC 8628 3.5), when the issuer sent one.
        self.error = error
        self.description = description


class NoCredential(IdentityError):
    """No configured source supplied a valid token.

    ``attempts`` holds one record per source tried
    (``sigstore_async.oidc.Attempt``: provider, outcome and reason).
    """

    reason = "no credential"

    def __init__(self, message: str, *, attempts: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)
