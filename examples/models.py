"""Read and write bundles: protobuf-JSON and binary protobuf, with typed errors.

python examples/models.py
"""

from __future__ import annotations

import sys

from _vectors import bundle_verify_dir

from sigstore_async import Bundle, InvalidBundle


def main() -> int:
    cases = bundle_verify_dir()
    bundle = Bundle.from_json((cases / "happy-path-v0.3" / "bundle.sigstore.json").read_bytes())
    binary = bundle.to_protobuf()
    assert Bundle.from_protobuf(binary) == bundle
    print(f"bundle v{bundle.version}: {len(bundle.to_json())} bytes of JSON, {len(binary)} binary")
    entry = bundle.material.tlog_entries[0]
    print(f"logged at index {entry.log_index} ({entry.kind_version})")
    try:
        Bundle.from_json(
            (cases / "bundle-negative-log-index_fail" / "bundle.sigstore.json").read_bytes()
        )
    except InvalidBundle as e:
        print(f"rejected: {e.message} at {e.path}")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
