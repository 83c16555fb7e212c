"""The one cattrs converter that owns Sigstore's protobuf-JSON wire format.

Owns: the mapping between frozen attrs models and protobuf-JSON (lowerCamelCase
names, standard base64 for bytes, 64-bit integers as strings, RFC 3339
timestamps), strict scalar checks, and turning structuring failures into one
error that names the path of the bad field.

Reading follows the protobuf-JSON rules producers rely on: both the
lowerCamelCase and the original snake_case names are accepted, ``null`` means
"not set", unknown keys are ignored, 64-bit integers may be strings or numbers,
bytes may be standard or URL-safe base64 with or without padding, and
timestamps may have any number of fractional-second digits.

Writing is canonical protobuf-JSON: fields that hold their default value are
omitted, bytes are standard padded base64, timestamps use 0, 3, 6 or 9
fractional digits and ``Z``.

Does not own: invariants that span fields (each model's ``from_dict`` checks
those), nor any I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NewType, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._direct import (
    BytesReader,
    FieldReader,
    FuncReader,
    GiveUp,
    Int64Reader,
    ObjectReader,
    StrReader,
    TupleReader,
    decode_base64_padded,
)

__all__ = ["Int64", "Json", "WireFormatError", "converter", "structure", "unstructure"]

#: A protobuf int64 (the only 64-bit integer type of the Sigstore messages): a
#: JSON string on the wire, or a number.
Int64 = NewType("Int64", int)
#: An arbitrary JSON value carried through untouched (``google.protobuf.Value``).
Json = NewType("Json", object)

T = TypeVar("T")

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INT_RE = re.compile(r"-?(0|[1-9][0-9]*)")
_B64_RE = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")
# ASCII digits only: "\d" would also match other scripts' digits, which int() reads.
_RFC3339_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


class WireFormatError(ValueError):
    """A value does not have the wire type its field requires.

    ``path`` is a JSON path (``$.a.b[0].c``) to the bad value.
    """

    def __init__(self, message: str, path: str = "$", *, suffix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        #: A path step below where the error was raised (a field of the object
        #: being structured), appended when the full path is known.
        self.suffix = suffix

    def __str__(self) -> str:
        return f"{self.message} (at {self.path})"


def camel(name: str) -> str:
    """The protobuf-JSON name of a field: underscores dropped, next letter upper."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


# --- scalars ---------------------------------------------------------------


def _structure_str(value: object, _: object) -> str:
    if not isinstance(value, str):
        raise WireFormatError(f"expected a string, got {type(value).__name__}")
    return value


def _structure_bool(value: object, _: object) -> bool:
    if not isinstance(value, bool):
        raise WireFormatError(f"expected a boolean, got {type(value).__name__}")
    return value


def _parse_int(value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise WireFormatError("expected an integer, got a boolean")
    if isinstance(value, int):
        result = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and _INT_RE.fullmatch(value)
    ):
        result = int(value)
    else:
        raise WireFormatError(f"expected an integer, got {value!r:.40}")
    if not lo <= result <= hi:
        raise WireFormatError(f"integer {result} out of range")
    return result


def _structure_int64(value: object, _: object) -> Int64:
    return Int64(_parse_int(value, _INT64_MIN, _INT64_MAX))


def _structure_int32(value: object, _: object) -> int:
    return _parse_int(value, -(2**31), 2**32 - 1)


def decode_base64(value: str) -> bytes:
    """Decode protobuf-JSON bytes: standard or URL-safe alphabet, padding optional.

    Raises ``WireFormatError`` on any character outside the alphabet or a
    length that no encoding produces.
    """
    # What writers emit decodes in one strict call; everything else takes the
    # lenient path below (same bytes when both accept).
    try:
        return decode_base64_padded(value)
    except binascii.Error:
        return _decode_base64_lenient(value)


def _decode_base64_lenient(value: str) -> bytes:
    # Like the protobuf runtimes (Go's decoder drops CR and LF), tolerate
    # line breaks inside base64 text; any other stray character is an error.
    value = value.replace("\r", "").replace("\n", "")
    if not _B64_RE.fullmatch(value):
        raise WireFormatError("invalid base64")
    data = value.rstrip("=")
    if len(data) % 4 == 1:
        raise WireFormatError("invalid base64 length")
    data = data.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except binascii.Error as e:  # pragma: no cover - the regex rules this out
        raise WireFormatError("invalid base64") from e


def _structure_bytes(value: object, _: object) -> bytes:
    if not isinstance(value, str):
        raise WireFormatError(f"expected base64 text, got {type(value).__name__}")
    return decode_base64(value)


def parse_rfc3339(value: str) -> datetime:
    """Parse a protobuf ``Timestamp`` (RFC 3339) into an aware UTC datetime.

    Any number of fractional digits up to nanoseconds; digits past the
    microsecond are truncated (datetime has no finer resolution).
    """
    m = _RFC3339_RE.fullmatch(value)
    if not m:
        raise WireFormatError(f"invalid RFC 3339 timestamp {value!r:.40}")
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = m.groups()
    try:
        dt = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((frac or "0").ljust(6, "0")[:6]),
            tzinfo=UTC,
        )
    except ValueError as e:
        raise WireFormatError(f"invalid RFC 3339 timestamp {value!r:.40}") from e
    if not zulu:
        offset = timedelta(hours=int(oh), minutes=int(om))
        try:
            dt = dt - offset if sign == "+" else dt + offset
        except OverflowError as e:  # shifted past year 1 or 9999: no Timestamp
            raise WireFormatError(f"RFC 3339 timestamp out of range {value!r:.40}") from e
    return dt


def format_rfc3339(value: datetime) -> str:
    """Format as protobuf-JSON does: UTC, ``Z``, 0/3/6 fractional digits."""
    v = value.astimezone(UTC)
    # Four year digits always (strftime's %Y writes year 999 as "999").
    base = f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if v.microsecond == 0:
        return base + "Z"
    if v.microsecond % 1000 == 0:
        return f"{base}.{v.microsecond // 1000:03d}Z"
    return f"{base}.{v.microsecond:06d}Z"


def _structure_datetime(value: object, _: object) -> datetime:
    if not isinstance(value, str):
        raise WireFormatError(f"expected an RFC 3339 string, got {type(value).__name__}")
    return parse_rfc3339(value)


def _structure_json(value: object, _: object) -> Json:
    return Json(value)


# --- attrs classes ---------------------------------------------------------


def _is_attrs(cls: Any) -> bool:
    return isinstance(cls, type) and attrs.has(cls)


def _make_structure(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    def factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        attrs.resolve_types(cls)
        fields = attrs.fields(cls)
        renames = {f.name: camel(f.name) for f in fields}
        # cattrs would turn a string into a tuple of characters: repeated
        # fields must be JSON arrays.
        repeated = {renames[f.name] for f in fields if get_origin(f.type) is tuple}
        inner = make_dict_structure_fn(
            cls,
            conv,
            _cattrs_detailed_validation=True,
            **{name: override(rename=renames[name]) for name in renames},  # type: ignore[arg-type]
        )
        aliases = {name: renames[name] for name in renames if name != renames[name]}

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, Mapping):
                raise WireFormatError(f"expected an object, got {type(value).__name__}")
            normalized: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise WireFormatError("object keys must be strings")
                if item is None:  # protobuf-JSON: null means "not set"
                    continue
                name = aliases.get(key, key)
                if name in repeated and not isinstance(item, list):
                    raise WireFormatError(
                        f"expected an array, got {type(item).__name__}", suffix=f".{name}"
                    )
                normalized[name] = item
            return inner(normalized, cls)

        return structure

    return factory


def _make_unstructure(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any], Any]]:
    def factory(cls: type[Any]) -> Callable[[Any], Any]:
        fields = attrs.fields(cls)
        inner = make_dict_unstructure_fn(
            cls,
            conv,
            _cattrs_omit_if_default=True,
            **{f.name: override(rename=camel(f.name)) for f in fields},  # type: ignore[arg-type]
        )

        def unstructure(value: Any) -> Any:
            out = inner(value)
            # Protobuf-JSON omits every field that holds its default: empty
            # lists and strings, zero, false, unset messages.
            return {k: v for k, v in out.items() if v not in (None, "", [], 0, False)}

        return unstructure

    return factory


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_int32)
    conv.register_structure_hook(Int64, _structure_int64)
    conv.register_structure_hook(bytes, _structure_bytes)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(Json, _structure_json)
    conv.register_unstructure_hook(Int64, lambda v: str(v) if v else 0)
    conv.register_unstructure_hook(
        bytes, lambda v: base64.b64encode(v).decode("ascii") if v else ""
    )
    conv.register_unstructure_hook(datetime, format_rfc3339)
    conv.register_unstructure_hook(Json, lambda v: v)
    conv.register_structure_hook_factory(_is_attrs, _make_structure(conv))
    conv.register_unstructure_hook_factory(_is_attrs, _make_unstructure(conv))
    return conv


converter = _make_converter()


def _first_error(exc: BaseException, path: str) -> tuple[str, BaseException]:
    """Walk cattrs' exception groups to the first leaf error and its path."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        for sub in exc.exceptions:
            step = ""
            for note in getattr(sub, "__notes__", []):
                name = getattr(note, "name", None)
                index = getattr(note, "index", None)
                if name is not None:
                    step = "." + camel(name)
                    break
                if index is not None:
                    step = f"[{index}]"
                    break
            return _first_error(sub, path + step)
    if isinstance(exc, WireFormatError):
        return path + exc.suffix, exc
    return path, exc


# --- the fast path --------------------------------------------------------
#
# cattrs' generated code, run with error paths collected, plus the key
# normalisation above, cost about as much as decoding a bundle's base64. Well
# formed input takes a direct reader built from the same field table and the
# same scalar hooks; it gives up at the first surprise (a wrong type, a bad
# value) and the input is read again by ``converter``, whose answer, value or
# error with its path, is the one returned. When the direct reader succeeds
# it returns what ``converter`` would have (tests compare the two on every
# vector and on mutated ones).


def _read_int64_other(value: object) -> int:
    return _structure_int64(value, None)


_SCALARS: dict[Any, FieldReader] = {
    str: StrReader(),
    bool: FuncReader(lambda v: _structure_bool(v, None)),
    int: FuncReader(lambda v: _structure_int32(v, None)),
    Int64: Int64Reader(_read_int64_other),
    bytes: BytesReader(_decode_base64_lenient),
    datetime: FuncReader(lambda v: _structure_datetime(v, None)),
    Json: FuncReader(lambda v: v),
}
# Each attrs class's reader; None for a class the fast path leaves to ``converter``.
_DIRECT: dict[type[Any], ObjectReader | None] = {}


def _reader_for(tp: Any) -> FieldReader | None:
    """A direct reader for a field type, or None when it has none."""
    if tp in _SCALARS:
        return _SCALARS[tp]
    origin, args = get_origin(tp), get_args(tp)
    if origin is types.UnionType and len(args) == 2 and type(None) in args:
        # X | None: a null is dropped with its key before a field is read.
        return _reader_for(next(a for a in args if a is not type(None)))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        element = _reader_for(args[0])
        return None if element is None else TupleReader(element)
    if _is_attrs(tp):
        return _object_reader(tp)
    return None


def _object_reader(cls: type[Any]) -> ObjectReader | None:
    if cls in _DIRECT:
        return _DIRECT[cls]  # a recursive model meets its own reader, not yet ready
    reader = _DIRECT[cls] = ObjectReader(cls)
    attrs.resolve_types(cls)
    for field in attrs.fields(cls):
        field_reader = _reader_for(field.type)
        if field_reader is None or field.converter is not None or field.validator is not None:
            _DIRECT[cls] = None  # converter reads it; the reader stays not ready
            return None
        # Both the lowerCamelCase and the original name, as the converter accepts.
        reader.table[camel(field.name)] = reader.table[field.name] = (field.name, field_reader)
    reader.ready = True
    return reader


def _direct(cls: type[Any]) -> Callable[[Any], Any] | None:
    """The direct reader of an attrs class, or None when ``converter`` reads it."""
    reader = _object_reader(cls)
    return None if reader is None else reader.read


def structure(data: object, cls: type[T]) -> T:
    """Structure protobuf-JSON ``data`` into ``cls``.

    Raises:
        WireFormatError: with the path of the first bad field.
    """
    reader = _direct(cls) if _is_attrs(cls) else None
    if reader is not None:
        try:
            result: T = reader(data)
            return result
        except (GiveUp, WireFormatError, TypeError, ValueError, KeyError, RecursionError):
            pass  # read again below, for the error and its path
    return _structure_slow(data, cls)


def _structure_slow(data: object, cls: type[T]) -> T:
    try:
        return converter.structure(data, cls)
    except WireFormatError as e:
        raise WireFormatError(e.message, "$" + e.suffix) from e
    except (ClassValidationError, IterableValidationError) as group:
        path, leaf = _first_error(group, "$")
        if isinstance(leaf, WireFormatError):
            raise WireFormatError(leaf.message, path) from group
        if isinstance(leaf, KeyError):
            raise WireFormatError("required field missing", path) from group
        raise WireFormatError(f"invalid value: {leaf}", path) from group
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise WireFormatError(f"invalid value: {e}") from e


def unstructure(value: object) -> Any:
    """The canonical protobuf-JSON form of a model."""
    return converter.unstructure(value)
