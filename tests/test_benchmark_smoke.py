"""The verification benchmark runs (``benchmarks/verify.py --quick``) and prints its table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sigstore_async._core import compiled_modules
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _run(script: str, *args: str) -> str:
    """Run a benchmark script from the checkout; its standard output."""
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_quick_benchmark_prints_its_table() -> None:
    text = _run("verify.py", "--quick", "--json")
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
    # The machine's own two-core gain is measured beside verify_many, to read its figures by.
    assert all(row["machine_two_core_gain"] > 0 for row in report["verify_many"])
    assert "the machine itself, same rounds" in text
    assert report["memory_rss_mib"].keys() == report["memory_peak_rss_mib"].keys()
    assert "RSS at those points" in text
    # The table says which build it measured (.ci/run runs this on both).
    build = report["environment"]["build"]
    assert build.startswith("compiled" if compiled_modules() else "pure Python")
    assert f"sigstore-async build: {build}" in text


@pytest.mark.vectors
@pytest.mark.skipif(bool(compiled_modules()), reason="overhead.py measures pure-Python builds")
def test_overhead_tool_runs_and_measures_the_rest(vectors: Path) -> None:
    lines = _run("overhead.py", "--rounds", "5").splitlines()
    assert [line.split(":")[0] for line in lines] == ["happy-path-v0.3", "rekor2-happy-path"]
    for line in lines:
        assert "5 signature checks; the rest costs" in line
        rest = float(line.split("the rest costs ")[1].split(" ")[0])
        assert 0 < rest < 5  # some work besides signatures, and not absurdly much
