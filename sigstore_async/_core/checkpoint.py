"""Signed notes and transparency log checkpoints.

Owns: parsing and formatting the signed-note format (c2sp.org/signed-note) and
the checkpoint body it carries (c2sp.org/tlog-checkpoint), as Rekor v1 and v2
serve them; verifying a checkpoint's signature by one known log key; signing
notes (for LocalSigstore).

Does not own: choosing the log key (see ``trust``), comparing the checkpoint's
root hash with an inclusion proof (the verification step does that with
``merkle``), or verifying witness cosignatures (their keys are not yet
distributed, so their lines are parsed and then ignored).

A Rekor v1 checkpoint, as found in bundles::

    rekor.sigstore.dev - 2605736670972794746
    75408393
    Fnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=

    \u2014 rekor.sigstore.dev wNI9ajBFAiBTyiBM9...

The log's key name is the host of its base URL. Rekor v1 signs with ECDSA P-256
and uses the first four bytes of SHA-256(DER SubjectPublicKeyInfo) as key hint;
Rekor v2 signs with Ed25519 and uses the signed-note Ed25519 key id
(:func:`note_key_id_ed25519`), which is also its log id in the trust root.

Every rejection raises :class:`~sigstore_async.errors.TransparencyLogError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import TypeAlias

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from sigstore_async._core.keys import PublicKey, default_hash_for_key, verify_signature
from sigstore_async.errors import TransparencyLogError

__all__ = [
    "Checkpoint",
    "NoteSignature",
    "PrivateKey",
    "SignedNote",
    "format_checkpoint",
    "format_signed_note",
    "note_key_id_ed25519",
    "parse_checkpoint",
    "parse_signed_note",
    "sign_note",
    "verify_checkpoint",
]

#: Private keys that :func:`sign_note` accepts.
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_EM_DASH = "\u2014"
_SIGNATURE_PREFIX = _EM_DASH + " "
_KEY_HINT_SIZE = 4
_ROOT_HASH_SIZE = 32
_ED25519_KEY_SIZE = 32
# signed-note: verifiers SHOULD bound the number of signatures and MUST accept at least 16.
_MAX_SIGNATURES = 100
# tlog-checkpoint: the tree size is a count of leaves; logs store it as a 64-bit integer.
_MAX_TREE_SIZE = 2**64 - 1
# signed-note: the signature type byte of Ed25519 signatures.
_ED25519_SIGNATURE_TYPE = b"\x01"
_ECDSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA2_256": hashes.SHA256,
    "SHA2_384": hashes.SHA384,
    "SHA2_512": hashes.SHA512,
}
# No sign, no leading zeros unless the size is 0 (tlog-checkpoint, "tree size").
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
# signed-note: ASCII control characters other than newline are forbidden.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


@attrs.frozen
class NoteSignature:
    """One signature line of a signed note.

    ``key_hint`` is the 4-byte key id that prefixes the signature bytes; the
    pair (``name``, ``key_hint``) identifies the signing key.
    """

    name: str
    key_hint: bytes
    signature: bytes


@attrs.frozen
class SignedNote:
    """A note text and its signature lines, in envelope order.

    ``text`` is the signed body, including its final newline and excluding the
    blank separator line.
    """

    text: str
    signatures: tuple[NoteSignature, ...]


@attrs.frozen
class Checkpoint:
    """A log's tree head: its origin, size and root hash (c2sp.org/tlog-checkpoint).

    ``extensions`` are the opaque lines after the root hash, such as Rekor v1's
    ``Timestamp: <nanoseconds>``.
    """

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


# --- helpers ----------------------------------------------------------------------------------


def _b64decode_strict(value: str, what: str) -> bytes:
    """Standard base64 with padding, in its one canonical spelling.

    Rejecting non-canonical spellings (non-zero padding bits) means a different
    envelope always means different bytes.
    """
    # Lenient decoding is enough: only text that the decoded bytes encode back
    # to exactly is accepted. (Non-ASCII text is a ValueError.)
    try:
        raw = binascii.a2b_base64(value)
    except ValueError as e:
        raise TransparencyLogError(f"{what} is not valid base64") from e
    if binascii.b2a_base64(raw, newline=False) != value.encode("ascii"):
        raise TransparencyLogError(f"{what} is not canonical base64")
    return raw


def _check_text(text: str, what: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    # signed-note: MUST be valid UTF-8 (a str with lone surrogates is not).
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise TransparencyLogError(f"{what} is not valid UTF-8") from e
    # signed-note: MUST NOT contain ASCII control characters other than newline.
    match = _CONTROL.search(text)
    if match:
        raise TransparencyLogError(
            f"{what} contains the control character U+{ord(match.group()):04X}"
        )


def _key_name_problem(name: str) -> str | None:
    # signed-note: key names MUST be non-empty and MUST NOT contain Unicode spaces or "+".
    if not name:
        return "is empty"
    if "+" in name:
        return "contains '+'"
    if name.split() != [name]:  # str.split() splits at exactly what str.isspace() calls space
        return "contains a space"
    return None


def _check_key_name(name: str) -> None:
    problem = _key_name_problem(name)
    if problem:
        raise TransparencyLogError(f"key name {name!r} {problem}")


def _parse_signature_line(line: str, number: int) -> NoteSignature:
    # signed-note: em dash, space, key name, space, base64(key id || signature).
    if not line.startswith(_SIGNATURE_PREFIX):
        raise TransparencyLogError(
            f"signature line {number} does not start with an em dash and a space"
        )
    parts = line[len(_SIGNATURE_PREFIX) :].split(" ")
    if len(parts) != 2:
        raise TransparencyLogError(
            f"signature line {number} is not '\u2014 <key name> <base64 signature>'"
        )
    name, encoded = parts
    problem = _key_name_problem(name)
    if problem:
        raise TransparencyLogError(f"signature line {number}: key name {problem}")
    raw = _b64decode_strict(encoded, f"signature line {number}")
    if len(raw) <= _KEY_HINT_SIZE:
        raise TransparencyLogError(
            f"signature line {number} has {len(raw)} bytes; a key hint and a signature need "
            f"at least {_KEY_HINT_SIZE + 1}"
        )
    return NoteSignature(name=name, key_hint=raw[:_KEY_HINT_SIZE], signature=raw[_KEY_HINT_SIZE:])


# --- signed notes -----------------------------------------------------------------------------


def parse_signed_note(envelope: str) -> SignedNote:
    """Split a signed note into its text and signature lines (c2sp.org/signed-note).

    Signature lines from any key are kept, well-formed or not being the only
    question here; which of them to trust is :func:`verify_checkpoint`'s job.

    Raises:
        TransparencyLogError: the envelope has no blank line before the
            signatures, no signature lines, a malformed line, bad base64, a
            signature shorter than 5 bytes, a control character, or more than
            100 signatures.
        TypeError: ``envelope`` is not a ``str``.
    """
    _check_text(envelope, "signed note")
    # signed-note: the text is separated from the signatures by the *last* empty line.
    split = envelope.rfind("\n\n")
    if split < 0:
        raise TransparencyLogError("signed note has no blank line before its signatures")
    text = envelope[: split + 1]
    block = envelope[split + 2 :]
    if not block:
        raise TransparencyLogError("signed note has no signature lines")
    if not block.endswith("\n"):
        raise TransparencyLogError("signed note does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise TransparencyLogError(
            f"signed note has {len(lines)} signature lines, more than {_MAX_SIGNATURES}"
        )
    signatures = tuple(_parse_signature_line(line, i) for i, line in enumerate(lines, 1))
    return SignedNote(text=text, signatures=signatures)


def format_signed_note(note: SignedNote) -> str:
    """Serialize a signed note: text, blank line, one line per signature.

    Raises:
        TransparencyLogError: the text is empty, does not end with a newline or
            has control characters, a key name is invalid, a key hint is not 4
            bytes, or a signature is empty.
    """
    _check_text(note.text, "note text")
    if not note.text.endswith("\n"):
        raise TransparencyLogError("note text does not end with a newline")
    if not note.signatures:
        raise TransparencyLogError("a signed note needs at least one signature")
    lines = [note.text, "\n"]
    for sig in note.signatures:
        _check_key_name(sig.name)
        if len(sig.key_hint) != _KEY_HINT_SIZE:
            raise TransparencyLogError(f"key hint is {len(sig.key_hint)} bytes, expected 4")
        if not sig.signature:
            raise TransparencyLogError("signature is empty")
        encoded = base64.b64encode(sig.key_hint + sig.signature).decode("ascii")
        lines.append(f"{_SIGNATURE_PREFIX}{sig.name} {encoded}\n")
    return "".join(lines)


def sign_note(text: str, *, name: str, key_hint: bytes, private_key: PrivateKey) -> str:
    """Sign ``text`` and return the envelope with that one signature line.

    Ed25519 keys sign the text bytes directly (signed-note "Ed25519
    signatures"). ECDSA keys sign them with the hash that
    :func:`~sigstore_async._core.keys.default_hash_for_key` pairs with the curve
    (SHA-256 for P-256, as Rekor v1 does), so that :func:`verify_checkpoint`
    accepts the result. The signature is DER-encoded.

    Raises:
        TransparencyLogError: the text or name is not valid for a signed note,
            or ``key_hint`` is not 4 bytes.
        TypeError: ``private_key`` is neither ECDSA nor Ed25519.
    """
    _check_text(text, "note text")
    if not text.endswith("\n"):
        raise TransparencyLogError("note text does not end with a newline")
    _check_key_name(name)
    if len(key_hint) != _KEY_HINT_SIZE:
        raise TransparencyLogError(f"key hint is {len(key_hint)} bytes, expected 4")
    message = text.encode("utf-8")
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        signature = private_key.sign(message)
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        algorithm = _ECDSA_HASHES[default_hash_for_key(private_key.public_key())]
        signature = private_key.sign(message, ec.ECDSA(algorithm()))
    else:
        raise TypeError(
            f"cannot sign a note with a {type(private_key).__name__}; "
            "use an ECDSA or Ed25519 private key"
        )
    note = SignedNote(
        text=text,
        signatures=(NoteSignature(name=name, key_hint=bytes(key_hint), signature=signature),),
    )
    return format_signed_note(note)


def note_key_id_ed25519(name: str, raw_public_key: bytes) -> bytes:
    """The signed-note key id of an Ed25519 key:
    ``SHA-256(name || 0x0A || 0x01 || raw 32-byte key)``.

    Its first four bytes are the key hint in signature lines. For Rekor v2
    logs the whole digest is also the log id in the trust root.

    Raises:
        TransparencyLogError: ``raw_public_key`` is not 32 bytes, or ``name``
            is not a valid key name.
    """
    _check_key_name(name)
    if len(raw_public_key) != _ED25519_KEY_SIZE:
        raise TransparencyLogError(f"an Ed25519 public key is 32 bytes, not {len(raw_public_key)}")
    material = name.encode("utf-8") + b"\n" + _ED25519_SIGNATURE_TYPE + bytes(raw_public_key)
    return hashlib.sha256(material).digest()


# --- checkpoints -------------------------------------------------------------------------------


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text (c2sp.org/tlog-checkpoint).

    ``text`` is a note text as :class:`SignedNote` holds it: lines ending with
    newlines. The lines are the origin, the decimal tree size, the base64 root
    hash, then optional extension lines, all non-empty.

    Raises:
        TransparencyLogError: a line is missing or empty, the size is not a
            canonical decimal number below 2**64, or the root hash is not
            canonical base64 of 32 bytes.
        TypeError: ``text`` is not a ``str``.
    """
    _check_text(text, "checkpoint")
    return _parse_checked_checkpoint(text)


def _parse_checked_checkpoint(text: str) -> Checkpoint:
    """``parse_checkpoint`` of a text already known to be valid note text."""
    if not text.endswith("\n"):
        raise TransparencyLogError("checkpoint does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise TransparencyLogError(
            f"checkpoint has {len(lines)} lines; it needs an origin, a tree size and a root hash"
        )
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise TransparencyLogError("checkpoint origin is empty")
    if not _TREE_SIZE.fullmatch(size_line):
        raise TransparencyLogError(f"checkpoint tree size {size_line[:40]!r} is not a number")
    tree_size = int(size_line)
    if tree_size > _MAX_TREE_SIZE:
        raise TransparencyLogError(f"checkpoint tree size {tree_size} does not fit in 64 bits")
    root_hash = _b64decode_strict(root_line, "checkpoint root hash")
    if len(root_hash) != _ROOT_HASH_SIZE:
        raise TransparencyLogError(
            f"checkpoint root hash is {len(root_hash)} bytes, expected {_ROOT_HASH_SIZE}"
        )
    for number, line in enumerate(extensions, 4):
        if not line:
            raise TransparencyLogError(f"checkpoint line {number} is empty")
    return Checkpoint(
        origin=origin, tree_size=tree_size, root_hash=root_hash, extensions=tuple(extensions)
    )


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """Serialize a checkpoint as a note text (with its final newline).

    Raises:
        TransparencyLogError: the checkpoint cannot be written so that
            :func:`parse_checkpoint` reads it back unchanged (empty origin or
            extension line, a newline or control character inside a line, a
            negative or too large size, a root hash that is not 32 bytes).
    """
    if not checkpoint.origin:
        raise TransparencyLogError("checkpoint origin is empty")
    if not 0 <= checkpoint.tree_size <= _MAX_TREE_SIZE:
        raise TransparencyLogError(f"checkpoint tree size {checkpoint.tree_size} is out of range")
    if len(checkpoint.root_hash) != _ROOT_HASH_SIZE:
        raise TransparencyLogError(
            f"checkpoint root hash is {len(checkpoint.root_hash)} bytes, expected 32"
        )
    lines = [
        checkpoint.origin,
        str(checkpoint.tree_size),
        base64.b64encode(checkpoint.root_hash).decode("ascii"),
    ]
    for line in checkpoint.extensions:
        if not line:
            raise TransparencyLogError("checkpoint extension line is empty")
        lines.append(line)
    for line in lines:
        if "\n" in line:
            raise TransparencyLogError("checkpoint line contains a newline")
        _check_text(line, "checkpoint line")
    return "\n".join(lines) + "\n"


def verify_checkpoint(envelope: str, *, key: PublicKey, key_id: bytes, name: str) -> Checkpoint:
    """Verify a log's signature on a checkpoint and return the checkpoint.

    ``key`` is the log's public key, ``key_id`` its log id (its first four
    bytes are the key hint) and ``name`` its key name, the host of the log's
    base URL. Only signature lines with both that name and that key hint are
    tried; the checkpoint is accepted when one of them verifies over the note
    text. Every other line (witness cosignatures, other keys) is ignored,
    wherever it appears (signed-note: verifiers MUST ignore signatures from
    unknown keys).

    The origin must then be ``name`` (Rekor v2, e.g.
    ``log2025-alpha1.rekor.sigstage.dev``) or start with ``name + " - "``
    (Rekor v1, e.g. ``rekor.sigstore.dev - 2605736670972794746``).

    The returned checkpoint's root hash and size are only as good as the
    caller's check that the inclusion proof leads to them.

    Raises:
        TransparencyLogError: the envelope or checkpoint is malformed, no
            signature line is from the log ("no signature from the log"), none
            of the log's lines verifies, or the origin does not match.
        TypeError: ``envelope`` is not a ``str``.
    """
    note = parse_signed_note(envelope)
    # Parse the body before checking signatures so that a malformed checkpoint is reported as
    # such; nothing in it is used until a signature has verified.
    checkpoint = _parse_checked_checkpoint(note.text)  # a part of the checked envelope
    if len(key_id) < _KEY_HINT_SIZE:
        raise TransparencyLogError(f"log key id is {len(key_id)} bytes, at least 4 are needed")
    hint = bytes(key_id[:_KEY_HINT_SIZE])
    candidates = [s for s in note.signatures if s.name == name and s.key_hint == hint]
    if not candidates:
        raise TransparencyLogError(
            f"no signature from the log: no signature line has key name {name!r} "
            f"and key hint {hint.hex()}"
        )
    message = note.text.encode("utf-8")
    # One verifying line suffices. (signed-note says a client SHOULD reject a note in which a
    # known key's signature fails; an extra bad line cannot forge anything, so we accept.)
    if not any(verify_signature(key, s.signature, message=message) for s in candidates):
        raise TransparencyLogError(
            f"checkpoint signature from {name!r} (key hint {hint.hex()}) does not verify"
        )
    if checkpoint.origin != name and not checkpoint.origin.startswith(name + " - "):
        raise TransparencyLogError(
            f"checkpoint origin mismatch: origin {checkpoint.origin!r} does not belong to "
            f"log {name!r}"
        )
    return checkpoint
