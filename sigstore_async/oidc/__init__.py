"""OpenID Connect identity: tokens, where they come from, and what they name.

Owns: :class:`IdentityToken` (parsing and the pre-flight checks, sans-I/O, in
``token``), ambient credential detection (``ambient``), the interactive and
service OAuth flows (``flows``), discovery documents (``discovery``), and
:func:`obtain_token`, the one call the CLI's ``identity``, ``sign`` and
``attest`` use (``sources``).

Does not own: sending the token to Fulcio, or verifying the token's
signature (Fulcio does both).
"""

from __future__ import annotations

from .ambient import (
    AmbientContext,
    AmbientProvider,
    Attempt,
    Buildkite,
    CircleCI,
    Detection,
    EnvironmentVariable,
    GitHubActions,
    GitLabCI,
    GoogleCloud,
    Skip,
    TokenFile,
    default_providers,
    detect,
)
from .discovery import Discovery, ProviderMetadata
from .flows import DeviceAuthorization, Interaction, Issuer, TerminalInteraction
from .sources import Flow, obtain_token
from .token import DEFAULT_AUDIENCE, DEFAULT_LEEWAY, IdentityKind, IdentityToken, issuer_type

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_LEEWAY",
    "AmbientContext",
    "AmbientProvider",
    "Attempt",
    "Buildkite",
    "CircleCI",
    "Detection",
    "DeviceAuthorization",
    "Discovery",
    "EnvironmentVariable",
    "Flow",
    "GitHubActions",
    "GitLabCI",
    "GoogleCloud",
    "IdentityKind",
    "IdentityToken",
    "Interaction",
    "Issuer",
    "ProviderMetadata",
    "Skip",
    "TerminalInteraction",
    "TokenFile",
    "default_providers",
    "detect",
    "issuer_type",
    "obtain_token",
]
