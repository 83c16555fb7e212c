"""Identities: from what a test asks for to token claims, and from claims to a
Fulcio certificate.

Owns: the claims an identity token carries for an email identity or a GitHub
Actions workflow (as GitHub's issuer sets them), and Fulcio's mapping of
verified claims to a Subject Alternative Name, the proof-of-possession
challenge and the certificate extensions 1.3.6.1.4.1.57264.1.1 to .1.22 (as
Fulcio's ``email``, ``github-workflow`` and ``uri`` issuer types do). No I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
from cryptography import x509

from . import _der

__all__ = ["GITHUB_URL", "Principal", "claims_for_identity", "principal_from_claims"]

GITHUB_URL = "https://github.com/"
_ARC = "1.3.6.1.4.1.57264.1."


def _hex(seed: str, what: str) -> str:
    return hashlib.sha1(f"{what}:{seed}".encode(), usedforsecurity=False).hexdigest()


def _github_claims(identity: str) -> dict[str, Any] | None:
    """GitHub Actions claims for ``https://github.com/OWNER/REPO/PATH@REF``."""
    if not identity.startswith(GITHUB_URL) or "@" not in identity:
        return None
    job_workflow_ref = identity[len(GITHUB_URL) :]
    path, _, ref = job_workflow_ref.rpartition("@")
    parts = path.split("/")
    if len(parts) < 3 or not ref or not all(parts):
        return None
    owner, repo = parts[0], parts[1]
    repository = f"{owner}/{repo}"
    sha = _hex(identity, "sha")
    workflow_file = parts[-1]
    return {
        "sub": f"repo:{repository}:ref:{ref}",
        "repository": repository,
        "repository_owner": owner,
        "repository_id": str(int(_hex(repository, "repo")[:8], 16)),
        "repository_owner_id": str(int(_hex(owner, "owner")[:8], 16)),
        "repository_visibility": "public",
        "ref": ref,
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
        "sha": sha,
        "workflow": workflow_file.rsplit(".", 1)[0],
        "workflow_ref": job_workflow_ref,
        "workflow_sha": sha,
        "job_workflow_ref": job_workflow_ref,
        "job_workflow_sha": sha,
        "event_name": "push",
        "runner_environment": "github-hosted",
        "run_id": str(int(_hex(identity, "run")[:8], 16)),
        "run_number": "1",
        "run_attempt": "1",
        "actor": owner,
        "actor_id": str(int(_hex(owner, "owner")[:8], 16)),
    }


def claims_for_identity(identity: str) -> dict[str, Any]:
    """The identity claims of a token for ``identity``.

    An address with ``@`` and no scheme is an email identity (``email``,
    ``email_verified``); ``https://github.com/OWNER/REPO/PATH@REF`` is a GitHub
    Actions workflow (``sub``, ``repository``, ``job_workflow_ref``, ``sha`` ...);
    any other URI becomes the ``sub`` of a URI identity.

    Raises:
        ValueError: ``identity`` is none of these.
    """
    if "://" not in identity and "@" in identity:
        return {
            "sub": "local|" + _hex(identity, "sub")[:20],
            "email": identity,
            "email_verified": True,
        }
    github = _github_claims(identity)
    if github is not None:
        return github
    url = urlsplit(identity)
    if url.scheme and url.netloc:
        return {"sub": identity}
    raise ValueError(
        f"cannot make an identity token for {identity!r}: give an email address or a URI"
    )


@attrs.frozen
class Principal:
    """Who a verified token names, as Fulcio certifies it."""

    #: The certificate's Subject Alternative Name.
    san: x509.GeneralName
    #: What the proof of possession signs (the email, or ``sub``).
    challenge: str
    issuer: str
    #: (dotted OID, extension value) in certificate order.
    extensions: tuple[tuple[str, bytes], ...]

    @property
    def identity(self) -> str:
        value = self.san.value
        return value if isinstance(value, str) else str(value)


def _str(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"claim {name!r} must be a string")
    return value


def principal_from_claims(claims: Mapping[str, Any], *, issuer: str) -> Principal:
    """Map verified claims to a certificate identity, as Fulcio does.

    ``email`` (which must be verified) gives an email SAN and the challenge is
    the email; ``job_workflow_ref`` gives a GitHub workflow URI SAN with the
    GitHub extensions and ``sub`` as challenge; otherwise ``sub`` must be a URI.

    Raises:
        ValueError: the claims name no certifiable identity.
    """
    base: list[tuple[str, bytes]] = [
        (_ARC + "1", issuer.encode()),  # deprecated issuer: raw UTF-8
        (_ARC + "8", _der.utf8(issuer)),  # issuer (V2): DER UTF8String
    ]
    email = _str(claims, "email")
    if email is not None:
        if claims.get("email_verified") is not True:
            raise ValueError("the token's email is not verified")
        return Principal(x509.RFC822Name(email), email, issuer, tuple(base))
    sub = _str(claims, "sub")
    if not sub:
        raise ValueError("the token has no subject")
    job_workflow_ref = _str(claims, "job_workflow_ref")
    if job_workflow_ref is not None:
        return Principal(
            x509.UniformResourceIdentifier(GITHUB_URL + job_workflow_ref),
            sub,
            issuer,
            tuple(sorted(base + _github_extensions(claims), key=_arc_number)),
        )
    url = urlsplit(sub)
    if not (url.scheme and url.netloc):
        raise ValueError("the token's subject is neither an email address nor a URI")
    return Principal(x509.UniformResourceIdentifier(sub), sub, issuer, tuple(base))


def _github_extensions(claims: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """Fulcio's github-workflow mapping (Fulcio docs/oid-info.md); extensions
    whose claims are missing are left out."""
    c = {k: _str(claims, k) for k in claims if isinstance(claims.get(k), str)}

    def url(*names: str, sep: str = "") -> str | None:
        values = [c.get(n) for n in names]
        if any(v is None for v in values):
            return None
        return GITHUB_URL + sep.join(v for v in values if v is not None)

    run_uri = None
    if all(c.get(n) for n in ("repository", "run_id", "run_attempt")):
        run_uri = (
            f"{GITHUB_URL}{c['repository']}/actions/runs/{c['run_id']}/attempts/{c['run_attempt']}"
        )
    raw = [  # deprecated extensions: raw UTF-8
        ("2", c.get("event_name")),
        ("3", c.get("sha")),
        ("4", c.get("workflow")),
        ("5", c.get("repository")),
        ("6", c.get("ref")),
    ]
    der = [  # DER UTF8String
        ("9", url("job_workflow_ref")),
        ("10", c.get("job_workflow_sha")),
        ("11", c.get("runner_environment")),
        ("12", url("repository")),
        ("13", c.get("sha")),
        ("14", c.get("ref")),
        ("15", c.get("repository_id")),
        ("16", url("repository_owner")),
        ("17", c.get("repository_owner_id")),
        ("18", url("workflow_ref")),
        ("19", c.get("workflow_sha")),
        ("20", c.get("event_name")),
        ("21", run_uri),
        ("22", c.get("repository_visibility")),
    ]
    out = [(_ARC + n, v.encode()) for n, v in raw if v is not None]
    out += [(_ARC + n, _der.utf8(v)) for n, v in der if v is not None]
    return out


def _arc_number(item: tuple[str, bytes]) -> int:
    return int(item[0].rsplit(".", 1)[1])
