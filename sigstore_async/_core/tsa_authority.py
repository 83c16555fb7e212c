"""A timestamp authority of the trust root, as the RFC 3161 checks take it.

Owns: the ``TsaAuthority`` value. It lives apart from ``rfc3161`` so that the
compiled build (mypyc) compiles that module's parsing and checks while this
attrs class, with its field converter and validators, stays an ordinary
Python class like the other models. ``rfc3161`` re-exports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

__all__ = ["TsaAuthority"]


def _der_tuple(certificates: Sequence[bytes]) -> tuple[bytes, ...]:
    return tuple(certificates)


def _aware(instance: object, attribute: attrs.Attribute[datetime | None], value: object) -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime or None")


@attrs.frozen
class TsaAuthority:
    """A timestamp authority from the trust root.

    ``chain`` is its certificate chain as DER, leaf first, ending in the root.
    ``valid_from``/``valid_until`` bound the ``genTime`` of the tokens it may
    issue (both ends inclusive); a missing end is open-ended, and an
    authority without ``valid_from`` is unusable. ``name`` (a URI or subject)
    only labels the authority in errors and results.
    """

    chain: tuple[bytes, ...] = attrs.field(converter=_der_tuple)
    valid_from: datetime | None = attrs.field(default=None, validator=_aware)
    valid_until: datetime | None = attrs.field(default=None, validator=_aware)
    name: str | None = None
