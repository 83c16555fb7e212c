"""LocalSigstore's Rekor v1 and v2: entries, proofs, checkpoints, search, batching,
and a 4xx (never a 500) for every bad request."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sigstore_async._core import checkpoint, merkle
from sigstore_async._core.keys import load_der_public_key
from sigstore_async.testing import LocalSigstore
from tests.conftest import pem_certificate, with_bad_version

from ._local import (
    b64,
    certificate,
    der,
    dsse_v1,
    dsse_v2,
    hashedrekord_v1,
    hashedrekord_v2,
    pem,
    statement,
)

pytestmark = pytest.mark.anyio


async def _signed(stack: LocalSigstore, http: Any, data: bytes) -> tuple[Any, bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (await certificate(http, stack, key))[0]
    return leaf, key.sign(data, ec.ECDSA(hashes.SHA256())), hashlib.sha256(data).digest()


def _log_key(stack: LocalSigstore, index: int) -> Any:
    log = stack.trusted_root.tlogs[index]
    assert log.public_key is not None
    return load_der_public_key(log.public_key.raw_bytes)


async def test_v1_entries_proofs_and_search() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        uuids = []
        for i in range(5):
            leaf, sig, digest = await _signed(stack, http, b"artifact %d" % i)
            r = await http.post(
                "/rekor/api/v1/log/entries", json=hashedrekord_v1(leaf, sig, digest)
            )
            assert r.status_code == 201
            ((uuid, entry),) = r.json().items()
            assert r.headers["location"].endswith(uuid)
            assert entry["logIndex"] == i
            uuids.append(uuid)
        assert len(uuids[0]) == 80
        assert uuids[0][:16] == f"{stack.rekor.tree_id:016x}"

        # Fetch by UUID (80 or 64 hex digits) and by index: proofs at the current size.
        for i, uuid in enumerate(uuids):
            for key in (uuid, uuid[16:]):
                r = await http.get(f"/rekor/api/v1/log/entries/{key}")
                ((_, entry),) = r.json().items()
                proof = entry["verification"]["inclusionProof"]
                assert proof["treeSize"] == 5
                merkle.verify_inclusion(
                    leaf_hash=merkle.leaf_hash(base64.b64decode(entry["body"])),
                    index=i,
                    tree_size=5,
                    proof=[bytes.fromhex(h) for h in proof["hashes"]],
                    root_hash=bytes.fromhex(proof["rootHash"]),
                )
        r = await http.get("/rekor/api/v1/log/entries", params={"logIndex": 3})
        assert next(iter(r.json())) == uuids[3]

        # Log info: a checkpoint signed by the log key under the host name.
        info = (await http.get("/rekor/api/v1/log")).json()
        assert info["treeSize"] == 5
        assert info["treeID"] == str(stack.rekor.tree_id)
        cp = checkpoint.verify_checkpoint(
            info["signedTreeHead"],
            key=_log_key(stack, 0),
            key_id=stack.rekor.log_id,
            name="sigstore.local",
        )
        assert cp.origin == f"sigstore.local - {stack.rekor.tree_id}"
        assert cp.root_hash.hex() == info["rootHash"]
        assert cp.extensions[0].startswith("Timestamp: ")

        # Consistency between two sizes.
        old_root = stack.rekor.log.tree.root(2)
        r = await http.get("/rekor/api/v1/log/proof", params={"firstSize": 2, "lastSize": 5})
        body = r.json()
        merkle.verify_consistency(
            old_size=2,
            new_size=5,
            old_root=old_root,
            new_root=bytes.fromhex(body["rootHash"]),
            proof=[bytes.fromhex(h) for h in body["hashes"]],
        )

        # Search by artifact digest, and retrieve by UUID and index.
        digest = hashlib.sha256(b"artifact 2").hexdigest()
        r = await http.post("/rekor/api/v1/index/retrieve", json={"hash": f"sha256:{digest}"})
        assert r.json() == [uuids[2]]
        r = await http.post(
            "/rekor/api/v1/log/entries/retrieve",
            json={"entryUUIDs": [uuids[0], "0" * 64], "logIndexes": [4, 99]},
        )
        assert [next(iter(e)) for e in r.json()] == [uuids[0], uuids[4]]
        pem_r = await http.get("/rekor/api/v1/log/publicKey")
        assert b"PUBLIC KEY" in pem_r.content


async def test_v1_duplicate_is_409_with_location() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        leaf, sig, digest = await _signed(stack, http, b"once")
        first = await http.post(
            "/rekor/api/v1/log/entries", json=hashedrekord_v1(leaf, sig, digest)
        )
        again = await http.post(
            "/rekor/api/v1/log/entries", json=hashedrekord_v1(leaf, sig, digest)
        )
        r = await http.post(
            "/rekor/api/v1/log/entries/retrieve",
            json={"entries": [hashedrekord_v1(leaf, sig, digest)]},
        )
    uuid = next(iter(first.json()))
    assert again.status_code == 409
    assert uuid in again.json()["message"]
    assert again.headers["location"] == f"{stack.rekor_url}/api/v1/log/entries/{uuid}"
    assert next(iter(r.json()[0])) == uuid
    assert stack.rekor.log.size == 1


async def test_v1_dsse_body() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (await certificate(http, stack, key))[0]
        payload = statement(b"x")
        from sigstore_async.models.dsse import pae

        sig = key.sign(pae("application/vnd.in-toto+json", payload), ec.ECDSA(hashes.SHA256()))
        r = await http.post("/rekor/api/v1/log/entries", json=dsse_v1(leaf, payload, sig))
        assert r.status_code == 201, r.text
        ((_, entry),) = r.json().items()
        body = json.loads(base64.b64decode(entry["body"]))
        digest = hashlib.sha256(payload).hexdigest()
        r = await http.post("/rekor/api/v1/index/retrieve", json={"hash": f"sha256:{digest}"})
    assert body["kind"] == "dsse"
    assert body["spec"]["payloadHash"] == {"algorithm": "sha256", "value": digest}
    assert body["spec"]["signatures"] == [{"signature": b64(sig), "verifier": b64(pem(leaf))}]
    assert len(r.json()) == 1


def _v1_bad(leaf: Any, sig: bytes, digest: bytes) -> list[tuple[Any, str]]:
    good = hashedrekord_v1(leaf, sig, digest)
    spec = good["spec"]
    return [
        ("{", "JSON"),
        ({"kind": "rekord", "apiVersion": "0.0.1", "spec": {}}, "unsupported entry kind"),
        ({"kind": "hashedrekord", "apiVersion": "0.0.1"}, "spec"),
        ({**good, "spec": {**spec, "data": {"hash": {"algorithm": "md5", "value": "00"}}}}, "md5"),
        (
            {**good, "spec": {**spec, "data": {"hash": {"algorithm": "sha256", "value": "zz"}}}},
            "hex",
        ),
        (
            {**good, "spec": {**spec, "data": {"hash": {"algorithm": "sha256", "value": "00"}}}},
            "32 bytes",
        ),
        (hashedrekord_v1(leaf, sig, hashlib.sha256(b"other").digest()), "does not verify"),
        (
            {
                **good,
                "spec": {**spec, "signature": {"content": "!", "publicKey": {"content": "x"}}},
            },
            "base64",
        ),
        (
            {
                **good,
                "spec": {
                    **spec,
                    "signature": {**spec["signature"], "publicKey": {"content": b64(b"junk")}},
                },
            },
            "PEM",
        ),
        (
            {
                **good,
                "spec": {
                    **spec,
                    "signature": {
                        **spec["signature"],
                        "publicKey": {"content": b64(pem_certificate(with_bad_version(der(leaf))))},
                    },
                },
            },
            "not a PEM certificate",
        ),
        (
            {
                "kind": "dsse",
                "apiVersion": "0.0.1",
                "spec": {"proposedContent": {"envelope": 5, "verifiers": []}},
            },
            "envelope",
        ),
        (
            {
                "kind": "dsse",
                "apiVersion": "0.0.1",
                "spec": {"proposedContent": {"envelope": "{}", "verifiers": [b64(pem(leaf))]}},
            },
            "payloadType",
        ),
        (
            dsse_v1(leaf, b"payload", sig),  # a signature over something else
            "does not verify",
        ),
    ]


async def test_v1_bad_requests_are_400() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        leaf, sig, digest = await _signed(stack, http, b"artifact")
        for body, message in _v1_bad(leaf, sig, digest):
            if isinstance(body, str):
                r = await http.post("/rekor/api/v1/log/entries", content=body.encode())
            else:
                r = await http.post("/rekor/api/v1/log/entries", json=body)
            assert r.status_code == 400, (message, r.text)
            assert message in r.json()["message"], (message, r.json())
        for path, params, status in [
            ("/rekor/api/v1/log/entries", {}, 400),
            ("/rekor/api/v1/log/entries", {"logIndex": "x"}, 400),
            ("/rekor/api/v1/log/entries", {"logIndex": "-1"}, 400),
            ("/rekor/api/v1/log/entries", {"logIndex": "0"}, 404),
            ("/rekor/api/v1/log/entries/xyz", {}, 400),
            ("/rekor/api/v1/log/entries/" + "zz" * 32, {}, 400),
            ("/rekor/api/v1/log/entries/" + "00" * 32, {}, 404),
            ("/rekor/api/v1/log/entries/" + "11" * 40, {}, 404),
            ("/rekor/api/v1/log/proof", {}, 400),
            ("/rekor/api/v1/log/proof", {"firstSize": "2", "lastSize": "1"}, 400),
            ("/rekor/api/v1/log/proof", {"lastSize": "9"}, 400),
            ("/rekor/api/v1/log/proof", {"lastSize": "q"}, 400),
        ]:
            r = await http.get(path, params=params)
            assert r.status_code == status, (path, params, r.text)
        for body in [{"hash": 5}, {"publicKey": {}}, []]:
            r = await http.post("/rekor/api/v1/index/retrieve", json=body)
            assert r.status_code == 400
        for body in [
            {"entryUUIDs": "x"},
            {"logIndexes": [True]},
            {"entryUUIDs": [1]},
            {"entries": [{}]},
        ]:
            r = await http.post("/rekor/api/v1/log/entries/retrieve", json=body)
            assert r.status_code == 400, (body, r.text)
        assert stack.rekor.log.size == 0


async def test_v2_batches_concurrent_requests() -> None:
    async with LocalSigstore(rekor_v2_batch_interval=0.1) as stack, stack.client() as http:
        signed = [await _signed(stack, http, b"item %d" % i) for i in range(6)]
        answers: list[dict[str, Any]] = []

        async def submit(leaf: Any, sig: bytes, digest: bytes) -> None:
            r = await http.post(
                "/rekor-v2/api/v2/log/entries", json=hashedrekord_v2(leaf, sig, digest)
            )
            assert r.status_code == 201, r.text
            answers.append(r.json())

        async with anyio.create_task_group() as tg:
            for item in signed:
                tg.start_soon(submit, *item)
        # One batch: every answer has the same tree size and checkpoint.
        assert {a["inclusionProof"]["treeSize"] for a in answers} == {"6"}
        assert len({a["inclusionProof"]["checkpoint"]["envelope"] for a in answers}) == 1
        assert sorted(int(a["logIndex"]) for a in answers) == list(range(6))
        for a in answers:
            assert "integratedTime" not in a
            assert a["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
            proof = a["inclusionProof"]
            merkle.verify_inclusion(
                leaf_hash=merkle.leaf_hash(base64.b64decode(a["canonicalizedBody"])),
                index=int(proof["logIndex"]),
                tree_size=6,
                proof=[base64.b64decode(h) for h in proof["hashes"]],
                root_hash=base64.b64decode(proof["rootHash"]),
            )
        cp = checkpoint.verify_checkpoint(
            answers[0]["inclusionProof"]["checkpoint"]["envelope"],
            key=_log_key(stack, 1),
            key_id=stack.rekor_v2.log_id,
            name="sigstore.local",
        )
        assert cp.origin == "sigstore.local"
        assert base64.b64decode(answers[0]["logId"]["keyId"]) == stack.rekor_v2.log_id

        # A duplicate gets the existing entry.
        r = await http.post("/rekor-v2/api/v2/log/entries", json=hashedrekord_v2(*signed[0]))
        assert r.status_code == 200
        assert r.json()["canonicalizedBody"] in {a["canonicalizedBody"] for a in answers}
        assert stack.rekor_v2.log.size == 6
        r = await http.get("/rekor-v2/api/v2/checkpoint")
        assert r.text.startswith("sigstore.local\n6\n")


async def test_v2_dsse_is_logged_as_hashedrekord_over_the_pae() -> None:
    async with LocalSigstore(rekor_v2_batch_interval=0) as stack, stack.client() as http:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (await certificate(http, stack, key))[0]
        payload = statement(b"x")
        from sigstore_async.models.dsse import pae

        message = pae("application/vnd.in-toto+json", payload)
        sig = key.sign(message, ec.ECDSA(hashes.SHA256()))
        r = await http.post("/rekor-v2/api/v2/log/entries", json=dsse_v2(leaf, payload, sig))
        assert r.status_code == 201, r.text
    body = json.loads(base64.b64decode(r.json()["canonicalizedBody"]))
    spec = body["spec"]["hashedRekordV002"]
    assert spec["data"] == {
        "algorithm": "SHA2_256",
        "digest": b64(hashlib.sha256(message).digest()),
    }
    assert spec["signature"]["content"] == b64(sig)


def _v2_bad(leaf: Any, sig: bytes, digest: bytes) -> list[tuple[Any, str]]:
    good = hashedrekord_v2(leaf, sig, digest)["hashedRekordRequestV002"]
    verifier = good["signature"]["verifier"]
    return [
        ([], "JSON object"),
        ({}, "exactly one"),
        ({"hashedRekordRequestV002": good, "dsseRequestV002": {}}, "exactly one"),
        ({"hashedRekordRequestV002": {**good, "digest": b64(b"short")}}, "digest"),
        ({"hashedRekordRequestV002": {**good, "digest": "!"}}, "base64"),
        (hashedrekord_v2(leaf, sig, hashlib.sha256(b"other").digest()), "does not verify"),
        (
            {
                "hashedRekordRequestV002": {
                    **good,
                    "signature": {
                        **good["signature"],
                        "verifier": {**verifier, "keyDetails": "PKIX_ED25519"},
                    },
                }
            },
            "keyDetails",
        ),
        (
            {
                "hashedRekordRequestV002": {
                    **good,
                    "signature": {
                        **good["signature"],
                        "verifier": {**verifier, "keyDetails": "PKIX_ECDSA_P384_SHA_384"},
                    },
                }
            },
            "does not match",
        ),
        (
            {
                "hashedRekordRequestV002": {
                    **good,
                    "signature": {
                        **good["signature"],
                        "verifier": {"keyDetails": "PKIX_ECDSA_P256_SHA_256"},
                    },
                }
            },
            "exactly one of x509Certificate",
        ),
        (
            {
                "hashedRekordRequestV002": {
                    **good,
                    "signature": {
                        **good["signature"],
                        "verifier": {
                            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                            "publicKey": {"rawBytes": b64(b"junk")},
                        },
                    },
                }
            },
            "malformed",
        ),
        (
            {
                "hashedRekordRequestV002": {
                    **good,
                    "signature": {
                        **good["signature"],
                        "verifier": {
                            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                            "x509Certificate": {"rawBytes": b64(with_bad_version(der(leaf)))},
                        },
                    },
                }
            },
            "malformed",
        ),
        (
            {
                "dsseRequestV002": {
                    "envelope": {"payloadType": "t", "payload": "", "signatures": []},
                    "verifiers": [verifier],
                }
            },
            "exactly one signature",
        ),
        (
            {
                "dsseRequestV002": {
                    "envelope": {
                        "payloadType": "t",
                        "payload": "",
                        "signatures": [{"sig": b64(sig)}],
                    },
                    "verifiers": [],
                }
            },
            "non-empty",
        ),
        (
            {
                "dsseRequestV002": {
                    "envelope": {
                        "payloadType": "t",
                        "payload": "",
                        "signatures": [{"sig": b64(sig)}],
                    },
                    "verifiers": [verifier],
                }
            },
            "does not verify",
        ),
        ({"dsseRequestV002": {"envelope": {"payloadType": 1}}}, "payloadType"),
    ]


async def test_v2_bad_requests_are_400() -> None:
    async with LocalSigstore() as stack, stack.client() as http:
        leaf, sig, digest = await _signed(stack, http, b"artifact")
        for body, message in _v2_bad(leaf, sig, digest):
            r = await http.post("/rekor-v2/api/v2/log/entries", json=body)
            assert r.status_code == 400, (message, r.text)
            assert message in r.json()["message"], (message, r.json())
        assert stack.rekor_v2.log.size == 0


async def test_v2_waiters_are_answered_at_shutdown() -> None:
    status: list[int] = []
    stack = LocalSigstore(rekor_v2_batch_interval=60)
    # Exit order: the client, then the stack (stopping the batcher), then the task group.
    async with anyio.create_task_group() as tg, stack, stack.client() as http:
        leaf, sig, digest = await _signed(stack, http, b"never integrated")

        async def submit() -> None:
            r = await http.post(
                "/rekor-v2/api/v2/log/entries", json=hashedrekord_v2(leaf, sig, digest)
            )
            status.append(r.status_code)

        tg.start_soon(submit)
        await anyio.wait_all_tasks_blocked()  # the request waits for its batch
        assert stack.requests["POST /rekor-v2/api/v2/log/entries"] == 1
    # Leaving the block stopped the batcher; the waiting request was answered, not hung.
    assert status == [503]
