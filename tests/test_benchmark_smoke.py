"""The verification benchmark runs (``benchmarks/verify.py --quick``) and prints its table."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_quick_benchmark_prints_its_table() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "verify.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "ours/s" in text
    assert "release batch of" in text
    assert "verify_many over" in text
    assert "peak RSS" in text
    report = json.loads(text[text.index("\n{") :])
    assert report["batch"]
    assert all(row["ours_per_s"] > 0 for row in report["batch"])
    assert {(row["offload"], row["workers"]) for row in report["verify_many"]} == {
        ("thread", 1),
        ("thread", 2),
        ("process", 1),
        ("process", 2),
    }
    assert report["memory_peak_rss_mib"]
