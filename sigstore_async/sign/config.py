"""Which services to sign with: selection from a signing config (sans-I/O).

Owns: the SigningConfig v0.2 selection rules, applied at a given time, and the
resulting :class:`SigningPlan` (one CA, the transparency logs, the timestamp
authorities, the OIDC issuer). Does not own: talking to any service, or the
trust root the results are checked against.

The rules (protobuf-specs ``dev.sigstore.trustroot.v1.Service`` and
``ServiceConfiguration``), in the order they are applied:

1. Drop services whose major API version this client does not speak, and
   services whose validity window does not contain ``now`` (both ends
   inclusive).
2. Keep only the highest API version that remains ("select services from
   only the highest supported API version").
3. Group by ``operator``; in each group keep the service with the newest
   validity start ("at most one service from an operator").
4. Apply the selector: ``ANY`` takes one, ``EXACT`` takes ``count`` (too few
   is an error), ``ALL`` takes every operator's service.

Order is preserved from the config (operators in order of their first
service), so ``ANY`` is deterministic: the first operator listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs

from ..errors import TrustError
from ..models.trust_root import Service, ServiceConfiguration, SigningConfig

__all__ = [
    "CA_VERSIONS",
    "OIDC_VERSIONS",
    "REKOR_VERSIONS",
    "TSA_VERSIONS",
    "SigningPlan",
    "plan_signing",
    "select_services",
]

#: Major API versions this client speaks, per kind of service. Fulcio's v2 REST
#: API is major version 1 in signing configs; Rekor v1 and v2 both.
CA_VERSIONS = frozenset({1})
REKOR_VERSIONS = frozenset({1, 2})
TSA_VERSIONS = frozenset({1})
OIDC_VERSIONS = frozenset({1})

_SELECTORS = {"ALL", "ANY", "EXACT"}


def _valid_at(service: Service, now: datetime) -> bool:
    # A signing config service without a validity window, or without a start,
    # is open on that side (unlike trust-root keys, which must have a start:
    # a wrongly selected service cannot forge anything, the verifier decides).
    vf = service.valid_for
    if vf is None:
        return True
    if vf.start is not None and now < vf.start:
        return False
    return vf.end is None or now <= vf.end


def _start_key(service: Service) -> datetime | None:
    return service.valid_for.start if service.valid_for is not None else None


def select_services(
    services: Sequence[Service],
    *,
    versions: Iterable[int],
    config: ServiceConfiguration | None,
    now: datetime,
    what: str,
) -> tuple[Service, ...]:
    """Select services of one kind at ``now`` (see the module docstring).

    ``config=None`` (no ``ServiceConfiguration`` in the document) selects one
    service, as ``ANY`` does.

    Raises:
        TrustError: the selector is unknown or undefined, or ``EXACT`` asks for
            more services than there are operators with a usable service.
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    supported = frozenset(versions)
    usable = [s for s in services if s.major_api_version in supported and _valid_at(s, now)]
    if usable:
        top = max(s.major_api_version for s in usable)
        usable = [s for s in usable if s.major_api_version == top]
    by_operator: dict[str, Service] = {}
    for s in usable:
        best = by_operator.get(s.operator)
        if best is None:
            by_operator[s.operator] = s
            continue
        # Newest validity start wins; an open start is the oldest.
        new, old = _start_key(s), _start_key(best)
        if new is not None and (old is None or new > old):
            by_operator[s.operator] = s
    chosen = tuple(by_operator.values())

    selector = config.selector if config is not None else "ANY"
    if selector not in _SELECTORS:
        # protobuf-specs: a client SHOULD throw an error if the selector is undefined.
        raise TrustError(f"{what}: unsupported service selector {selector!r:.40}")
    if selector == "ALL":
        return chosen
    if selector == "ANY":
        return chosen[:1]
    assert config is not None
    count = config.count
    if count < 1:
        raise TrustError(f"{what}: EXACT selector with count {count}")
    if len(chosen) < count:
        # protobuf-specs: clients MUST return an error if there are not enough services.
        raise TrustError(
            f"{what}: the signing config asks for exactly {count} services from distinct "
            f"operators, {len(chosen)} usable"
        )
    return chosen[:count]


@attrs.frozen
class SigningPlan:
    """The services one signing session uses."""

    #: The certificate authority (Fulcio).
    ca: Service
    #: Transparency logs to submit every signature to (at least one).
    tlogs: tuple[Service, ...]
    #: Timestamp authorities to timestamp every signature with (may be empty).
    tsas: tuple[Service, ...]
    #: The OIDC issuer for interactive flows, if the config names one.
    oidc: Service | None = None


def plan_signing(
    config: SigningConfig,
    *,
    now: datetime,
    rekor_versions: Iterable[int] = REKOR_VERSIONS,
) -> SigningPlan:
    """Choose the services to sign with at ``now``.

    ``rekor_versions`` narrows the Rekor API versions considered (for example
    ``{1}`` to force Rekor v1 where a config lists both).

    Raises:
        TrustError: no usable CA or transparency log, an ``EXACT`` selector
            that cannot be met, or Rekor v2 without a timestamp authority
            (Rekor v2 entries carry no time, so such bundles cannot verify).
    """
    cas = select_services(config.ca_urls, versions=CA_VERSIONS, config=None, now=now, what="CA")
    if not cas:
        raise TrustError("the signing config names no usable certificate authority")
    tlogs = select_services(
        config.rekor_tlog_urls,
        versions=frozenset(rekor_versions) & REKOR_VERSIONS,
        config=config.rekor_tlog_config,
        now=now,
        what="transparency logs",
    )
    if not tlogs:
        raise TrustError("the signing config names no usable transparency log")
    tsas = select_services(
        config.tsa_urls, versions=TSA_VERSIONS, config=config.tsa_config, now=now, what="TSAs"
    )
    if not tsas and any(t.major_api_version == 2 for t in tlogs):
        raise TrustError(
            "Rekor v2 entries carry no integrated time: the signing config must name a "
            "timestamp authority"
        )
    oidc = select_services(
        config.oidc_urls, versions=OIDC_VERSIONS, config=None, now=now, what="OIDC"
    )
    return SigningPlan(ca=cas[0], tlogs=tlogs, tsas=tsas, oidc=oidc[0] if oidc else None)
