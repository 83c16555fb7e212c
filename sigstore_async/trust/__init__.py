"""Trust material, indexed for verification (sans-I/O).

Owns: turning a :class:`~sigstore_async.models.TrustedRoot` into parsed keys and
certificates indexed by key id and validity window, once, so that thousands of
verifications share the parsing; and the embedded public-good trust roots.
Does not own: fetching trust material (that is the TUF shell's job) or deciding
what a bundle proves (the verifier's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from typing import Literal
from urllib.parse import urlsplit

import attrs
from cryptography import x509

from .._core.keys import KeyError_, PublicKey, load_der_public_key
from .._core.x509 import PARSE_ERRORS
from ..errors import InvalidTrustRoot
from ..models.common import TimeRange
from ..models.trust_root import (
    CertificateAuthority,
    SigningConfig,
    TransparencyLogInstance,
    TrustedRoot,
)

__all__ = [
    "CertificateAuthorityKey",
    "LogKey",
    "TrustMaterial",
    "embedded_signing_config",
    "embedded_trusted_root",
    "embedded_tuf_root",
]

Instance = Literal["production", "staging"]


@attrs.frozen
class LogKey:
    """A transparency or CT log's key with the window in which it may be used."""

    key_id: bytes
    key: PublicKey
    valid_for: TimeRange
    base_url: str
    #: The name the log signs checkpoints as: the host[:port] of its base URL.
    name: str
    #: The key's DER SubjectPublicKeyInfo as the trusted root gives it (it
    #: names the key in memo keys).
    spki: bytes = b""

    def valid_at(self, when: datetime) -> bool:
        return self.valid_for.contains(when)


@attrs.frozen
class CertificateAuthorityKey:
    """A CA (Fulcio or a TSA): its chain leaf-most first, and its validity."""

    chain: tuple[x509.Certificate, ...]
    chain_der: tuple[bytes, ...]
    valid_for: TimeRange
    uri: str

    def valid_at(self, when: datetime) -> bool:
        return self.valid_for.contains(when)


def _log_keys(logs: Sequence[TransparencyLogInstance], field: str) -> dict[bytes, list[LogKey]]:
    index: dict[bytes, list[LogKey]] = {}
    for i, log in enumerate(logs):
        # Both are checked by the model.
        assert log.public_key is not None
        assert log.log_id is not None
        try:
            key = load_der_public_key(log.public_key.raw_bytes)
        except KeyError_:
            # A key this client cannot use is skipped, not fatal: entries that
            # name it fail to verify, entries from other logs still can.
            continue
        valid_for = log.public_key.valid_for or TimeRange()
        # Logs sign checkpoints under their host (with the port, if the URL has one).
        try:
            name = urlsplit(log.base_url).netloc or log.base_url
        except ValueError as e:  # e.g. an unclosed IPv6 host
            raise InvalidTrustRoot(
                f"baseUrl is not a URL: {e}", path=f"$.{field}[{i}].baseUrl"
            ) from e
        entry = LogKey(
            key_id=log.log_id.key_id,
            key=key,
            valid_for=valid_for,
            base_url=log.base_url,
            name=name,
            spki=log.public_key.raw_bytes,
        )
        index.setdefault(entry.key_id, []).append(entry)
        if log.checkpoint_key_id is not None and log.checkpoint_key_id.key_id:
            index.setdefault(log.checkpoint_key_id.key_id, []).append(entry)
    return index


def _authorities(
    cas: Sequence[CertificateAuthority], field: str
) -> tuple[CertificateAuthorityKey, ...]:
    out = []
    for i, ca in enumerate(cas):
        assert ca.cert_chain is not None
        ders = tuple(c.raw_bytes for c in ca.cert_chain.certificates)
        try:
            chain = tuple(x509.load_der_x509_certificate(d) for d in ders)
        except PARSE_ERRORS as e:
            raise InvalidTrustRoot(
                f"malformed certificate: {e}", path=f"$.{field}[{i}].certChain"
            ) from e
        out.append(
            CertificateAuthorityKey(
                chain=chain, chain_der=ders, valid_for=ca.valid_for or TimeRange(), uri=ca.uri
            )
        )
    return tuple(out)


@attrs.frozen(eq=False)
class TrustMaterial:
    """A trusted root, parsed once and indexed for verification.

    Build with :meth:`from_trusted_root`. Immutable and safe to share between
    any number of concurrent verifications.
    """

    trusted_root: TrustedRoot
    tlogs: dict[bytes, list[LogKey]]
    ctlogs: dict[bytes, list[LogKey]]
    fulcio: tuple[CertificateAuthorityKey, ...]
    tsas: tuple[CertificateAuthorityKey, ...]
    #: A digest of the trusted root, to key caches that depend on it.
    fingerprint: bytes

    @classmethod
    def from_trusted_root(cls, root: TrustedRoot) -> TrustMaterial:
        """Index a trusted root.

        Raises:
            InvalidTrustRoot: a certificate in it cannot be parsed.
        """
        return cls(
            trusted_root=root,
            tlogs=_log_keys(root.tlogs, "tlogs"),
            ctlogs=_log_keys(root.ctlogs, "ctlogs"),
            fulcio=_authorities(root.certificate_authorities, "certificateAuthorities"),
            tsas=_authorities(root.timestamp_authorities, "timestampAuthorities"),
            fingerprint=hashlib.sha256(root.to_json().encode()).digest(),
        )

    @classmethod
    def from_json(cls, data: str | bytes) -> TrustMaterial:
        """Parse and index a ``trusted_root.json`` document.

        Raises:
            InvalidTrustRoot: the document is malformed.
        """
        return cls.from_trusted_root(TrustedRoot.from_json(data))

    def tlog_keys(self, key_id: bytes) -> list[LogKey]:
        """The transparency log keys with this id (usually one)."""
        return self.tlogs.get(key_id, [])

    def ct_key(self, key_id: bytes, when: datetime) -> PublicKey | None:
        """The CT log key with this id valid at ``when``, if any."""
        for k in self.ctlogs.get(key_id, []):
            if k.valid_at(when):
                return k.key
        return None


def _read_embedded(instance: Instance, name: str) -> bytes:
    if instance not in ("production", "staging"):
        raise ValueError(f"unknown instance {instance!r}")
    ref = resources.files("sigstore_async.trust._embedded").joinpath(instance, name)
    return ref.read_bytes()


def embedded_trusted_root(instance: Instance = "production") -> TrustedRoot:
    """The public-good trusted root embedded in this package (see PROVENANCE.md).

    It is as fresh as this release of the package; prefer a TUF refresh.
    """
    return TrustedRoot.from_json(_read_embedded(instance, "trusted_root.json"))


def embedded_signing_config(instance: Instance = "production") -> SigningConfig:
    """The public-good signing config embedded in this package."""
    return SigningConfig.from_json(_read_embedded(instance, "signing_config.json"))


def embedded_tuf_root(instance: Instance = "production") -> bytes:
    """The TUF bootstrap ``root.json`` of a public-good repository."""
    return _read_embedded(instance, "root.json")
