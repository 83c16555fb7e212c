"""Fault injection and adversarial behaviour for LocalSigstore.

Owns: the knobs a test turns to make a service slow, flaky or dishonest, and
the per-endpoint request counters. Services consult them; they never decide
anything cryptographic.
"""

from __future__ import annotations

import enum
import random
from collections import Counter
from typing import Any

import attrs

__all__ = ["SERVICES", "Adversary", "FaultDecision", "Faults", "ServiceFaults"]

#: The services of a LocalSigstore, as knobs and counters name them.
SERVICES = ("oidc", "fulcio", "rekor", "rekor_v2", "tsa", "tuf")

_ERROR_STATUSES = (429, 500, 502, 503, 504)


class Adversary(enum.StrEnum):
    """Ways the services can lie. Each must be caught by a verifier."""

    #: Rekor v1/v2: the inclusion proof has a wrong hash.
    WRONG_INCLUSION_PROOF = "wrong_inclusion_proof"
    #: Rekor v1/v2: the checkpoint is signed by another key (same name and key hint).
    CHECKPOINT_WRONG_KEY = "checkpoint_wrong_key"
    #: Rekor v1/v2: the logged body is not the one submitted (another signature).
    ENTRY_BODY_MISMATCH = "entry_body_mismatch"
    #: Rekor v1: the signed entry timestamp is signed by another key.
    WRONG_SET = "wrong_set"
    #: Fulcio: the certificate certifies another public key.
    CERTIFICATE_WRONG_KEY = "certificate_wrong_key"
    #: Fulcio: the certificate names another identity than the token.
    CERTIFICATE_WRONG_IDENTITY = "certificate_wrong_identity"
    #: Fulcio: the certificate expired an hour before it was issued.
    EXPIRED_CERTIFICATE = "expired_certificate"
    #: Fulcio: the embedded SCT names the instance's CT log but another key signed it.
    WRONG_SCT = "wrong_sct"
    #: TSA: the timestamp covers other bytes than the ones sent.
    TIMESTAMP_WRONG_IMPRINT = "timestamp_wrong_imprint"
    #: TSA: the timestamp is signed by another key.
    TIMESTAMP_WRONG_KEY = "timestamp_wrong_key"


def _probability(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1")


def _status(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value not in _ERROR_STATUSES:
        raise ValueError(f"error_status must be one of {_ERROR_STATUSES}")


def _not_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative")


@attrs.define
class ServiceFaults:
    """How one service misbehaves. Change the fields at any time (they are
    validated on assignment too).

    ``fail_next`` is the deterministic knob: the next N requests fail with
    ``error_status``. ``error_rate`` and ``drop_rate`` draw from the stack's
    seeded random generator, so a given seed gives the same sequence.
    """

    #: Seconds to wait before answering.
    latency: float = attrs.field(default=0.0, validator=_not_negative)
    #: Probability that a request gets ``error_status``.
    error_rate: float = attrs.field(default=0.0, validator=_probability)
    #: The status of injected errors: 429, 500, 502, 503 or 504.
    error_status: int = attrs.field(default=503, validator=_status)
    #: Seconds for the ``Retry-After`` header of injected errors (None: no header).
    retry_after: float | None = None
    #: Probability that the connection is dropped after the status line.
    drop_rate: float = attrs.field(default=0.0, validator=_probability)
    #: The next N requests fail with ``error_status`` (counts down).
    fail_next: int = attrs.field(default=0, validator=_not_negative)
    #: The next N requests have their connection dropped (counts down).
    drop_next: int = attrs.field(default=0, validator=_not_negative)


@attrs.frozen
class FaultDecision:
    latency: float
    error_status: int | None = None
    retry_after: float | None = None
    drop: bool = False


@attrs.define
class Faults:
    """All services' knobs, the adversarial modes, and the request counters."""

    services: dict[str, ServiceFaults] = attrs.field(
        factory=lambda: {name: ServiceFaults() for name in SERVICES}
    )
    adversary: set[Adversary] = attrs.field(factory=set)
    #: Requests seen, keyed ``"<METHOD> <route template>"`` (for example
    #: ``"POST /rekor/api/v1/log/entries"``), counted before any fault.
    requests: Counter[str] = attrs.field(factory=Counter)
    #: Requests seen per service.
    service_requests: Counter[str] = attrs.field(factory=Counter)
    seed: int | None = None
    _random: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - fault injection, not crypto
        for name in SERVICES:
            self.services.setdefault(name, ServiceFaults())
        unknown = set(self.services) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; known: {SERVICES}")

    def __getitem__(self, service: str) -> ServiceFaults:
        return self.services[service]

    def decide(self, service: str) -> FaultDecision:
        """What happens to the next request of ``service``."""
        f = self.services[service]
        drop = False
        status: int | None = None
        if f.drop_next > 0:
            f.drop_next -= 1
            drop = True
        elif f.fail_next > 0:
            f.fail_next -= 1
            status = f.error_status
        elif f.drop_rate and self._random.random() < f.drop_rate:
            drop = True
        elif f.error_rate and self._random.random() < f.error_rate:
            status = f.error_status
        return FaultDecision(
            latency=f.latency,
            error_status=status,
            retry_after=f.retry_after if status is not None else None,
            drop=drop,
        )

    def active(self, mode: Adversary) -> bool:
        return mode in self.adversary
