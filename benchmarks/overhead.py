"""What a bundle's verification costs besides its signature checks.

    python benchmarks/overhead.py [CASE ...]
    python benchmarks/overhead.py --instructions [CASE ...]

For each conformance vector CASE (default: ``happy-path-v0.3`` and
``rekor2-happy-path``), verifies the bundle with a fresh cache, as
``benchmarks/verify.py`` does for single bundles, three ways in alternating
rounds: as it is; with every signature check answered "valid" without being
made (the rest of the pipeline); and the bundle's own signature checks alone,
replayed with the same keys. It prints the median per-round ratio of the rest
to the signature checks: the part of a verification that code can still win.

``--instructions`` counts instead, under valgrind's callgrind, the machine
instructions of the rest per bundle (the difference between 30 and 10 calls,
over 20), in a fresh process per count. Unlike times on a shared host, the
count does not move from run to run, which suits comparing two revisions of
the code: run this script from each checkout.

This is a tool for working on the verifier, not a comparison with another
client; the signature checks are replaced only inside this process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from benchmarks._common import bundle_verify_dir, our_verification, vector_case  # noqa: E402
from sigstore_async._core import (  # noqa: E402
    canonical,
    checkpoint,
    compiled_modules,
    keys,
    rfc3161,
    sct,
)
from sigstore_async._core import x509 as cx509  # noqa: E402
from sigstore_async.verify import core  # noqa: E402

DEFAULT_CASES = ["happy-path-v0.3", "rekor2-happy-path"]
# Every module that calls keys.verify_signature by its own name.
_CALLERS = [canonical, checkpoint, rfc3161, sct, core]


class Pipeline:
    """One vector's verification, with its signature checks recorded once."""

    def __init__(self, name: str) -> None:
        base = bundle_verify_dir()
        if base is None:
            raise SystemExit("conformance vectors not found ($SIGSTORE_ASYNC_VECTORS)")
        if compiled_modules():
            # Compiled callers bind the signature checks at build time: the
            # patches below would not reach them, and the split would be wrong.
            raise SystemExit(
                "overhead.py replaces the signature checks inside this process, which "
                "compiled modules (mypyc) do not see: run it on a pure-Python install"
            )
        self.name = name
        verify_case = our_verification(vector_case(base, name, name))

        def verify() -> None:
            verify_case(None)

        self.verify = verify
        self.checks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        real_verify, real_signed_by = keys.verify_signature, cx509._signed_by

        def record_verify(*args: Any, **kwargs: Any) -> bool:
            self.checks.append((real_verify, args, kwargs))
            return real_verify(*args, **kwargs)

        def record_signed_by(*args: Any) -> bool:
            self.checks.append((real_signed_by, args, {}))
            return real_signed_by(*args)

        self._real = (real_verify, real_signed_by)
        self._patch(record_verify, record_signed_by)
        try:
            verify()
        finally:
            self._patch(*self._real)

    @staticmethod
    def _patch(verify: Callable[..., bool], signed_by: Callable[..., bool]) -> None:
        for module in _CALLERS:
            module.verify_signature = verify  # type: ignore[attr-defined]
        cx509._signed_by = signed_by  # type: ignore[assignment]

    def signatures_only(self) -> None:
        for check, args, kwargs in self.checks:
            check(*args, **kwargs)

    def without_signatures(self) -> None:
        self._patch(lambda *a, **k: True, lambda *a: True)
        try:
            self.verify()
        finally:
            self._patch(*self._real)


def paired(pipeline: Pipeline, rounds: int) -> tuple[float, float]:
    rest, whole = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        pipeline.without_signatures()
        t1 = time.perf_counter()
        pipeline.signatures_only()
        t2 = time.perf_counter()
        pipeline.verify()
        t3 = time.perf_counter()
        rest.append((t1 - t0) / (t2 - t1))
        whole.append((t3 - t2) / (t2 - t1))
    return statistics.median(rest), statistics.median(whole)


def _count_child(name: str, calls: int) -> None:
    pipeline = Pipeline(name)
    for _ in range(3 + calls):
        pipeline.without_signatures()


def instructions(name: str) -> int:
    """Instructions of the rest of one verification, under callgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind")

    def run(calls: int) -> int:
        out = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                __file__,
                "--count-child",
                name,
                str(calls),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        for line in out.stderr.splitlines():
            if "Collected :" in line:
                return int(line.rsplit(":", 1)[1])
        raise RuntimeError(f"no instruction count in callgrind's output:\n{out.stderr[-2000:]}")

    return (run(30) - run(10)) // 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=DEFAULT_CASES)
    parser.add_argument("--instructions", action="store_true", help="count under callgrind")
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--count-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.count_child:
        _count_child(args.count_child[0], int(args.count_child[1]))
        return 0
    for name in args.cases or DEFAULT_CASES:
        if args.instructions:
            print(f"{name}: {instructions(name):,} instructions per bundle besides signatures")
            continue
        pipeline = Pipeline(name)
        for _ in range(20):
            pipeline.verify()
        rest, whole = paired(pipeline, args.rounds)
        print(
            f"{name}: {len(pipeline.checks)} signature checks; the rest costs {rest:.3f} of "
            f"them, the whole verification {whole:.3f} (medians of {args.rounds} rounds)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
