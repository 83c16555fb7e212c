"""Tests for ``sigstore_async._core.checkpoint`` (signed notes and checkpoints)."""

from __future__ import annotations

import base64
import hashlib

import attrs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sigstore_async._core.checkpoint import (
    Checkpoint,
    NoteSignature,
    PrivateKey,
    SignedNote,
    format_checkpoint,
    format_signed_note,
    note_key_id_ed25519,
    parse_checkpoint,
    parse_signed_note,
    sign_note,
    verify_checkpoint,
)
from sigstore_async._core.keys import PublicKey, key_id
from sigstore_async.errors import TransparencyLogError

from .conftest import Conformance

EM = "\u2014"
ROOT = hashlib.sha256(b"root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# --- keys --------------------------------------------------------------------------------------


@attrs.frozen
class LogKey:
    """A generated log key with the key id that the trust root would give it."""

    private: PrivateKey
    name: str

    @property
    def public(self) -> PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> bytes:
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            raw = self.private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            return note_key_id_ed25519(self.name, raw)
        return key_id(self.public)  # Rekor v1: SHA-256 of the DER SubjectPublicKeyInfo

    def sign(self, text: str) -> str:
        return sign_note(text, name=self.name, key_hint=self.key_id[:4], private_key=self.private)

    def verify(self, envelope: str) -> Checkpoint:
        return verify_checkpoint(envelope, key=self.public, key_id=self.key_id, name=self.name)


LOG_KEYS = {
    "ecdsa-p256": LogKey(ec.generate_private_key(ec.SECP256R1()), "rekor.example.dev"),
    "ecdsa-p384": LogKey(ec.generate_private_key(ec.SECP384R1()), "rekor.example.dev"),
    "ed25519": LogKey(ed25519.Ed25519PrivateKey.generate(), "log2025-1.rekor.example.dev"),
}


def checkpoint_text(origin: str, size: int = 5, extensions: tuple[str, ...] = ()) -> str:
    return format_checkpoint(Checkpoint(origin, size, ROOT, extensions))


# --- the conformance vectors -------------------------------------------------------------------

VALID_CASES = [
    "happy-path-v0.3",
    "rekor2-happy-path",
    "rekor2-checkpoint-cosigned",
    "rekor2-checkpoint-multiple-cosigs",
    "rekor2-checkpoint-origin-not-first",
    "rekor2-checkpoint-two-sigs-cosigned",
    "rekor2-checkpoint-two-sigs-from-origin",
]

INVALID_CASES = [
    ("checkpoint-bad-keyhint_fail", "no signature from the log"),
    ("invalid-checkpoint-signature_fail", "does not verify"),
    ("rekor2-checkpoint-missing-log-signature_fail", "no signature lines"),
    ("rekor2-checkpoint-missing-origin_fail", "checkpoint has 2 lines"),
    ("rekor2-checkpoint-missing-root-hash_fail", "checkpoint has 2 lines"),
    ("rekor2-checkpoint-missing-size_fail", "checkpoint has 2 lines"),
    ("rekor2-checkpoint-no-matching-signature_fail", "no signature from the log"),
]


@pytest.mark.vectors
@pytest.mark.parametrize("case", VALID_CASES)
def test_real_checkpoints_verify(conformance: Conformance, case: str) -> None:
    log = conformance.log_entry(case)
    envelope = log.entry["inclusionProof"]["checkpoint"]["envelope"]
    checkpoint = verify_checkpoint(envelope, key=log.key, key_id=log.key_id, name=log.name)
    assert checkpoint.tree_size == int(log.entry["inclusionProof"]["treeSize"])
    assert checkpoint.root_hash == log.b64("inclusionProof", "rootHash")
    assert checkpoint.origin == log.name or checkpoint.origin.startswith(log.name + " - ")
    # The same checkpoint under another log name or another key is not the log's.
    with pytest.raises(TransparencyLogError, match="no signature from the log"):
        verify_checkpoint(envelope, key=log.key, key_id=log.key_id, name="rekor.example.dev")
    with pytest.raises(TransparencyLogError, match="no signature from the log"):
        verify_checkpoint(envelope, key=log.key, key_id=b"\x00" * 32, name=log.name)


@pytest.mark.vectors
@pytest.mark.parametrize(("case", "message"), INVALID_CASES)
def test_real_bad_checkpoints_are_rejected(
    conformance: Conformance, case: str, message: str
) -> None:
    log = conformance.log_entry(case)
    envelope = log.entry["inclusionProof"]["checkpoint"]["envelope"]
    with pytest.raises(TransparencyLogError, match=message):
        verify_checkpoint(envelope, key=log.key, key_id=log.key_id, name=log.name)


@pytest.mark.vectors
def test_real_checkpoint_with_another_root_still_verifies(conformance: Conformance) -> None:
    # checkpoint-wrong-roothash_fail carries a genuine checkpoint of a later tree: its signature
    # is fine, and the caller must notice that it is not the proof's root.
    log = conformance.log_entry("checkpoint-wrong-roothash_fail")
    envelope = log.entry["inclusionProof"]["checkpoint"]["envelope"]
    checkpoint = verify_checkpoint(envelope, key=log.key, key_id=log.key_id, name=log.name)
    assert checkpoint.root_hash != log.b64("inclusionProof", "rootHash")
    assert checkpoint.extensions == ()


@pytest.mark.vectors
def test_real_witness_lines_are_parsed_and_kept(conformance: Conformance) -> None:
    log = conformance.log_entry("rekor2-checkpoint-multiple-cosigs")
    note = parse_signed_note(log.entry["inclusionProof"]["checkpoint"]["envelope"])
    assert [s.name for s in note.signatures] == [
        "log2025-alpha1.rekor.sigstage.dev",
        "witness.example/w1",
        "witness.example/w2",
    ]
    assert note.signatures[0].key_hint == log.key_id[:4]
    # c2sp.org/tlog-cosignature: an 8-byte timestamp and a 64-byte Ed25519 signature.
    assert [len(s.signature) for s in note.signatures[1:]] == [72, 72]


@pytest.mark.vectors
def test_rekor_v2_log_id_is_the_note_key_id(conformance: Conformance) -> None:
    log = conformance.log_entry("rekor2-happy-path")
    assert isinstance(log.key, ed25519.Ed25519PublicKey)
    raw = log.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert note_key_id_ed25519(log.name, raw) == log.key_id


@pytest.mark.vectors
def test_rekor_v1_checkpoint_has_its_timestamp_extension(conformance: Conformance) -> None:
    log = conformance.log_entry("invalid-checkpoint-signature_fail")
    note = parse_signed_note(log.entry["inclusionProof"]["checkpoint"]["envelope"])
    checkpoint = parse_checkpoint(note.text)
    assert checkpoint.origin == "rekor.sigstore.dev - 2605736670972794746"
    assert checkpoint.extensions == ("Timestamp: 1689177396617352539",)


# --- parsing signed notes ----------------------------------------------------------------------

SIG = b64(b"\x01\x02\x03\x04" + b"sig")


def test_parse_signed_note() -> None:
    envelope = f"a\n\nb\n\n{EM} first {SIG}\n{EM} second.example/x {b64(b'HINTs')}\n"
    note = parse_signed_note(envelope)
    # signed-note: the text ends at the *last* blank line and may contain empty lines itself.
    assert note.text == "a\n\nb\n"
    assert note.signatures == (
        NoteSignature("first", b"\x01\x02\x03\x04", b"sig"),
        NoteSignature("second.example/x", b"HINT", b"s"),
    )
    assert format_signed_note(note) == envelope
    # A blank line between signature lines makes the lines above it part of the text.
    twice = f"text\n\n{EM} n {SIG}\n\n{EM} n {SIG}\n"
    assert parse_signed_note(twice).text == f"text\n\n{EM} n {SIG}\n"
    assert len(parse_signed_note(twice).signatures) == 1


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        (f"text\n{EM} n {SIG}\n", "no blank line"),
        ("text\n\n", "no signature lines"),
        (f"text\n\n{EM} n {SIG}", "does not end with a newline"),
        (f"text\n\n{EM} n {SIG}\n\n", "no signature lines"),
        (f"text\n\n- n {SIG}\n", "does not start with an em dash"),
        (f"text\n\n{EM}n {SIG}\n", "does not start with an em dash"),
        (f"text\n\n{EM} n  {SIG}\n", "is not '"),
        (f"text\n\n{EM} n {SIG} extra\n", "is not '"),
        (f"text\n\n{EM} {SIG}\n", "is not '"),
        (f"text\n\n{EM}  {SIG}\n", "key name is empty"),
        (f"text\n\n{EM} a+b {SIG}\n", "key name contains '\\+'"),
        (f"text\n\n{EM} a\u00a0b {SIG}\n", "is not '|contains a space"),
        (f"text\n\n{EM} n not*base64\n", "not valid base64"),
        (f"text\n\n{EM} n AQIDBA\n", "not valid base64"),  # missing padding
        (f"text\n\n{EM} n AQIDBAX=\n", "not canonical base64"),  # non-zero padding bits
        (f"text\n\n{EM} n {b64(b'1234')}\n", "has 4 bytes"),
        (f"te\txt\n\n{EM} n {SIG}\n", "control character U\\+0009"),
        (f"text\r\n\n{EM} n {SIG}\n", "control character U\\+000D"),
        (f"text\n\n{EM} n {SIG}\r\n", "control character"),
        ("text\ud800\n\n" + f"{EM} n {SIG}\n", "not valid UTF-8"),
        ("text\n\n" + f"{EM} n {SIG}\n" * 101, "more than 100"),
    ],
)
def test_malformed_signed_notes_are_rejected(envelope: str, message: str) -> None:
    with pytest.raises(TransparencyLogError, match=message):
        parse_signed_note(envelope)


def test_many_signatures_up_to_the_limit_are_accepted() -> None:
    # signed-note: verifiers MUST accept at least 16 signatures.
    assert len(parse_signed_note("t\n\n" + f"{EM} n {SIG}\n" * 100).signatures) == 100


def test_parse_signed_note_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        parse_signed_note(b"text\n\n")  # type: ignore[arg-type]


# --- parsing checkpoints -----------------------------------------------------------------------


def test_parse_checkpoint() -> None:
    text = f"rekor.sigstore.dev - 2605736670972794746\n75408393\n{ROOT_B64}\nTimestamp: 1\nx\n"
    assert parse_checkpoint(text) == Checkpoint(
        origin="rekor.sigstore.dev - 2605736670972794746",
        tree_size=75408393,
        root_hash=ROOT,
        extensions=("Timestamp: 1", "x"),
    )
    assert parse_checkpoint(f"o\n0\n{ROOT_B64}\n").tree_size == 0
    assert parse_checkpoint(f"o\n{2**64 - 1}\n{ROOT_B64}\n").tree_size == 2**64 - 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "does not end with a newline"),
        (f"o\n5\n{ROOT_B64}", "does not end with a newline"),
        ("o\n5\n", "has 2 lines"),
        (f"5\n{ROOT_B64}\n", "has 2 lines"),
        (f"\n5\n{ROOT_B64}\n", "origin is empty"),
        (f"o\n\n{ROOT_B64}\n", "is not a number"),
        (f"o\n05\n{ROOT_B64}\n", "is not a number"),
        (f"o\n00\n{ROOT_B64}\n", "is not a number"),
        (f"o\n+5\n{ROOT_B64}\n", "is not a number"),
        (f"o\n-5\n{ROOT_B64}\n", "is not a number"),
        (f"o\n 5\n{ROOT_B64}\n", "is not a number"),
        (f"o\n5 \n{ROOT_B64}\n", "is not a number"),
        (f"o\n5_0\n{ROOT_B64}\n", "is not a number"),
        (f"o\n\u0665\n{ROOT_B64}\n", "is not a number"),  # ARABIC-INDIC DIGIT FIVE
        (f"o\n{2**64}\n{ROOT_B64}\n", "does not fit in 64 bits"),
        (f"o\n{'9' * 5000}\n{ROOT_B64}\n", "is not a number"),
        ("o\n5\n\n", "not valid base64|is 0 bytes"),
        (f"o\n5\n{b64(ROOT[:31])}\n", "is 31 bytes"),
        (f"o\n5\n{b64(ROOT + b'x')}\n", "is 33 bytes"),
        (f"o\n5\n{ROOT_B64[:-1]}\n", "not valid base64"),
        (f"o\n5\n{ROOT_B64.replace('=', '')}\n", "not valid base64"),
        (f"o\n5\n{ROOT.hex()}\n", "not valid base64|is 48 bytes"),
        (f"o\n5\n{ROOT_B64}\n\n", "line 4 is empty"),
        (f"o\n5\n{ROOT_B64}\next\n\nmore\n", "line 5 is empty"),
        (f"o\x00\n5\n{ROOT_B64}\n", "control character"),
    ],
)
def test_malformed_checkpoints_are_rejected(text: str, message: str) -> None:
    with pytest.raises(TransparencyLogError, match=message):
        parse_checkpoint(text)


def test_non_canonical_root_hash_base64_is_rejected() -> None:
    # The last base64 character of 32 bytes carries 2 padding bits; setting one is not canonical.
    last = ROOT_B64[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    altered = ROOT_B64[:-2] + alphabet[alphabet.index(last) ^ 1] + "="
    assert base64.b64decode(altered) == ROOT
    with pytest.raises(TransparencyLogError, match="not canonical"):
        parse_checkpoint(f"o\n5\n{altered}\n")


@pytest.mark.parametrize(
    ("checkpoint", "message"),
    [
        (Checkpoint("", 1, ROOT), "origin is empty"),
        (Checkpoint("o\n1", 1, ROOT), "newline"),
        (Checkpoint("o", -1, ROOT), "out of range"),
        (Checkpoint("o", 2**64, ROOT), "out of range"),
        (Checkpoint("o", 1, ROOT[:16]), "16 bytes"),
        (Checkpoint("o", 1, ROOT, ("",)), "extension line is empty"),
        (Checkpoint("o", 1, ROOT, ("a\nb",)), "newline"),
        (Checkpoint("o", 1, ROOT, ("a\tb",)), "control character"),
    ],
)
def test_unwritable_checkpoints_are_rejected(checkpoint: Checkpoint, message: str) -> None:
    with pytest.raises(TransparencyLogError, match=message):
        format_checkpoint(checkpoint)


# --- verification rules ------------------------------------------------------------------------


@pytest.mark.parametrize("key", LOG_KEYS.values(), ids=LOG_KEYS.keys())
def test_sign_and_verify(key: LogKey) -> None:
    text = checkpoint_text(key.name)
    envelope = key.sign(text)
    assert envelope.startswith(text + "\n" + EM + " " + key.name + " ")
    assert key.verify(envelope) == Checkpoint(key.name, 5, ROOT)


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("rekor.example.dev", True),
        ("rekor.example.dev - 2605736670972794746", True),
        ("rekor.example.dev - ", True),
        ("rekor.example.dev-2605736670972794746", False),
        ("rekor.example.dev 2605736670972794746", False),
        ("rekor.example.dev.evil - 1", False),
        ("rekor.example", False),
        ("x rekor.example.dev", False),
        ("REKOR.EXAMPLE.DEV", False),
    ],
)
def test_origin_must_belong_to_the_log(origin: str, ok: bool) -> None:
    key = LOG_KEYS["ecdsa-p256"]
    envelope = key.sign(checkpoint_text(origin))
    if ok:
        assert key.verify(envelope).origin == origin
    else:
        with pytest.raises(TransparencyLogError, match="origin mismatch"):
            key.verify(envelope)


def _line(name: str, hint: bytes, signature: bytes) -> str:
    return f"{EM} {name} {b64(hint + signature)}\n"


def test_only_lines_with_the_log_name_and_key_hint_are_tried() -> None:
    key = LOG_KEYS["ed25519"]
    text = checkpoint_text(key.name)
    good = key.sign(text)[len(text) + 1 :]
    hint = key.key_id[:4]
    sig = parse_signed_note(key.sign(text)).signatures[0].signature
    other = ed25519.Ed25519PrivateKey.generate().sign(text.encode())
    noise = [
        _line(key.name, b"\xff\xff\xff\xff", other),  # same name, other hint: another key
        _line("witness.example", hint, other),  # same hint, other name: another key
        _line("witness.example", b"wtns", b"\x00" * 72),
    ]
    for position in range(len(noise) + 1):
        lines = [*noise[:position], good, *noise[position:]]
        assert key.verify(text + "\n" + "".join(lines)).tree_size == 5
    # Without the log's line, nothing else counts, even with a valid signature under its name.
    with pytest.raises(TransparencyLogError, match="no signature from the log"):
        key.verify(text + "\n" + "".join(noise))
    # A line that claims to be the log's but does not verify is rejected ...
    with pytest.raises(TransparencyLogError, match="does not verify"):
        key.verify(text + "\n" + _line(key.name, hint, other))
    # ... unless another line of the log verifies (one verifying signature suffices).
    assert key.verify(text + "\n" + _line(key.name, hint, other) + _line(key.name, hint, sig))


def test_wrong_key_with_the_right_hint_is_rejected() -> None:
    key = LOG_KEYS["ecdsa-p256"]
    envelope = key.sign(checkpoint_text(key.name))
    impostor = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(TransparencyLogError, match="does not verify"):
        verify_checkpoint(envelope, key=impostor, key_id=key.key_id, name=key.name)
    # An Ed25519 key for an ECDSA signature is just another key that does not verify.
    ed = LOG_KEYS["ed25519"].public
    with pytest.raises(TransparencyLogError, match="does not verify"):
        verify_checkpoint(envelope, key=ed, key_id=key.key_id, name=key.name)


def test_short_key_id_is_rejected() -> None:
    key = LOG_KEYS["ecdsa-p256"]
    envelope = key.sign(checkpoint_text(key.name))
    with pytest.raises(TransparencyLogError, match="at least 4"):
        verify_checkpoint(envelope, key=key.public, key_id=b"\x01\x02", name=key.name)


def test_malformed_checkpoint_under_a_valid_signature_is_rejected() -> None:
    key = LOG_KEYS["ed25519"]
    envelope = key.sign(f"{key.name}\n05\n{ROOT_B64}\n")
    with pytest.raises(TransparencyLogError, match="is not a number"):
        key.verify(envelope)


# --- signing and key ids -----------------------------------------------------------------------


def test_note_key_id_ed25519() -> None:
    raw = bytes(range(32))
    assert (
        note_key_id_ed25519("example.com/log", raw)
        == hashlib.sha256(b"example.com/log\n\x01" + raw).digest()
    )
    with pytest.raises(TransparencyLogError, match="32 bytes, not 31"):
        note_key_id_ed25519("example.com/log", raw[:31])
    with pytest.raises(TransparencyLogError, match="contains a space"):
        note_key_id_ed25519("example.com log", raw)


def test_sign_note_rejects_bad_input() -> None:
    key = LOG_KEYS["ed25519"]
    text = checkpoint_text(key.name)
    with pytest.raises(TransparencyLogError, match="key hint is 3 bytes"):
        sign_note(text, name=key.name, key_hint=b"abc", private_key=key.private)
    with pytest.raises(TransparencyLogError, match="does not end with a newline"):
        sign_note(text[:-1], name=key.name, key_hint=b"abcd", private_key=key.private)
    with pytest.raises(TransparencyLogError, match="contains '\\+'"):
        sign_note(text, name="a+b", key_hint=b"abcd", private_key=key.private)
    with pytest.raises(TransparencyLogError, match="control character"):
        sign_note("a\x1bb\n", name=key.name, key_hint=b"abcd", private_key=key.private)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TypeError, match="ECDSA or Ed25519"):
        sign_note(text, name=key.name, key_hint=b"abcd", private_key=rsa_key)  # type: ignore[arg-type]


def test_format_signed_note_rejects_bad_input() -> None:
    with pytest.raises(TransparencyLogError, match="at least one signature"):
        format_signed_note(SignedNote("t\n", ()))
    with pytest.raises(TransparencyLogError, match="signature is empty"):
        format_signed_note(SignedNote("t\n", (NoteSignature("n", b"abcd", b""),)))
    with pytest.raises(TransparencyLogError, match="key hint is 5 bytes"):
        format_signed_note(SignedNote("t\n", (NoteSignature("n", b"abcde", b"s"),)))
    with pytest.raises(TransparencyLogError, match="does not end with a newline"):
        format_signed_note(SignedNote("t", (NoteSignature("n", b"abcd", b"s"),)))


# --- properties --------------------------------------------------------------------------------

# Any character but the ASCII controls (signed-note forbids them) and lone surrogates.
line_chars = st.characters(
    blacklist_categories=["Cs"], blacklist_characters=[chr(i) for i in range(32)]
)
lines = st.text(line_chars, min_size=1, max_size=30)
name_chars = line_chars.filter(lambda c: c != "+" and not c.isspace())
names = st.text(name_chars, min_size=1, max_size=30)
checkpoints = st.builds(
    Checkpoint,
    origin=lines,
    tree_size=st.integers(0, 2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(lines, max_size=3).map(tuple),
)
note_signatures = st.builds(
    NoteSignature,
    name=names,
    key_hint=st.binary(min_size=4, max_size=4),
    signature=st.binary(min_size=1, max_size=80),
)


@settings(max_examples=100)
@given(checkpoint=checkpoints)
def test_checkpoint_format_parse_round_trip(checkpoint: Checkpoint) -> None:
    text = format_checkpoint(checkpoint)
    assert text.endswith("\n")
    assert parse_checkpoint(text) == checkpoint


@settings(max_examples=100)
@given(checkpoint=checkpoints, signatures=st.lists(note_signatures, min_size=1, max_size=5))
def test_signed_note_format_parse_round_trip(
    checkpoint: Checkpoint, signatures: list[NoteSignature]
) -> None:
    note = SignedNote(format_checkpoint(checkpoint), tuple(signatures))
    envelope = format_signed_note(note)
    assert parse_signed_note(envelope) == note
    assert format_signed_note(parse_signed_note(envelope)) == envelope


@st.composite
def signed_checkpoints(draw: st.DrawFn) -> tuple[LogKey, Checkpoint, str]:
    key = draw(st.sampled_from(sorted(LOG_KEYS.values(), key=lambda k: type(k.private).__name__)))
    suffix = draw(st.none() | lines)
    origin = key.name if suffix is None else f"{key.name} - {suffix}"
    checkpoint = draw(checkpoints.map(lambda c: attrs.evolve(c, origin=origin)))
    return key, checkpoint, key.sign(format_checkpoint(checkpoint))


@settings(max_examples=60, deadline=None)
@given(case=signed_checkpoints())
def test_sign_verify_round_trip(case: tuple[LogKey, Checkpoint, str]) -> None:
    key, checkpoint, envelope = case
    assert key.verify(envelope) == checkpoint


@settings(max_examples=80, deadline=None)
@given(case=signed_checkpoints(), data=st.data())
def test_any_byte_change_in_the_text_is_rejected(
    case: tuple[LogKey, Checkpoint, str], data: st.DataObject
) -> None:
    key, checkpoint, envelope = case
    text = format_checkpoint(checkpoint).encode()
    raw = bytearray(envelope.encode())
    position = data.draw(st.integers(0, len(text) - 1), label="position")
    raw[position] ^= data.draw(st.integers(1, 255), label="xor")
    try:
        mutated = raw.decode()
    except UnicodeDecodeError:
        assume(False)  # not representable as the str that the API takes
        raise
    with pytest.raises(TransparencyLogError):
        key.verify(mutated)


@settings(max_examples=80, deadline=None)
@given(case=signed_checkpoints(), data=st.data())
def test_any_byte_change_in_the_signature_is_rejected(
    case: tuple[LogKey, Checkpoint, str], data: st.DataObject
) -> None:
    key, _, envelope = case
    note = parse_signed_note(envelope)
    (sig,) = note.signatures
    raw = bytearray(sig.key_hint + sig.signature)
    # ECDSA signatures are randomized and vary in length: draw independently of the length.
    position = data.draw(st.integers(0, 2**16), label="position") % len(raw)
    raw[position] ^= data.draw(st.integers(1, 255), label="xor")
    mutated = SignedNote(note.text, (NoteSignature(sig.name, bytes(raw[:4]), bytes(raw[4:])),))
    expected = "no signature from the log" if position < 4 else "does not verify"
    with pytest.raises(TransparencyLogError, match=expected):
        key.verify(format_signed_note(mutated))
