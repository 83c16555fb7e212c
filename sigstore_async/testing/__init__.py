"""Test affordances: a complete, real-crypto Sigstore instance.

:class:`LocalSigstore` runs an OIDC issuer, Fulcio, Rekor v1 and v2, an RFC
3161 timestamp authority and a TUF repository as one ASGI application,
mounted in process (``httpx.ASGITransport``) or served on loopback. Its
cryptography and wire formats are real, so third-party clients can use it;
its faults and lies are knobs, so failure paths can be tested without
patching anything.

Install the ``testing`` extra (``pip install sigstore-async[testing]``) for
serving with uvicorn. Nothing else in ``sigstore_async`` imports this package.
"""

from ._faults import SERVICES, Adversary, ServiceFaults
from ._stack import LocalSigstore
from ._tuf_repo import LocalTufRepository

__all__ = ["SERVICES", "Adversary", "LocalSigstore", "LocalTufRepository", "ServiceFaults"]
