"""The direct reader's machinery, and strict base64: the hot part of reading models.

Owns: the field readers that ``_converter``'s fast path builds from each attrs
class's fields (a string, bytes, a 64-bit integer, a repeated field, a nested
message), and ``decode_base64_padded``, the one strict call that decodes what
writers emit. Plain typed Python that the compiled build turns into a C
extension (``_core.COMPILABLE``); the pure build runs it as it is.

Does not own: which reader a field gets, the scalar hooks' rules for anything
unusual, or error paths. A reader raises ``GiveUp`` at the first surprise and
``_converter`` reads the input again with cattrs, whose answer (value, or error
with its path) is the one returned.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any

import pybase64

__all__ = [
    "BytesReader",
    "FieldReader",
    "FuncReader",
    "GiveUp",
    "Int64Reader",
    "ObjectReader",
    "StrReader",
    "TupleReader",
    "decode_base64_padded",
]

_INT64_MAX = 2**63 - 1  # every 64-bit integer of the Sigstore messages is an int64

# Above this many characters pybase64 (SIMD) decodes faster than binascii, which
# reads about 150 MB/s here: a bundle's certificate and log body, and the PEM
# inside the body, are some 12 KB of base64.
_SIMD_FROM = 128


class GiveUp(Exception):
    """A direct reader met something it leaves to the converter."""


def decode_base64_padded(text: str | bytes) -> bytes:
    """Standard base64 with its padding, as writers emit it (Go's ``[]byte``,
    protobuf-JSON), in one strict call (``binascii`` for short text,
    ``pybase64`` for long).

    Strict mode still reads padding after a complete quantum ("AQID===="):
    the length check refuses it. Accepts no more than
    ``base64.b64decode(text, validate=True)`` and reads the same bytes.

    Raises:
        binascii.Error: anything else (non-ASCII text included).
    """
    n = len(text)
    if n % 4:
        raise binascii.Error("base64 length is not a multiple of 4")
    # Both decoders take ASCII text as it is; other text is a ValueError.
    pad = text[-2:].count("=") if isinstance(text, str) else text[-2:].count(b"=")
    try:
        raw: bytes
        if n > _SIMD_FROM:
            raw = pybase64.b64decode(text, validate=True)
        else:
            raw = binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        raise
    except ValueError as e:
        raise binascii.Error("non-ASCII base64") from e
    if len(raw) != n // 4 * 3 - pad:
        raise binascii.Error("misplaced base64 padding")
    return raw


class FieldReader:
    """Reads one field's JSON value, or raises ``GiveUp``."""

    def read(self, value: object) -> Any:
        raise GiveUp


class StrReader(FieldReader):
    def read(self, value: object) -> Any:
        if type(value) is not str:
            raise GiveUp
        return value


class BytesReader(FieldReader):
    """Base64 text: the strict call first, then ``lenient`` (URL-safe alphabet,
    missing padding), which raises for anything no encoding produces."""

    def __init__(self, lenient: Callable[[str], bytes]) -> None:
        self.lenient = lenient

    def read(self, value: object) -> Any:
        if type(value) is not str:
            raise GiveUp
        try:
            return decode_base64_padded(value)
        except binascii.Error:
            return self.lenient(value)


class Int64Reader(FieldReader):
    """protobuf-JSON writes 64-bit integers as decimal strings: a plain one (no
    sign, no leading zero) is read here, anything else by ``other``."""

    def __init__(self, other: Callable[[object], int]) -> None:
        self.other = other

    def read(self, value: object) -> Any:
        if type(value) is str and value.isascii() and value.isdigit() and value[0] != "0":
            result = int(value)
            if result <= _INT64_MAX:
                return result
        return self.other(value)


class FuncReader(FieldReader):
    """A scalar hook as a reader (booleans, 32-bit integers, timestamps, JSON values)."""

    def __init__(self, func: Callable[[object], Any]) -> None:
        self.func = func

    def read(self, value: object) -> Any:
        return self.func(value)


class TupleReader(FieldReader):
    """A repeated field: a JSON array, each element read by ``element``."""

    def __init__(self, element: FieldReader) -> None:
        self.element = element

    def read(self, value: object) -> Any:
        if type(value) is not list:
            raise GiveUp
        element = self.element
        return tuple([element.read(item) for item in value])


class ObjectReader(FieldReader):
    """A message: ``table`` maps both spellings of each field's JSON name (the
    lowerCamelCase and the original) to the attribute name and its reader.
    Unknown keys are ignored and ``null`` means "not set", as the converter
    reads them. The table is filled after construction, so that a recursive
    model can name its own reader; the reader gives up until ``ready`` says
    the table is complete (it never is for a class the fast path cannot read)."""

    def __init__(self, cls: Callable[..., Any]) -> None:
        self.cls = cls
        self.table: dict[str, tuple[str, FieldReader]] = {}
        self.ready = False

    def read(self, value: object) -> Any:
        if not self.ready or type(value) is not dict:
            raise GiveUp
        table = self.table
        kwargs: dict[str, Any] = {}
        for key, item in value.items():
            spec = table.get(key)
            if spec is None:
                if type(key) is not str:
                    raise GiveUp
                continue  # unknown keys are ignored
            if item is not None:  # null means "not set"
                kwargs[spec[0]] = spec[1].read(item)
        return self.cls(**kwargs)
