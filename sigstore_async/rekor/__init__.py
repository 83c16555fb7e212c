"""Thin clients for the Rekor transparency log APIs: v1 (``rekor.v1``) and v2
(``rekor.v2``). Parsing and checking their answers is ``sign.assembly``'s job."""

from .v1 import RekorV1Client
from .v2 import RekorV2Client

__all__ = ["RekorV1Client", "RekorV2Client"]
