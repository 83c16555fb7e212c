"""What was signed: the artifact's bytes or only its digests (sans-I/O).

Owns: the ``Artifact`` value the verifier compares bundles against, and the
parsing of ``sha256:<hex>`` style digest strings. Reading files is the shell's
job (``Verifier`` streams them through ``Artifact.hasher``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping

import attrs

__all__ = ["DIGEST_ALGORITHMS", "Artifact", "ArtifactHasher"]

#: Sigstore hash names, their in-toto/digest-string prefixes and hashlib names.
DIGEST_ALGORITHMS: Mapping[str, tuple[str, str, int]] = {
    "SHA2_256": ("sha256", "sha256", 32),
    "SHA2_384": ("sha384", "sha384", 48),
    "SHA2_512": ("sha512", "sha512", 64),
}
_BY_PREFIX = {prefix: name for name, (prefix, _, _) in DIGEST_ALGORITHMS.items()}
# The hashlib constructors themselves: hashlib.new(name) looks the name up on each call.
_CONSTRUCTORS = {name: getattr(hashlib, hl) for name, (_, hl, _) in DIGEST_ALGORITHMS.items()}
_DIGEST_RE = re.compile(r"(sha256|sha384|sha512):([0-9a-fA-F]+)")


class _LazyDigests(Mapping[str, bytes]):
    """The digests of bytes in memory, each computed when first asked for:
    a bundle needs one of the three (a large artifact is hashed once)."""

    __slots__ = ("_data", "_done")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._done: dict[str, bytes] = {}

    def __getitem__(self, name: str) -> bytes:
        found = self._done.get(name)
        if found is None:
            new = _CONSTRUCTORS[name]  # KeyError for other names, as a dict
            found = self._done[name] = new(self._data).digest()
        return found

    def get(self, name: str, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        # Mapping.get, without its try/except around __getitem__: a bundle asks twice.
        if name in self._done or name in _CONSTRUCTORS:
            return self[name]
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(_CONSTRUCTORS)

    def __len__(self) -> int:
        return len(_CONSTRUCTORS)

    def __repr__(self) -> str:
        return repr(dict(self))


@attrs.frozen
class Artifact:
    """The thing a bundle is checked against.

    Either the artifact's bytes (``data``, with its digests) or only a digest.
    Create with :meth:`from_bytes`, :meth:`from_digest` or, for files, through
    :class:`ArtifactHasher` so the file is streamed rather than read whole.
    """

    #: Digests by Sigstore hash name (``SHA2_256`` ...).
    digests: Mapping[str, bytes]
    #: The bytes themselves, when small enough to keep (Ed25519 needs them).
    data: bytes | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> Artifact:
        return cls(digests=_LazyDigests(data), data=data)

    @classmethod
    def from_digest(cls, value: str) -> Artifact:
        """Parse ``sha256:<hex>`` (or ``sha384:``/``sha512:``).

        Raises:
            ValueError: not a digest string of the right length.
        """
        m = _DIGEST_RE.fullmatch(value.strip())
        if not m:
            raise ValueError(f"not a digest of the form sha256:<hex>: {value!r:.80}")
        name = _BY_PREFIX[m.group(1)]
        raw = bytes.fromhex(m.group(2))
        if len(raw) != DIGEST_ALGORITHMS[name][2]:
            raise ValueError(f"{m.group(1)} digest must have {DIGEST_ALGORITHMS[name][2]} bytes")
        return cls(digests={name: raw})

    @staticmethod
    def is_digest(value: str) -> bool:
        """Whether ``value`` looks like a digest string rather than a path."""
        return _DIGEST_RE.fullmatch(value.strip()) is not None

    def digest(self, algorithm: str) -> bytes | None:
        """The digest under a Sigstore hash name, if known."""
        return self.digests.get(algorithm)

    def digest_of_data(self, algorithm: str) -> bytes | None:
        """The digest of ``data`` itself (None without the bytes).

        A signature over the artifact is checked against this: when the bytes
        are there, they are what is verified, whatever ``digests`` says. For
        :meth:`from_bytes` artifacts it is the digest already computed.
        """
        if self.data is None:
            return None
        if isinstance(self.digests, _LazyDigests):  # computed from these very bytes
            return self.digests.get(algorithm)
        new = _CONSTRUCTORS.get(algorithm)
        return new(self.data).digest() if new is not None else None


class ArtifactHasher:
    """Feed an artifact in chunks; get an :class:`Artifact` with all digests.

    Keeps the bytes only while they stay under ``keep_limit`` (so Ed25519
    signatures over small files can still be checked).
    """

    def __init__(self, keep_limit: int = 1 << 20) -> None:
        self._hashes = {name: new() for name, new in _CONSTRUCTORS.items()}
        self._kept: bytearray | None = bytearray()
        self._limit = keep_limit

    def update(self, chunk: bytes) -> None:
        for h in self._hashes.values():
            h.update(chunk)
        if self._kept is not None:
            if len(self._kept) + len(chunk) > self._limit:
                self._kept = None
            else:
                self._kept += chunk

    def finish(self) -> Artifact:
        return Artifact(
            digests={name: h.digest() for name, h in self._hashes.items()},
            data=bytes(self._kept) if self._kept is not None else None,
        )
