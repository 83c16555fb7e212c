"""A strict DER (X.690) reader, element encoding, and OBJECT IDENTIFIER content octets.

Owns: walking the elements of untrusted DER with definite, minimal lengths
and single-byte tags, which is all CMS, RFC 3161 and a leaf's extensions
need (``span`` for one element, ``Reader`` to walk several), and encoding one
element (``tlv``). Sans-I/O.

Does not own: what the elements mean. A caller that must raise its own error
type passes it to :class:`Reader` (``rfc3161`` raises ``TimestampError``, the
test TSA raises :class:`DerError`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # pragma: no cover - the decorator only means something to mypyc

    def mypyc_attr(*_args: Any, **_kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[misc]
        return lambda cls: cls


__all__ = ["DerError", "Reader", "oid_content", "span", "tlv"]


class DerError(ValueError):
    """Malformed or unsupported DER."""


def oid_content(dotted: str) -> bytes:
    """The DER content octets of an OBJECT IDENTIFIER (X.690 8.19)."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def span(
    buf: bytes, pos: int, end: int, tag: int | None, error: Callable[[str], Exception] = DerError
) -> tuple[int, int]:
    """Content start and stop of the DER element at ``buf[pos:end]``.

    Definite, minimal lengths and single-byte tags only; with ``tag``, the
    element must carry it (checked before its length). Every problem raises
    ``error(message)``.
    """
    if pos + 2 > end:
        raise error("truncated DER")
    found = buf[pos]
    if tag is None:
        if found & 0x1F == 0x1F:
            raise error("multi-byte DER tags are not supported")
    elif found != tag or tag & 0x1F == 0x1F:
        raise error(f"unexpected DER tag 0x{found:02x}, expected 0x{tag:02x}")
    first = buf[pos + 1]
    if first < 0x80:  # the short form: most elements
        stop = pos + 2 + first
        if stop > end:
            raise error("truncated DER")
        return pos + 2, stop
    start = pos + 2
    count = first & 0x7F
    if count == 0 or count > 4 or start + count > end:
        raise error("unsupported DER length")
    length = int.from_bytes(buf[start : start + count], "big")
    # X.690 10.1: the long form only for lengths of 128 and more, fewest octets.
    if length < 0x80 or buf[start] == 0:
        raise error("non-minimal DER length")
    start += count
    stop = start + length
    if stop > end:
        raise error("truncated DER")
    return start, stop


def tlv(tag: int, content: bytes) -> bytes:
    """The DER encoding of one element: tag, definite minimal length, content."""
    n = len(content)
    if n < 0x80:  # X.690 8.1.3: short form below 128, else the fewest octets
        return bytes((tag, n)) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(raw))) + raw + content


# Interpreted subclasses (the test TSA's reader) are allowed. Compiled modules
# must not subclass it: mypyc 2.4 never frees instances of a compiled subclass
# of such a class (each one leaked its buffer); they pass ``error`` instead.
@mypyc_attr(allow_interpreted_subclasses=True)
class Reader:
    """A strict reader over the DER elements of ``buf[pos:end]``.

    Definite, minimal lengths only; single-byte tags only. Every problem
    raises ``error(message)``; readers from ``enter`` raise the same.
    """

    __slots__ = ("buf", "end", "error", "pos")

    def __init__(
        self,
        buf: bytes,
        pos: int = 0,
        end: int | None = None,
        error: Callable[[str], Exception] = DerError,
    ) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        self.error = error

    def done(self) -> bool:
        return self.pos >= self.end

    def peek(self) -> int | None:
        return None if self.pos >= self.end else self.buf[self.pos]

    def next(self, tag: int | None = None) -> tuple[int, int, int]:
        """Consume one element; return (header start, content start, stop).

        With ``tag``, the element must carry it (checked before its length);
        without, any single-byte tag is accepted.
        """
        header = self.pos
        start, stop = span(self.buf, header, self.end, tag, self.error)
        self.pos = stop
        return header, start, stop

    # The methods below consume an element as ``next`` does, written out: they
    # run some fifty times per RFC 3161 token.

    def enter(self, tag: int) -> Self:
        """A reader over the content of the next element, which has this tag."""
        start, stop = span(self.buf, self.pos, self.end, tag, self.error)
        self.pos = stop
        return type(self)(self.buf, start, stop, self.error)

    def content(self, tag: int) -> bytes:
        start, stop = span(self.buf, self.pos, self.end, tag, self.error)
        self.pos = stop
        return self.buf[start:stop]

    def element(self, tag: int) -> bytes:
        """The whole encoding (tag, length and content) of the next element."""
        header = self.pos
        stop = span(self.buf, header, self.end, tag, self.error)[1]
        self.pos = stop
        return self.buf[header:stop]

    def any(self) -> bytes:
        tag = self.peek()
        if tag is None:
            raise self.error("truncated DER")
        return self.element(tag)

    def finish(self) -> None:
        if self.pos != self.end:
            raise self.error("unexpected trailing DER data")
