"""Typed usage of the public API, checked by mypy --strict from the user's side.

Not collected by pytest (no test functions); `mypy tests/typing_usage.py` must pass.
"""

from __future__ import annotations

from pathlib import Path

import anyio

import sigstore_async as sa


async def verify_one(path: Path, bundle: Path) -> str | None:
    verifier = sa.Verifier.offline()
    policy: sa.Policy = sa.AllOf(
        sa.Identity("me@example.com", "https://accounts.example.com"),
        sa.Extension("source_repository_ref", "refs/heads/main"),
    )
    result: sa.VerificationResult = await verifier.verify(bundle, path, policy)
    times: tuple[sa.VerifiedTime, ...] = result.verified_times
    assert times
    return result.identity


async def verify_many(pairs: list[tuple[Path, Path]]) -> int:
    verifier = sa.Verifier.offline()
    ok = 0
    async with verifier.verify_many(pairs, sa.Identity(identity_pattern=".*", issuer="x")) as out:
        async for outcome in out:
            o: sa.VerifyOutcome = outcome
            if o.error is None:
                ok += 1
            elif isinstance(o.error, sa.VerificationError):
                step: str = o.error.step
                assert step
    return ok


def parse(data: bytes) -> sa.Bundle:
    try:
        return sa.Bundle.from_json(data)
    except sa.InvalidBundle as e:
        raise SystemExit(e.path) from e


if __name__ == "__main__":
    anyio.run(verify_many, [])
