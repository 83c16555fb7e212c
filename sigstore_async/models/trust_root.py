"""Trusted roots, signing configs and client trust configs
(``dev.sigstore.trustroot.v1``).

Owns: the models and their parsing, raising ``InvalidTrustRoot`` with the path
of a bad field. Indexing keys by id and validity for verification is
``sigstore_async.trust``'s job. No I/O.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import attrs

from .._core import JSON_ERRORS
from ..errors import InvalidTrustRoot
from ._converter import WireFormatError, structure, unstructure
from .common import DistinguishedName, LogId, PublicKey, TimeRange, X509CertificateChain

__all__ = [
    "CertificateAuthority",
    "ClientTrustConfig",
    "Service",
    "ServiceConfiguration",
    "SigningConfig",
    "TransparencyLogInstance",
    "TrustedRoot",
]

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
TRUSTED_ROOT_MEDIA_TYPES = {
    TRUSTED_ROOT_MEDIA_TYPE,
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
}
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"

T = TypeVar("T", bound="_JsonModel")


class _JsonModel:
    """Shared reading and writing for the trust-root family of documents."""

    def _check(self) -> None:
        """Invariants that span fields; overridden where there are any."""

    @classmethod
    def from_json(cls: type[T], data: str | bytes) -> T:
        """Parse from protobuf-JSON text.

        Raises:
            InvalidTrustRoot: not JSON, or not a well-formed document.
        """
        try:
            obj = json.loads(data)
        except JSON_ERRORS as e:
            raise InvalidTrustRoot(f"not valid JSON: {e}", path="$") from e
        return cls.from_dict(obj)

    @classmethod
    def from_dict(cls: type[T], data: object) -> T:
        """Parse from a decoded protobuf-JSON object.

        Raises:
            InvalidTrustRoot: not a well-formed document.
        """
        try:
            value = structure(data, cls)
        except WireFormatError as e:
            raise InvalidTrustRoot(f"{cls.__name__}: {e.message}", path=e.path) from e
        except RecursionError as e:
            raise InvalidTrustRoot(f"{cls.__name__}: nested too deeply", path="$") from e
        value._check()
        return value

    def to_dict(self) -> dict[str, Any]:
        """The canonical protobuf-JSON object."""
        out: dict[str, Any] = unstructure(self)
        return out

    def to_json(self, *, indent: int | None = None) -> str:
        """The canonical protobuf-JSON text."""
        return json.dumps(self.to_dict(), indent=indent)


@attrs.frozen
class TransparencyLogInstance:
    """A transparency log (Rekor) or a certificate transparency log."""

    base_url: str = ""
    hash_algorithm: str = ""
    public_key: PublicKey | None = None
    log_id: LogId | None = None
    checkpoint_key_id: LogId | None = None
    operator: str = ""


@attrs.frozen
class CertificateAuthority:
    """A Fulcio CA or an RFC 3161 timestamp authority, with its chain."""

    subject: DistinguishedName | None = None
    uri: str = ""
    cert_chain: X509CertificateChain | None = None
    valid_for: TimeRange | None = None
    operator: str = ""


@attrs.frozen
class TrustedRoot(_JsonModel):
    """Everything a verifier trusts: CAs, logs, CT logs and timestamp authorities."""

    media_type: str = ""
    tlogs: tuple[TransparencyLogInstance, ...] = ()
    certificate_authorities: tuple[CertificateAuthority, ...] = ()
    ctlogs: tuple[TransparencyLogInstance, ...] = ()
    timestamp_authorities: tuple[CertificateAuthority, ...] = ()

    def _check(self) -> None:
        if self.media_type not in TRUSTED_ROOT_MEDIA_TYPES:
            raise InvalidTrustRoot(
                f"unsupported trusted root media type {self.media_type!r:.80}",
                path="$.mediaType",
            )
        for field, logs in (("tlogs", self.tlogs), ("ctlogs", self.ctlogs)):
            for i, log in enumerate(logs):
                if log.public_key is None or not log.public_key.raw_bytes:
                    raise InvalidTrustRoot("log without a public key", path=f"$.{field}[{i}]")
                if log.log_id is None or not log.log_id.key_id:
                    raise InvalidTrustRoot("log without a log id", path=f"$.{field}[{i}].logId")
        for field, cas in (
            ("certificateAuthorities", self.certificate_authorities),
            ("timestampAuthorities", self.timestamp_authorities),
        ):
            for i, ca in enumerate(cas):
                if ca.cert_chain is None or not ca.cert_chain.certificates:
                    raise InvalidTrustRoot(
                        "authority without certificates", path=f"$.{field}[{i}].certChain"
                    )


@attrs.frozen
class Service:
    """A service endpoint in a signing config."""

    url: str = ""
    major_api_version: int = 0
    valid_for: TimeRange | None = None
    operator: str = ""


@attrs.frozen
class ServiceConfiguration:
    """How many services of a kind to use: ``ANY``, ``EXACT`` (``count``) or ``ALL``."""

    selector: str = ""
    count: int = 0


@attrs.frozen
class SigningConfig(_JsonModel):
    """Where to sign: CA, OIDC, log and TSA services (SigningConfig v0.2)."""

    media_type: str = ""
    ca_urls: tuple[Service, ...] = ()
    oidc_urls: tuple[Service, ...] = ()
    rekor_tlog_urls: tuple[Service, ...] = ()
    rekor_tlog_config: ServiceConfiguration | None = None
    tsa_urls: tuple[Service, ...] = ()
    tsa_config: ServiceConfiguration | None = None

    def _check(self) -> None:
        if self.media_type != SIGNING_CONFIG_MEDIA_TYPE:
            raise InvalidTrustRoot(
                f"unsupported signing config media type {self.media_type!r:.80}",
                path="$.mediaType",
            )


@attrs.frozen
class ClientTrustConfig(_JsonModel):
    """A trusted root and a signing config in one document."""

    media_type: str = ""
    trusted_root: TrustedRoot | None = None
    signing_config: SigningConfig | None = None

    def _check(self) -> None:
        if self.media_type != CLIENT_TRUST_CONFIG_MEDIA_TYPE:
            raise InvalidTrustRoot(
                f"unsupported client trust config media type {self.media_type!r:.80}",
                path="$.mediaType",
            )
        if self.trusted_root is None:
            raise InvalidTrustRoot("missing trusted root", path="$.trustedRoot")
        if self.signing_config is None:
            raise InvalidTrustRoot("missing signing config", path="$.signingConfig")
        self.trusted_root._check()
        self.signing_config._check()
