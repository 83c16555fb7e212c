"""Identity policies: what a signing certificate must say (sans-I/O).

Owns: policy objects that accept or reject the identity of a Fulcio leaf
certificate (its SAN, OIDC issuer, and the Sigstore extensions OIDs
1.3.6.1.4.1.57264.1.1 to .1.22). Exact values and full-match regular
expressions; all-of, any-of and custom combinations. Does not own: reading the
certificate (``_core.x509``) or any other verification step.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

import attrs

from ..errors import PolicyError

__all__ = [
    "EXTENSION_OIDS",
    "AllOf",
    "AnyOf",
    "CertificateIdentity",
    "Custom",
    "Extension",
    "Identity",
    "Policy",
    "UnsafeNoOp",
]

logger = logging.getLogger(__name__)

_ARC = "1.3.6.1.4.1.57264.1."

#: Fulcio's certificate extensions by name (Fulcio's OID registry).
EXTENSION_OIDS: Mapping[str, str] = {
    "issuer_v1": _ARC + "1",
    "github_workflow_trigger": _ARC + "2",
    "github_workflow_sha": _ARC + "3",
    "github_workflow_name": _ARC + "4",
    "github_workflow_repository": _ARC + "5",
    "github_workflow_ref": _ARC + "6",
    "other_name": _ARC + "7",
    "issuer": _ARC + "8",
    "build_signer_uri": _ARC + "9",
    "build_signer_digest": _ARC + "10",
    "runner_environment": _ARC + "11",
    "source_repository_uri": _ARC + "12",
    "source_repository_digest": _ARC + "13",
    "source_repository_ref": _ARC + "14",
    "source_repository_identifier": _ARC + "15",
    "source_repository_owner_uri": _ARC + "16",
    "source_repository_owner_identifier": _ARC + "17",
    "build_config_uri": _ARC + "18",
    "build_config_digest": _ARC + "19",
    "build_trigger": _ARC + "20",
    "run_invocation_uri": _ARC + "21",
    "source_repository_visibility_at_signing": _ARC + "22",
}


@runtime_checkable
class CertificateIdentity(Protocol):
    """What a policy sees of a signing certificate."""

    @property
    def san(self) -> str | None: ...
    @property
    def issuer(self) -> str | None: ...
    @property
    def extensions(self) -> Mapping[str, str]: ...


class Policy(Protocol):
    """A check over a certificate's identity. ``check`` raises ``PolicyError``."""

    def check(self, identity: CertificateIdentity) -> None: ...


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"invalid regular expression {pattern!r}: {e}") from e


@attrs.frozen
class _Matcher:
    exact: str | None
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, exact: str | None, pattern: str | None, what: str) -> _Matcher:
        if (exact is None) == (pattern is None):
            raise TypeError(f"give exactly one of {what}= and {what}_pattern=")
        return cls(exact, _compile(pattern) if pattern is not None else None)

    def matches(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.exact is not None:
            return value == self.exact
        assert self.pattern is not None
        return self.pattern.fullmatch(value) is not None

    def describe(self) -> str:
        if self.exact is not None:
            return repr(self.exact)
        assert self.pattern is not None
        return f"/{self.pattern.pattern}/"


class Identity:
    """The certificate's identity (SAN) and OIDC issuer.

    Each is given either exactly (``identity=``, ``issuer=``) or as a regular
    expression that must match the whole value (``identity_pattern=``,
    ``issuer_pattern=``).
    """

    def __init__(
        self,
        identity: str | None = None,
        issuer: str | None = None,
        *,
        identity_pattern: str | None = None,
        issuer_pattern: str | None = None,
    ) -> None:
        self._identity = _Matcher.of(identity, identity_pattern, "identity")
        self._issuer = _Matcher.of(issuer, issuer_pattern, "issuer")

    def check(self, identity: CertificateIdentity) -> None:
        if not self._issuer.matches(identity.issuer):
            raise PolicyError(
                f"certificate issuer {identity.issuer!r} does not match {self._issuer.describe()}"
            )
        if not self._identity.matches(identity.san):
            raise PolicyError(
                f"certificate identity {identity.san!r} does not match {self._identity.describe()}"
            )

    def __repr__(self) -> str:
        return f"Identity({self._identity.describe()}, issuer={self._issuer.describe()})"


class Extension:
    """One Fulcio extension of the certificate, by OID or by name.

    ``Extension("source_repository_ref", "refs/heads/main")`` or
    ``Extension("1.3.6.1.4.1.57264.1.14", pattern="refs/tags/v.*")``.
    """

    def __init__(self, oid: str, value: str | None = None, *, pattern: str | None = None) -> None:
        self.oid = EXTENSION_OIDS.get(oid, oid)
        if not self.oid.startswith(_ARC):
            raise ValueError(f"unknown Fulcio extension {oid!r}")
        self._matcher = _Matcher.of(value, pattern, "value")

    def check(self, identity: CertificateIdentity) -> None:
        actual = identity.extensions.get(self.oid)
        if not self._matcher.matches(actual):
            raise PolicyError(
                f"extension {self.oid} is {actual!r}, expected {self._matcher.describe()}"
            )

    def __repr__(self) -> str:
        return f"Extension({self.oid}, {self._matcher.describe()})"


class AllOf:
    """Every policy must hold. An empty ``AllOf`` is refused (it would accept anything)."""

    def __init__(self, *policies: Policy) -> None:
        if not policies:
            raise ValueError("AllOf needs at least one policy")
        self.policies = policies

    def check(self, identity: CertificateIdentity) -> None:
        for p in self.policies:
            p.check(identity)


class AnyOf:
    """At least one policy must hold."""

    def __init__(self, *policies: Policy) -> None:
        if not policies:
            raise ValueError("AnyOf needs at least one policy")
        self.policies = policies

    def check(self, identity: CertificateIdentity) -> None:
        failures = []
        for p in self.policies:
            try:
                p.check(identity)
                return
            except PolicyError as e:
                failures.append(e.message)
        raise PolicyError("no policy matched: " + "; ".join(failures))


class Custom:
    """A callable that returns ``True`` to accept (or raises ``PolicyError``)."""

    def __init__(
        self, predicate: Callable[[CertificateIdentity], bool], name: str = "custom"
    ) -> None:
        self.predicate = predicate
        self.name = name

    def check(self, identity: CertificateIdentity) -> None:
        try:
            ok = self.predicate(identity)
        except PolicyError:
            raise
        except Exception as e:
            raise PolicyError(f"policy {self.name} raised {type(e).__name__}: {e}") from e
        if ok is not True:
            raise PolicyError(f"policy {self.name} rejected the certificate")


class UnsafeNoOp:
    """Accepts any identity. Only for tests and for key-signed bundles where
    the key is the policy; logs a warning each time it is used."""

    def check(self, identity: CertificateIdentity) -> None:
        logger.warning("UnsafeNoOp policy: the certificate identity is NOT checked")
