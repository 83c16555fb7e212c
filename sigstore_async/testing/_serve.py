"""Serving a LocalSigstore on a loopback socket with uvicorn.

Owns: the listening socket, a uvicorn server in a worker thread, and the
bridge from that server's event loop back to the stack's own loop.

Why a thread: uvicorn runs on asyncio only, and LocalSigstore must also work
under trio. So uvicorn gets its own asyncio loop in a worker thread, and its
ASGI application only collects each request and hands it, through an anyio
``BlockingPortal``, to the stack's handler in the caller's loop (asyncio or
trio). All service state therefore lives in one event loop, whichever way a
request arrives, and concurrent requests stay concurrent (each waits in a
thread of uvicorn's loop, not in the loop itself).
"""

from __future__ import annotations

import socket
import threading
from functools import partial

import anyio
import anyio.abc
import anyio.to_thread
from anyio.from_thread import BlockingPortal

from ._http import Receive, RequestHandler, Response, Scope, Send, receive_request, send_response

__all__ = ["LoopbackServer"]


class _Dropped(Exception):
    """Raised inside uvicorn to cut a connection (a fault knob)."""


class LoopbackServer:
    """uvicorn on 127.0.0.1, forwarding requests into the caller's event loop."""

    def __init__(self, handle: RequestHandler, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handle = handle
        self._host = host
        self._port = port
        self._stopped = threading.Event()
        self.url = ""
        # Each request waits in a thread until the stack's loop answers it, and
        # a Rekor v2 request waits for its whole batch: anyio's default of 40
        # threads would cap every batch at 40 entries. Waiting threads are cheap.
        self._bridge: anyio.CapacityLimiter | None = None

    async def _app(
        self, portal: BlockingPortal, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """The ASGI application uvicorn runs, in uvicorn's own loop."""
        if scope["type"] != "http":
            return
        received = await receive_request(scope, receive)
        if received is None:
            return
        if isinstance(received, Response):
            response = received
        else:
            if self._bridge is None:  # created in uvicorn's loop, which uses it
                self._bridge = anyio.CapacityLimiter(4096)
            response = await anyio.to_thread.run_sync(
                partial(portal.call, self._handle, received), limiter=self._bridge
            )
        await send_response(send, response)
        if response.drop:
            raise _Dropped("LocalSigstore dropped the connection (fault injection)")

    async def serve(self, portal: BlockingPortal, task_status: anyio.abc.TaskStatus[str]) -> None:
        """Listen, report the base URL through ``task_status``, serve until cancelled."""
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await self._app(portal, scope, receive, send)

        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            http="h11",
            loop="asyncio",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)

        def run() -> None:
            try:
                server.run(sockets=[sock])
            finally:
                self._stopped.set()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(anyio.to_thread.run_sync, run))
                try:
                    while not server.started:
                        if self._stopped.is_set():
                            raise RuntimeError("uvicorn stopped before it started serving")
                        await anyio.sleep(0.005)
                    task_status.started(self.url)
                    await anyio.sleep_forever()
                finally:
                    # Ask uvicorn to stop; the task group then waits for its thread.
                    server.should_exit = True
        finally:
            sock.close()
