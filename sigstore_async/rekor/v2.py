"""A thin client for Rekor v2's write API (``POST /api/v2/log/entries``).

Owns: submitting a ``CreateEntryRequest`` and decoding the answer, a
``TransparencyLogEntry`` in protobuf-JSON. Rekor v2 integrates entries in
batches and answers once the entry is in the tree, so a request may take as
long as a batch interval. A repeated submission is answered with the existing
entry, so retrying a lost answer is safe. Does not own: building proposals or
checking entries (``sign.assembly``), retries and error mapping (``_http``).

Stateless: ``RekorV2Client(http, base_url)`` holds no connection of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._http import ServiceClient, json_answer, request

__all__ = ["RekorV2Client"]

_SERVICE = "rekor v2"


class RekorV2Client(ServiceClient):
    """Rekor v2 at ``base_url`` over a shared ``httpx.AsyncClient``."""

    async def create_entry(self, proposed: Mapping[str, Any]) -> object:
        """Submit ``proposed`` and return the decoded JSON answer (a
        ``TransparencyLogEntry``; parse and check it with ``sign.assembly``).

        Raises:
            ServiceError: an error answer, or an unusable entry.
            NetworkError: Rekor could not be reached.
        """
        response = await request(
            self._http,
            "POST",
            f"{self.base_url}/api/v2/log/entries",
            service=_SERVICE,
            retry=self._retry,
            json=proposed,
            headers={"Accept": "application/json"},
        )
        return json_answer(response, _SERVICE)
