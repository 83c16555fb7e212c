"""A thin client for Rekor v1's write API (``POST /api/v1/log/entries``).

Owns: submitting a proposed entry and returning the decoded answer; when
Rekor answers 409 Conflict (the entry is already in the log, for instance
because an earlier attempt reached the log but its answer was lost), fetching
the existing entry that the ``Location`` header names. Does not own: building proposals, parsing or
checking entries (``sign.assembly``), retries and error mapping (``_http``).

Stateless: ``RekorV1Client(http, base_url)`` holds no connection of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from .._http import ServiceClient, json_answer, request
from ..errors import ServiceError

__all__ = ["RekorV1Client"]

_SERVICE = "rekor"


class RekorV1Client(ServiceClient):
    """Rekor v1 at ``base_url`` over a shared ``httpx.AsyncClient``."""

    async def create_entry(self, proposed: Mapping[str, Any]) -> object:
        """Submit ``proposed`` (a ``hashedrekord``/``dsse`` request body) and
        return the decoded JSON answer (``{uuid: LogEntry}``): the logged
        entry, or the existing one on 409 Conflict.

        Parse it with ``sign.assembly.parse_rekor_v1_entry`` and compare it
        with what was submitted (``check_log_entry``) before trusting it.

        Raises:
            ServiceError: an error answer, or an unusable entry.
            NetworkError: Rekor could not be reached.
        """
        url = f"{self.base_url}/api/v1/log/entries"
        response = await request(
            self._http,
            "POST",
            url,
            service=_SERVICE,
            retry=self._retry,
            ok_statuses=frozenset({409}),
            json=proposed,
            headers={"Accept": "application/json"},
        )
        if response.status_code == 409:
            location = response.headers.get("Location")
            if not location:
                raise ServiceError(
                    "rekor answered 409 Conflict without a Location", service=_SERVICE, status=409
                )
            response = await request(
                self._http,
                "GET",
                urljoin(url, location),
                service=_SERVICE,
                retry=self._retry,
                headers={"Accept": "application/json"},
            )
        return json_answer(response, _SERVICE)
