"""Architecture rules that a reviewer should not have to check by eye."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sigstore_async

REPO = Path(__file__).resolve().parent.parent

# The sans-I/O core: no network, no async runtime, no clock of its own.
CORE_MODULES = [
    "sigstore_async._core.canonical",
    "sigstore_async._core.checkpoint",
    "sigstore_async._core.der",
    "sigstore_async._core.keys",
    "sigstore_async._core.merkle",
    "sigstore_async._core.rfc3161",
    "sigstore_async._core.sct",
    "sigstore_async._core.x509",
    "sigstore_async.models",
    "sigstore_async.trust",
    "sigstore_async.verify.core",
    "sigstore_async.verify.policy",
    "sigstore_async.verify.artifact",
    "sigstore_async.sign.config",
    "sigstore_async.sign.assembly",
    "sigstore_async.tuf._trusted",
    "sigstore_async.oidc.token",
]

#: Packages whose __init__ files (which re-export the async shells) are
#: replaced by empty stubs in the import check.
_STUBBED_PACKAGES = [
    "sigstore_async",
    "sigstore_async.verify",
    "sigstore_async.sign",
    "sigstore_async.tuf",
    "sigstore_async.oidc",
]

_BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"httpx", "anyio", "asyncio", "trio", "sniffio"}:
            raise ImportError("blocked in the sans-I/O core: " + name)
        return None
sys.meta_path.insert(0, Block())
# Stop the package __init__ files (which re-export the async shells) from
# running: what is checked is the core modules themselves.
import types
root = %r
for name in %r:
    pkg = types.ModuleType(name)
    pkg.__path__ = [root + name.removeprefix("sigstore_async").replace(".", "/")]
    sys.modules[name] = pkg
import importlib
for name in %r:
    importlib.import_module(name)
print("ok")
"""


def test_core_imports_without_io_libraries() -> None:
    code = _BLOCKER % (str(REPO / "sigstore_async"), _STUBBED_PACKAGES, CORE_MODULES)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


_CLOCK_READS = ("datetime.now(", "time.time(", "datetime.utcnow(", "date.today(", "utc_now(")


def test_core_does_not_read_the_clock() -> None:
    offenders = []
    for name in CORE_MODULES:
        path = REPO / (name.replace(".", "/") + ".py")
        if not path.exists():
            path = REPO / name.replace(".", "/") / "__init__.py"
        text = path.read_text()
        for needle in (
            "datetime.now(",
            "time.time(",
            "datetime.utcnow(",
            "date.today(",
            "utc_now(",
        ):
            if needle in text:
                offenders.append(f"{name}: {needle}")
    assert offenders == []


def test_library_does_not_import_testing() -> None:
    offenders = []
    for path in (REPO / "sigstore_async").rglob("*.py"):
        if "testing" in path.relative_to(REPO / "sigstore_async").parts:
            continue
        for line in path.read_text().splitlines():
            if line.lstrip().startswith(("import", "from")) and "sigstore_async.testing" in line:
                offenders.append(str(path))
    assert offenders == []


def test_public_api_is_pinned() -> None:
    assert sigstore_async.__all__ == sorted(sigstore_async.__all__, key=str)
    assert set(sigstore_async.__all__) == {
        # verification
        "AllOf", "AnyOf", "Artifact", "Custom", "Extension", "Identity", "Policy", "Statement",
        "UnsafeNoOp", "VerificationOptions", "VerificationResult", "VerifiedTime", "Verifier",
        "VerifyOutcome", "VerifyingKey",
        # signing and identity
        "Attestation", "Payload", "SignOutcome", "SignProgress", "Signer", "Subject",
        "IdentityToken", "Issuer", "obtain_token",
        # models and trust
        "Bundle", "ClientTrustConfig", "SigningConfig", "TrustedRoot", "TrustMaterial",
        "Sigstore", "TrustConfig", "__version__",
        # the error hierarchy
        "SigstoreError", "VerificationError", "InvalidBundle", "CertificateError",
        "CertificateTransparencyError", "TransparencyLogError", "TimestampError",
        "SignatureError", "PolicyError", "TrustError", "InvalidTrustRoot", "TufError",
        "RepositoryUnavailable", "MetadataExpired", "RollbackAttack", "BadMetadataSignature",
        "LengthOrHashMismatch", "MalformedMetadata", "TargetNotFound", "ServiceError",
        "NetworkError", "ResponseTooLarge", "IdentityError", "InvalidToken", "ExpiredToken",
        "TokenNotYetValid", "WrongAudience", "WrongIssuer", "NoIdentity", "AuthorizationFailed",
        "NoCredential",
    }  # fmt: skip
    for name in sigstore_async.__all__:
        assert hasattr(sigstore_async, name), name


def test_error_hierarchy() -> None:
    from sigstore_async import errors as e

    for cls in (
        e.InvalidBundle, e.CertificateError, e.CertificateTransparencyError,
        e.TransparencyLogError, e.TimestampError, e.SignatureError, e.PolicyError,
    ):  # fmt: skip
        assert issubclass(cls, e.VerificationError)
        assert cls.step != e.VerificationError.step
    assert issubclass(e.NetworkError, e.ServiceError)
    assert issubclass(e.InvalidTrustRoot, e.TrustError)
    assert not issubclass(e.TrustError, e.VerificationError)
