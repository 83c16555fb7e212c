"""Transparency log entry bodies, compared with the bundle (sans-I/O).

Owns: reading the canonicalized body of each supported entry kind and checking
that it describes exactly this bundle: the same signature, the same signing
certificate or key, the same artifact digest (or DSSE payload). Kinds:
hashedrekord 0.0.1 and 0.0.2 (including DSSE logged as hashedrekord 0.0.2 over
the PAE, as Rekor v2 does), dsse 0.0.1 and intoto 0.0.2.

Fields that only restate how the producer serialised its request (the DSSE
``envelopeHash`` and in-toto ``hash``, hashes of non-canonical JSON) are not
compared; every field that binds the entry to the bundle is.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .._core import JSON_ERRORS, Memo
from ..errors import TransparencyLogError
from ..models._direct import decode_base64_padded
from ..models.dsse import Envelope
from ..models.rekor import TransparencyLogEntry
from .artifact import DIGEST_ALGORITHMS, Artifact

__all__ = ["check_entry_body"]


_PEM_LABELS = (b"CERTIFICATE", b"PUBLIC KEY")
_HEX_NAMES = {prefix: name for name, (prefix, _, _) in DIGEST_ALGORITHMS.items()}


class _Body:
    """A typed view over a decoded JSON body that fails with a path.

    The path is kept as its steps and spelled out only for an error message.
    """

    __slots__ = ("obj", "steps")

    def __init__(self, obj: Any, steps: tuple[str | int, ...] = ()) -> None:
        self.obj = obj
        self.steps = steps

    @property
    def path(self) -> str:
        return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in self.steps)

    def get(self, *keys: str) -> _Body:
        node = self.obj
        for i, k in enumerate(keys):
            if not isinstance(node, dict) or k not in node:
                missing = _Body(None, self.steps + keys[: i + 1])
                raise TransparencyLogError(f"log entry body lacks {missing.path}")
            node = node[k]
        return _Body(node, self.steps + keys)

    def str(self) -> str:
        if not isinstance(self.obj, str):
            raise TransparencyLogError(f"log entry body: {self.path} is not a string")
        return self.obj

    def b64(self) -> bytes:
        try:
            return decode_base64_padded(self.str())
        except binascii.Error as e:
            raise TransparencyLogError(f"log entry body: {self.path} is not base64") from e

    def items(self) -> list[_Body]:
        if not isinstance(self.obj, list):
            raise TransparencyLogError(f"log entry body: {self.path} is not a list")
        return [_Body(v, (*self.steps, i)) for i, v in enumerate(self.obj)]


def _pem_to_der(pem: bytes, where: _Body | str) -> bytes:
    """The DER inside one PEM block labelled CERTIFICATE or PUBLIC KEY (RFC 7468),
    nothing before it and only white space after it.

    The first line (white space trimmed) is the block's BEGIN line, the last its
    END line, and every line between them is base64 (white space ignored).
    ``where`` names the field in errors (a body node, or its path).
    """
    text = pem.strip()
    first, last = text.find(b"\n"), text.rfind(b"\n")
    if first >= 0 and last > first:
        head, tail = text[:first].rstrip(), text[last + 1 :]
        for label in _PEM_LABELS:
            if head == b"-----BEGIN " + label + b"-----" and tail.rstrip() == (
                b"-----END " + label + b"-----"
            ):
                try:
                    # validate=True: any character outside the base64 alphabet is an error.
                    return decode_base64_padded(b"".join(text[first + 1 : last].split()))
                except binascii.Error as e:
                    raise TransparencyLogError(
                        f"log entry body: {_where(where)} has bad PEM base64"
                    ) from e
    raise TransparencyLogError(f"log entry body: {_where(where)} is not a PEM certificate or key")


def _where(where: _Body | str) -> str:
    return where if isinstance(where, str) else where.path


def _signer_der(node: _Body, memo: Memo[bytes] | None) -> bytes:
    """The DER in a body's base64-encoded PEM field. A release's bodies all
    carry the same certificate: with ``memo``, its text is decoded once."""
    text = node.str()
    if memo is None:
        return _pem_to_der(node.b64(), node)
    return memo(("body-pem", text), lambda: _pem_to_der(node.b64(), node))


def _mismatch(what: str) -> TransparencyLogError:
    return TransparencyLogError(f"log entry does not match the bundle: {what} differs")


def _check_hex_digest(node: _Body, expected: Mapping[str, bytes], what: str) -> None:
    """``{"algorithm": "sha256", "value": "<hex>"}`` against known digests."""
    alg = node.get("algorithm").str()
    name = _HEX_NAMES.get(alg)
    if name is None:
        raise TransparencyLogError(f"log entry body: unsupported hash algorithm {alg!r}")
    have = expected.get(name)
    if have is None:
        raise TransparencyLogError(f"log entry uses {alg}, which the artifact digest lacks")
    value = node.get("value").str()
    if value.lower() != have.hex():
        raise _mismatch(what)


def check_entry_body(
    entry: TransparencyLogEntry,
    *,
    signature: bytes,
    signer_der: bytes,
    signer_is_certificate: bool,
    artifact: Artifact | None,
    envelope: Envelope | None,
    memo: Memo[bytes] | None = None,
) -> None:
    """Check that ``entry``'s body describes this bundle.

    ``signer_der`` is the leaf certificate's DER (``signer_is_certificate``) or
    the signing key's SubjectPublicKeyInfo DER. ``artifact`` is required for a
    message signature; ``envelope`` is the DSSE envelope for DSSE bundles.
    ``memo(key, compute)``, when given, memoises pure steps (decoding the
    signer's PEM) across the entries of a batch.

    Raises:
        TransparencyLogError: unsupported kind, malformed body, or any mismatch.
    """
    assert entry.kind_version is not None
    kind, version = entry.kind_version.kind, entry.kind_version.version
    try:
        raw = json.loads(entry.canonicalized_body)
    except JSON_ERRORS as e:
        raise TransparencyLogError("log entry body is not JSON") from e
    body = _Body(raw)
    if body.get("kind").str() != kind or body.get("apiVersion").str() != version:
        raise TransparencyLogError(
            f"log entry body is not the {kind} {version} its kindVersion claims"
        )
    if (kind, version) == ("hashedrekord", "0.0.1"):
        if envelope is not None:
            raise TransparencyLogError("a DSSE bundle cannot be logged as hashedrekord 0.0.1")
        assert artifact is not None
        spec = body.get("spec")
        _check_hex_digest(spec.get("data", "hash"), artifact.digests, "artifact digest")
        if spec.get("signature", "content").b64() != signature:
            raise _mismatch("signature")
        if _signer_der(spec.get("signature", "publicKey", "content"), memo) != signer_der:
            raise _mismatch("signing certificate or key")
    elif (kind, version) == ("hashedrekord", "0.0.2"):
        spec = body.get("spec", "hashedRekordV002")
        data = spec.get("data")
        alg = data.get("algorithm").str()
        if alg not in DIGEST_ALGORITHMS:
            raise TransparencyLogError(f"log entry body: unsupported hash algorithm {alg!r}")
        if envelope is not None:
            # Rekor v2 logs DSSE as a hashedrekord over the envelope's PAE.
            expected: bytes | None = hashlib.new(DIGEST_ALGORITHMS[alg][1], envelope.pae()).digest()
        else:
            assert artifact is not None
            expected = artifact.digest(alg)
            if expected is None:
                raise TransparencyLogError(f"log entry uses {alg}, which the artifact digest lacks")
        if data.get("digest").b64() != expected:
            raise _mismatch("artifact digest" if envelope is None else "DSSE envelope")
        sig = spec.get("signature")
        if sig.get("content").b64() != signature:
            raise _mismatch("signature")
        verifier = sig.get("verifier")
        field = "x509Certificate" if signer_is_certificate else "publicKey"
        if verifier.get(field, "rawBytes").b64() != signer_der:
            raise _mismatch("signing certificate or key")
    elif (kind, version) == ("dsse", "0.0.1"):
        if envelope is None:
            raise TransparencyLogError("a message signature cannot be logged as dsse")
        spec = body.get("spec")
        _check_hex_digest(
            spec.get("payloadHash"),
            {"SHA2_256": hashlib.sha256(envelope.payload).digest()},
            "DSSE payload",
        )
        sigs = spec.get("signatures").items()
        if len(sigs) != 1:
            raise _mismatch("number of signatures")
        if sigs[0].get("signature").b64() != signature:
            raise _mismatch("signature")
        if _signer_der(sigs[0].get("verifier"), memo) != signer_der:
            raise _mismatch("signing certificate or key")
    elif (kind, version) == ("intoto", "0.0.2"):
        if envelope is None:
            raise TransparencyLogError("a message signature cannot be logged as intoto")
        content = body.get("spec", "content")
        _check_hex_digest(
            content.get("payloadHash"),
            {"SHA2_256": hashlib.sha256(envelope.payload).digest()},
            "DSSE payload",
        )
        env = content.get("envelope")
        if env.get("payloadType").str() != envelope.payload_type:
            raise _mismatch("DSSE payload type")
        # intoto 0.0.2 stores the envelope's bytes fields base64-encoded twice.
        if _b64_twice(env.get("payload")) != envelope.payload:
            raise _mismatch("DSSE payload")
        sigs = env.get("signatures").items()
        if len(sigs) != 1:
            raise _mismatch("number of signatures")
        if _b64_twice(sigs[0].get("sig")) != signature:
            raise _mismatch("signature")
        if _signer_der(sigs[0].get("publicKey"), memo) != signer_der:
            raise _mismatch("signing certificate or key")
    else:
        raise TransparencyLogError(f"unsupported log entry kind {kind} {version}")


def _b64_twice(node: _Body) -> bytes:
    inner = node.b64()
    try:
        return decode_base64_padded(inner)
    except binascii.Error as e:
        raise TransparencyLogError(f"log entry body: {node.path} is not base64") from e
