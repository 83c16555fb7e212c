"""Signing-config service selection (SigningConfig v0.2 rules), as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from sigstore_async.errors import TrustError
from sigstore_async.models import Service, ServiceConfiguration, SigningConfig, TimeRange
from sigstore_async.sign.config import plan_signing, select_services
from sigstore_async.trust import embedded_signing_config

NOW = datetime(2025, 10, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def svc(
    url: str,
    version: int = 1,
    operator: str = "a.dev",
    start: datetime | None = NOW - 10 * DAY,
    end: datetime | None = None,
) -> Service:
    return Service(
        url=url,
        major_api_version=version,
        valid_for=TimeRange(start=start, end=end),
        operator=operator,
    )


ANY = ServiceConfiguration(selector="ANY")
ALL = ServiceConfiguration(selector="ALL")


def exact(n: int) -> ServiceConfiguration:
    return ServiceConfiguration(selector="EXACT", count=n)


@attrs.frozen
class Case:
    name: str
    services: tuple[Service, ...]
    config: ServiceConfiguration | None
    expected: tuple[str, ...]


CASES = [
    Case("any picks the first", (svc("u1"), svc("u2", operator="b.dev")), ANY, ("u1",)),
    Case("missing config acts as any", (svc("u1"), svc("u2", operator="b.dev")), None, ("u1",)),
    Case(
        "all: one per operator",
        (svc("u1"), svc("u2", operator="b.dev"), svc("u3", operator="b.dev", start=NOW - DAY)),
        ALL,
        ("u1", "u3"),
    ),
    Case(
        "exact 2 of 3 operators",
        (svc("u1"), svc("u2", operator="b.dev"), svc("u3", operator="c.dev")),
        exact(2),
        ("u1", "u2"),
    ),
    Case("expired service skipped", (svc("old", end=NOW - DAY), svc("new")), ANY, ("new",)),
    Case("not yet valid skipped", (svc("future", start=NOW + DAY), svc("u")), ANY, ("u",)),
    Case("end is inclusive", (svc("edge", end=NOW),), ANY, ("edge",)),
    Case("start is inclusive", (svc("edge", start=NOW),), ANY, ("edge",)),
    Case("no window is always valid", (svc("open", start=None),), ANY, ("open",)),
    Case(
        "highest version only",
        (svc("v1", 1), svc("v2", 2, operator="b.dev")),
        ALL,
        ("v2",),
    ),
    Case("unsupported version skipped", (svc("v3", 3), svc("v1", 1)), ANY, ("v1",)),
    Case(
        "newest start per operator",
        (svc("older", start=NOW - 5 * DAY), svc("newer", start=NOW - DAY)),
        ANY,
        ("newer",),
    ),
    Case("nothing usable", (svc("old", end=NOW - DAY),), ANY, ()),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_select_services(case: Case) -> None:
    got = select_services(case.services, versions={1, 2}, config=case.config, now=NOW, what="t")
    assert tuple(s.url for s in got) == case.expected


def test_exact_with_too_few_operators_is_an_error() -> None:
    with pytest.raises(TrustError, match="exactly 2"):
        select_services((svc("u1"), svc("u2")), versions={1}, config=exact(2), now=NOW, what="logs")


@pytest.mark.parametrize("selector", ["", "SERVICE_SELECTOR_UNDEFINED", "SOME"])
def test_undefined_selector_is_an_error(selector: str) -> None:
    with pytest.raises(TrustError, match="selector"):
        select_services(
            (svc("u1"),),
            versions={1},
            config=ServiceConfiguration(selector=selector),
            now=NOW,
            what="logs",
        )


def test_naive_time_is_misuse() -> None:
    with pytest.raises(ValueError, match="timezone"):
        select_services((), versions={1}, config=None, now=datetime(2025, 1, 1), what="t")


def _config(**kwargs: object) -> SigningConfig:
    base: dict[str, object] = {
        "media_type": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "ca_urls": (svc("https://fulcio"),),
        "rekor_tlog_urls": (svc("https://rekor"),),
        "rekor_tlog_config": ANY,
        "tsa_config": ANY,
    }
    base.update(kwargs)
    return SigningConfig(**base)  # type: ignore[arg-type]


def test_plan_signing_picks_services() -> None:
    plan = plan_signing(
        _config(tsa_urls=(svc("https://tsa"),), oidc_urls=(svc("https://oidc"),)), now=NOW
    )
    assert plan.ca.url == "https://fulcio"
    assert [t.url for t in plan.tlogs] == ["https://rekor"]
    assert [t.url for t in plan.tsas] == ["https://tsa"]
    assert plan.oidc is not None
    assert plan.oidc.url == "https://oidc"


def test_plan_prefers_rekor_v2_unless_narrowed() -> None:
    config = _config(
        rekor_tlog_urls=(svc("https://v1", 1), svc("https://v2", 2)),
        tsa_urls=(svc("https://tsa"),),
    )
    assert [t.url for t in plan_signing(config, now=NOW).tlogs] == ["https://v2"]
    assert [t.url for t in plan_signing(config, now=NOW, rekor_versions={1}).tlogs] == [
        "https://v1"
    ]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ca_urls": ()}, "certificate authority"),
        ({"rekor_tlog_urls": ()}, "transparency log"),
        ({"rekor_tlog_urls": (svc("https://v2", 2),)}, "timestamp authority"),
    ],
)
def test_plan_signing_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(TrustError, match=match):
        plan_signing(_config(**kwargs), now=NOW)


def test_public_good_configs() -> None:
    prod = plan_signing(embedded_signing_config("production"), now=NOW)
    assert prod.ca.url == "https://fulcio.sigstore.dev"
    assert [t.major_api_version for t in prod.tlogs] == [1]
    staging = plan_signing(embedded_signing_config("staging"), now=NOW)
    assert [t.url for t in staging.tlogs] == ["https://log2025-alpha3.rekor.sigstage.dev"]
    assert len(staging.tsas) == 1
