"""LocalSigstore's RFC 3161 timestamp authority.

Owns: ``POST /api/v1/timestamp`` (a DER ``TimeStampReq``, or the JSON request
of Sigstore's timestamp-authority) answered with a DER ``TimeStampResp``:
status granted, a CMS ``SignedData`` (RFC 5652) over a ``TSTInfo`` (RFC 3161
2.4.2) with the request's imprint and nonce, signed by the TSA leaf with the
content type, message digest and ESS signing-certificate-v2 attributes; and
``GET /api/v1/timestamp/certchain`` (PEM, leaf first).

Does not own: the TSA's keys (``_pki``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from datetime import datetime
from typing import Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .._time import Clock
from . import _der
from ._der import DerError, Reader
from ._faults import Adversary, Faults
from ._http import Request, Response, Route, bad_request
from ._pki import InstanceKeys, pem_chain

__all__ = ["TSA_POLICY", "TimestampAuthority"]

#: The policy Sigstore's timestamp-authority stamps under.
TSA_POLICY = "1.3.6.1.4.1.57264.2"

_HASH_OIDS = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_HASH_NAMES = {name: oid for oid, name in _HASH_OIDS.items()}
_SIGNED_DATA = "1.2.840.113549.1.7.2"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_SIGNING_TIME = "1.2.840.113549.1.9.5"
_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
_ECDSA_SHA256 = "1.2.840.10045.4.3.2"


@attrs.frozen
class TimestampRequest:
    hash_name: str
    #: The request's AlgorithmIdentifier, echoed verbatim in the TSTInfo.
    algorithm_der: bytes
    digest: bytes
    nonce: int | None
    cert_req: bool
    policy: str | None


def parse_request(der: bytes) -> TimestampRequest:
    """Parse a DER ``TimeStampReq`` (RFC 3161 2.4.1).

    Raises:
        DerError: malformed, or an unsupported version or hash.
    """
    outer = Reader(der)
    req = outer.enter(_der.SEQUENCE)
    outer.finish()
    if req.integer() != 1:
        raise DerError("unsupported TimeStampReq version")
    imprint = req.enter(_der.SEQUENCE)
    _, algorithm_der, algorithm_content = imprint.read(_der.SEQUENCE)
    algorithm = Reader(algorithm_content)
    _, _, oid_content = algorithm.read(_der.OID)
    if not algorithm.done():
        algorithm.read(_der.NULL)
    algorithm.finish()
    hash_name = _HASH_OIDS.get(_der.oid_text(oid_content))
    if hash_name is None:
        raise DerError("unsupported message imprint hash algorithm")
    _, _, digest = imprint.read(_der.OCTET_STRING)
    imprint.finish()
    if len(digest) != hashlib.new(hash_name).digest_size:
        raise DerError(f"the hashed message is not a {hash_name} digest")
    policy = nonce = None
    cert_req = False
    if req.peek() == _der.OID:
        policy = _der.oid_text(req.read(_der.OID)[2])
    if req.peek() == _der.INTEGER:
        nonce = req.integer()
    if req.peek() == _der.BOOLEAN:
        cert_req = req.boolean()
    if req.peek() == 0xA0:
        req.read(0xA0)  # extensions: none are supported, none are critical to us
    req.finish()
    return TimestampRequest(hash_name, algorithm_der, digest, nonce, cert_req, policy)


def parse_json_request(obj: dict[str, Any]) -> TimestampRequest:
    """The JSON form of Sigstore's timestamp-authority.

    Raises:
        ValueError: malformed.
    """
    hash_name = obj.get("hashAlgorithm", "sha256")
    if not isinstance(hash_name, str) or hash_name not in _HASH_NAMES:
        raise ValueError(f"unsupported hashAlgorithm {hash_name!r}")
    artifact_hash = obj.get("artifactHash")
    if not isinstance(artifact_hash, str):
        raise ValueError("artifactHash must be base64")
    digest = base64.b64decode(artifact_hash, validate=True)
    if len(digest) != hashlib.new(hash_name).digest_size:
        raise ValueError(f"artifactHash is not a {hash_name} digest")
    nonce = obj.get("nonce")
    if nonce is not None and (not isinstance(nonce, int) or isinstance(nonce, bool)):
        raise ValueError("nonce must be an integer")
    policy = obj.get("tsaPolicyOID") or None
    if policy is not None and not isinstance(policy, str):
        raise ValueError("tsaPolicyOID must be a string")
    return TimestampRequest(
        hash_name=hash_name,
        algorithm_der=_der.seq(_der.oid(_HASH_NAMES[hash_name])),
        digest=digest,
        nonce=nonce,
        cert_req=bool(obj.get("certificates", False)),
        policy=policy,
    )


def _algorithm(dotted: str) -> bytes:
    # RFC 5754 / RFC 5758: SHA-2 and ECDSA AlgorithmIdentifiers carry no parameters.
    return _der.seq(_der.oid(dotted))


def _attribute(dotted: str, value: bytes) -> bytes:
    return _der.seq(_der.oid(dotted), _der.set_of(value))


class TimestampAuthority:
    def __init__(self, keys: InstanceKeys, *, clock: Clock, faults: Faults) -> None:
        self._keys = keys
        self._clock = clock
        self._faults = faults

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/api/v1/timestamp", self._timestamp),
            Route("GET", "/api/v1/timestamp/certchain", self._certchain),
        ]

    async def _certchain(self, request: Request) -> Response:
        text = "".join(pem_chain(self._keys.tsa.chain))
        return Response.raw(text.encode(), "application/pem-certificate-chain")

    async def _timestamp(self, request: Request) -> Response:
        try:
            if request.content_type == "application/json":
                ts_request = parse_json_request(request.json_object())
            else:
                ts_request = parse_request(request.body)
        except (DerError, ValueError, binascii.Error) as e:
            raise bad_request(f"malformed timestamp request: {e}") from e
        if ts_request.policy is not None and ts_request.policy != TSA_POLICY:
            raise bad_request(f"unsupported TSA policy {ts_request.policy}")
        return Response.raw(self.respond(ts_request), "application/timestamp-reply")

    def respond(self, req: TimestampRequest) -> bytes:
        """A granted ``TimeStampResp`` for ``req``."""
        leaf = self._keys.tsa.certificate
        leaf_der = leaf.public_bytes(serialization.Encoding.DER)
        digest = req.digest
        if self._faults.active(Adversary.TIMESTAMP_WRONG_IMPRINT):
            digest = hashlib.new(req.hash_name, b"something else" + digest).digest()
        now = self._clock()
        # Whole seconds, like Sigstore's TSA; some parsers drop fractions anyway. Never
        # before a Fulcio leaf issued in the same second (its notBefore is whole seconds too).
        gen_time = now.replace(microsecond=0)
        fields = [
            _der.integer(1),
            _der.oid(TSA_POLICY),
            _der.seq(req.algorithm_der, _der.octets(digest)),
            _der.integer(secrets.randbits(127) + 1),
            _der.generalized_time(gen_time),
        ]
        if req.nonce is not None:
            fields.append(_der.integer(req.nonce))
        tst_info = _der.seq(*fields)

        # RFC 5035: SigningCertificateV2 with one ESSCertIDv2 (default hash, SHA-256).
        ess = _der.seq(_der.seq(_der.seq(_der.octets(hashlib.sha256(leaf_der).digest()))))
        signed_attrs = [
            _attribute(_CONTENT_TYPE, _der.oid(_TST_INFO)),
            _attribute(_SIGNING_TIME, _utc_time(gen_time)),
            _attribute(_MESSAGE_DIGEST, _der.octets(hashlib.sha256(tst_info).digest())),
            _attribute(_SIGNING_CERT_V2, ess),
        ]
        # RFC 5652 5.4: the signature is over the DER SET OF the attributes.
        attrs_set = _der.set_of(*signed_attrs)
        key: ec.EllipticCurvePrivateKey = (
            self._keys.rogue_ec_key
            if self._faults.active(Adversary.TIMESTAMP_WRONG_KEY)
            else self._keys.tsa.key
        )
        signature = key.sign(attrs_set, ec.ECDSA(hashes.SHA256()))
        signer_info = _der.seq(
            _der.integer(1),
            _issuer_and_serial(leaf),
            _algorithm("2.16.840.1.101.3.4.2.1"),
            _der.implicit(0, attrs_set, constructed=True),
            _algorithm(_ECDSA_SHA256),
            _der.octets(signature),
        )
        signed_data_fields = [
            _der.integer(3),
            _der.set_of(_algorithm("2.16.840.1.101.3.4.2.1")),
            _der.seq(_der.oid(_TST_INFO), _der.explicit(0, _der.octets(tst_info))),
        ]
        if req.cert_req:
            # RFC 3161 2.4.1: certReq asks for the TSA's certificate in the token.
            signed_data_fields.append(_der.implicit(0, _der.set_of(leaf_der), constructed=True))
        signed_data_fields.append(_der.set_of(signer_info))
        token = _der.seq(_der.oid(_SIGNED_DATA), _der.explicit(0, _der.seq(*signed_data_fields)))
        status = _der.seq(_der.integer(0))  # PKIStatusInfo: granted
        return _der.seq(status, token)


def _issuer_and_serial(cert: x509.Certificate) -> bytes:
    issuer = cert.issuer.public_bytes()
    return _der.seq(issuer, _der.integer(cert.serial_number))


def _utc_time(when: datetime) -> bytes:
    # RFC 5652 11.3: signingTime is UTCTime for years 1950 to 2049.
    return _der.tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode("ascii"))
