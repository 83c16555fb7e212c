"""The HTTP/1.1 transport of ``new_client`` against a scripted loopback server."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import anyio.abc
import httpx
import pytest
from anyio.streams.tls import TLSListener
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sigstore_async._http import Http11Transport, download, new_client, request
from sigstore_async.errors import NetworkError

pytestmark = pytest.mark.anyio

#: What the server does with one request on a connection: return the bytes to
#: answer with, or None to close the connection without answering.
Answer = Callable[[bytes], Awaitable[bytes | None]]


def _response(
    body: bytes = b"ok", *, status: str = "200 OK", headers: tuple[str, ...] = ()
) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _ok(_: bytes) -> bytes | None:
    return _response()


class Server:
    """Counts connections and requests; answers each request with ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.url = ""

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        buffer = b""
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        buffer += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += await stream.receive()
                body, buffer = buffer[:length], buffer[length:]
                self.requests.append(head + b"\r\n\r\n" + body)
                answer = await self.answer(head + b"\r\n\r\n" + body)
                if answer is None:
                    return
                await stream.send(answer)
                if b"connection: close" in answer.lower():
                    return


@asynccontextmanager
async def serve(answer: Answer = _ok, host: str = "127.0.0.1") -> AsyncIterator[Server]:
    server = Server(answer)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
    server.url = f"http://{host}:{port}"
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server.handle)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


async def test_keep_alive_reuses_one_connection() -> None:
    async with serve() as server, new_client() as http:
        for _ in range(3):
            r = await http.post(server.url + "/x?y=1", json={"a": 1})
            assert r.status_code == 200
            assert r.text == "ok"
            assert r.http_version == "HTTP/1.1"
    assert server.connections == 1
    assert len(server.requests) == 3
    first = server.requests[0]
    assert first.startswith(b"POST /x?y=1 HTTP/1.1\r\n")
    assert b"user-agent: sigstore-async/" in first.lower()
    assert first.endswith(b'{"a":1}')


async def test_default_client_uses_the_transport() -> None:
    async with new_client() as http:
        assert isinstance(http._transport, Http11Transport)
    # Options of httpx's own transport keep httpx's transport.
    async with new_client(verify=False) as http:
        assert not isinstance(http._transport, Http11Transport)


async def test_connection_close_is_honoured() -> None:
    async def close(_: bytes) -> bytes | None:
        return _response(headers=("Connection: close",))

    async with serve(close) as server, new_client() as http:
        for _ in range(2):
            assert (await http.get(server.url)).text == "ok"
    assert server.connections == 2


async def test_a_connection_closed_while_idle_is_not_reused() -> None:
    async def once(_: bytes) -> bytes | None:
        return _response()

    async with serve(once) as server, new_client() as http:
        assert (await http.get(server.url)).text == "ok"
        # The server hangs up on the idle connection.
        server.answer = _close_after_answer
        assert (await http.get(server.url)).text == "ok"
        await anyio.sleep(0.05)  # the FIN arrives
        assert (await http.get(server.url)).text == "ok"
    assert server.connections == 2


async def _close_after_answer(_: bytes) -> bytes | None:
    return _response(headers=("Connection: close",))


async def test_keepalive_limit_and_expiry() -> None:
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=1, keepalive_expiry=0.05)
    transport = Http11Transport(limits=limits)
    gate = anyio.Event()

    async def slow(_: bytes) -> bytes | None:
        await gate.wait()
        return _response()

    async with serve(slow) as server, new_client(transport=transport) as http:
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(http.get, server.url)
            await anyio.sleep(0.1)
            gate.set()
        assert server.connections == 3
        assert transport._idle_count == 1  # the others were closed
        await http.get(server.url)
        assert server.connections == 3  # reused the one kept
        await anyio.sleep(0.1)
        await http.get(server.url)
        assert server.connections == 4  # expired, not reused


async def test_max_connections_queue_and_pool_timeout() -> None:
    limits = httpx.Limits(max_connections=1)
    gate = anyio.Event()
    active = 0
    most = 0

    async def slow(_: bytes) -> bytes | None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await gate.wait()
        active -= 1
        return _response()

    async with (
        serve(slow) as server,
        new_client(limits=limits, timeout=httpx.Timeout(5.0)) as http,
    ):
        results: list[int] = []

        async def get() -> None:
            results.append((await http.get(server.url)).status_code)

        async with anyio.create_task_group() as tg:
            tg.start_soon(get)
            await anyio.sleep(0.05)
            with pytest.raises(httpx.PoolTimeout):
                await http.get(server.url, timeout=httpx.Timeout(5.0, pool=0.05))
            tg.start_soon(get)
            tg.start_soon(get)
            await anyio.sleep(0.05)
            gate.set()
        assert results == [200, 200, 200]
        assert most == 1
        assert server.connections == 1


async def test_cancelled_request_frees_its_slot() -> None:
    gate = anyio.Event()

    async def hang(_: bytes) -> bytes | None:
        await gate.wait()
        return _response()

    async with (
        serve(hang) as server,
        new_client(limits=httpx.Limits(max_connections=1)) as http,
    ):
        with anyio.move_on_after(0.1):
            await http.get(server.url)
        server.answer = _ok
        gate.set()
        assert (await http.get(server.url)).text == "ok"
        assert server.connections == 2  # the cancelled one was not reused


async def test_partly_read_body_discards_the_connection() -> None:
    async def big(_: bytes) -> bytes | None:
        return _response(b"x" * 200_000)

    async with serve(big) as server, new_client() as http:
        async with http.stream("GET", server.url) as r:
            async for _ in r.aiter_bytes():
                break
        assert len((await http.get(server.url)).content) == 200_000
        assert len((await http.get(server.url)).content) == 200_000
    assert server.connections == 2


async def test_chunked_body_and_bounded_download() -> None:
    async def chunked(_: bytes) -> bytes | None:
        chunks = (b"abc", b"def" * 100)
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body

    async with serve(chunked) as server, new_client() as http:
        data = await download(http, server.url, service="x", max_bytes=1000)
        assert data == b"abc" + b"def" * 100
        assert (await http.get(server.url)).content == data
    assert server.connections == 1


async def test_errors_are_httpx_errors() -> None:
    async def hang_up(_: bytes) -> bytes | None:
        return None

    async def garbage(_: bytes) -> bytes | None:
        return b"NOT HTTP AT ALL\r\n\r\n"

    async def stall(_: bytes) -> bytes | None:
        await anyio.sleep(10)
        return None

    async with new_client(timeout=httpx.Timeout(5.0, read=0.05)) as http:
        async with serve(hang_up) as server:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url)
            with pytest.raises(NetworkError):
                await request(http, "GET", server.url, service="x")
        async with serve(garbage) as server:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url)
        async with serve(stall) as server:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(server.url)
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        await listener.aclose()
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("ftp://127.0.0.1/")


async def test_host_names_connect_too() -> None:
    async with serve(host="localhost") as server, new_client() as http:
        assert (await http.get(server.url)).text == "ok"
        assert (await http.get(server.url)).text == "ok"
    assert server.connections == 1


async def test_closing_the_client_closes_its_connections() -> None:
    async with serve() as server:
        transport = Http11Transport()
        async with new_client(transport=transport) as http:
            await http.get(server.url)
            assert len(transport._connections) == 1
        assert not transport._connections
        with pytest.raises(RuntimeError):
            await transport.handle_async_request(httpx.Request("GET", server.url))


# --- TLS --------------------------------------------------------------------------------------


def _tls_pki(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    """A test CA (its PEM file) and a server context with a certificate for
    ``localhost`` only, issued by that CA."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "transport test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain_file = tmp_path / "server.pem"
    chain_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + leaf.public_bytes(serialization.Encoding.PEM)
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(chain_file)
    return ca_file, server


@asynccontextmanager
async def serve_tls(server_context: ssl.SSLContext) -> AsyncIterator[Server]:
    server = Server(_ok)
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
    listener = TLSListener(tcp, server_context, standard_compatible=False)
    server.url = f"https://localhost:{port}"

    async def handle(stream: anyio.abc.ByteStream) -> None:
        with contextlib.suppress(anyio.BrokenResourceError, ssl.SSLError, OSError):
            await server.handle(stream)  # type: ignore[arg-type]

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


async def test_https_verifies_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca_file, server_context = _tls_pki(tmp_path)
    async with serve_tls(server_context) as server:
        # The default client trusts what httpx trusts: here, the test CA.
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        async with new_client() as http:
            assert isinstance(http._transport, Http11Transport)
            for _ in range(2):
                r = await http.get(server.url + "/tls")
                assert (r.status_code, r.text) == (200, "ok")
        assert server.connections == 1  # kept alive over TLS too
        # Without the test CA (certifi's roots), the server is not trusted.
        monkeypatch.delenv("SSL_CERT_FILE")
        async with new_client() as http:
            with pytest.raises(httpx.ConnectError, match=r"(?i)certificate"):
                await http.get(server.url)
        # The right CA but another name: the certificate is for localhost only.
        context = ssl.create_default_context(cafile=str(ca_file))
        transport = Http11Transport(ssl_context=context)
        async with httpx.AsyncClient(transport=transport) as http:
            with pytest.raises(httpx.ConnectError, match=r"(?i)certificate|hostname|match"):
                await http.get(server.url.replace("localhost", "127.0.0.1"))
    assert len(server.requests) == 2
