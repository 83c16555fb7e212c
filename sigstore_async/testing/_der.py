"""Just enough DER (X.690) to answer RFC 3161 requests.

Owns: encoding the handful of ASN.1 types a ``TimeStampResp`` needs, and
reading the ``TimeStampReq`` a client sends with the strict reader of
``sigstore_async._core.der``. Certificates are built with ``cryptography``;
only CMS and the timestamp structures, which it does not build, are encoded
here.

Every problem with untrusted input raises :class:`DerError` (a ``ValueError``),
which the HTTP layer turns into a 400.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Self

from sigstore_async._core import der as _core_der
from sigstore_async._core.der import DerError, tlv

__all__ = [
    "DerError",
    "Reader",
    "boolean",
    "explicit",
    "generalized_time",
    "implicit",
    "integer",
    "null",
    "octets",
    "oid",
    "seq",
    "set_of",
    "tlv",
    "utf8",
]

SEQUENCE, SET, INTEGER, BOOLEAN, OCTET_STRING, OID, NULL = 0x30, 0x31, 0x02, 0x01, 0x04, 0x06, 0x05


# --- encoding -----------------------------------------------------------------------------------


def seq(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


def set_of(*items: bytes) -> bytes:
    # X.690 11.6: the elements of a DER SET OF are sorted by their encodings.
    return tlv(SET, b"".join(sorted(items)))


def integer(n: int) -> bytes:
    # X.690 8.3: two's complement, fewest octets.
    size = max(1, (n.bit_length() + 8) // 8)
    return tlv(INTEGER, n.to_bytes(size, "big", signed=True))


def boolean(value: bool) -> bytes:
    return tlv(BOOLEAN, b"\xff" if value else b"\x00")


def null() -> bytes:
    return tlv(NULL, b"")


def octets(data: bytes) -> bytes:
    return tlv(OCTET_STRING, data)


def utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode("utf-8"))


def oid(dotted: str) -> bytes:
    return tlv(OID, _core_der.oid_content(dotted))


def generalized_time(when: datetime) -> bytes:
    """``YYYYMMDDHHMMSS[.f]Z`` in UTC, fraction without trailing zeros (RFC 3161 2.4.2)."""
    when = when.astimezone(UTC)
    text = when.strftime("%Y%m%d%H%M%S")
    if when.microsecond:
        text += "." + f"{when.microsecond:06d}".rstrip("0")
    return tlv(0x18, (text + "Z").encode("ascii"))


def explicit(number: int, content: bytes) -> bytes:
    """``[number] EXPLICIT``: a constructed context tag around an encoding."""
    return tlv(0xA0 | number, content)


def implicit(number: int, element: bytes, *, constructed: bool) -> bytes:
    """``[number] IMPLICIT``: ``element`` with its tag replaced."""
    tag = (0xA0 if constructed else 0x80) | number
    return bytes([tag]) + element[1:]


# --- decoding -----------------------------------------------------------------------------------


class Reader(_core_der.Reader):
    """The shared strict reader, raising :class:`DerError`; here a tag is
    checked after its element's length, so a bad length is reported first."""

    __slots__ = ()

    def read(self, tag: int | None = None) -> tuple[int, bytes, bytes]:
        """Consume one element: (tag, whole encoding, content)."""
        header, start, stop = self._take(tag)
        return self.buf[header], self.buf[header:stop], self.buf[start:stop]

    def enter(self, tag: int) -> Self:
        _, start, stop = self._take(tag)
        return type(self)(self.buf, start, stop)

    def _take(self, tag: int | None) -> tuple[int, int, int]:
        header, start, stop = self.next()
        found = self.buf[header]
        if tag is not None and found != tag:
            raise DerError(f"unexpected DER tag 0x{found:02x}, expected 0x{tag:02x}")
        return header, start, stop

    def integer(self) -> int:
        _, _, content = self.read(INTEGER)
        if not content:
            raise DerError("empty INTEGER")
        if len(content) > 1 and (
            (content[0] == 0 and content[1] < 0x80) or (content[0] == 0xFF and content[1] >= 0x80)
        ):
            raise DerError("non-minimal INTEGER")
        return int.from_bytes(content, "big", signed=True)

    def boolean(self) -> bool:
        _, _, content = self.read(BOOLEAN)
        if content not in (b"\x00", b"\xff"):
            raise DerError("malformed BOOLEAN")
        return content == b"\xff"


def oid_text(content: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER's content octets."""
    if not content or content[-1] & 0x80:
        raise DerError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for i, byte in enumerate(content):
        if value == 0 and byte == 0x80 and (i == 0 or not content[i - 1] & 0x80):
            raise DerError("non-minimal OBJECT IDENTIFIER arc")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in [*head, *arcs[1:]])
