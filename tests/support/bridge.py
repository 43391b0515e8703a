"""``benchsync bridge`` as a user starts it, over HTTP on loopback, and clients that trickle."""

from __future__ import annotations

import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchsync.demo.processes import free_port

# How long a started bridge may take to answer /health.
STARTUP_SECONDS = 20.0


class Bridge:
    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        chunked: bool = False,
        timeout: float = 5.0,
    ) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        # An iterable body goes out chunked, without Content-Length.
        payload = iter([body or b""]) if chunked else body
        try:
            connection.request(
                method,
                path,
                body=payload,
                headers=headers or {},
                encode_chunked=chunked,
            )
            return connection.getresponse().status
        except (BrokenPipeError, ConnectionResetError):
            return 413  # gunicorn may close the socket after answering an oversized upload
        finally:
            connection.close()


@contextmanager
def running_bridge(
    environment: dict[str, str],
    log: Path,
    python_options: Sequence[str] = (),
    bridge_options: Sequence[str] = (),
) -> Iterator[Bridge]:
    """``benchsync bridge --port <free port> *bridge_options``, stopped with SIGTERM afterwards;
    yields once /health answers 200."""
    port = free_port()
    command = [sys.executable, *python_options, "-m", "benchsync.cli", "bridge"]
    command += ["--port", str(port), *bridge_options]
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            env={**os.environ, **environment},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    bridge = Bridge(port, log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if bridge.request("GET", "/health") == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield bridge
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


# A request that never ends its headers: one more header line, a byte at a time, for ever.
_UNFINISHED_HEAD = b"POST /1/webhooks HTTP/1.1\r\nHost: bridge\r\n"
_HEADER_LINE = b"x-slow: trickle\r\n"
# A request whose headers arrive whole (the bridge reads the body: the webhook headers are
# there), then a body that never ends, a byte at a time.
_DECLARED_BODY_BYTES = 100_000
_WHOLE_HEAD = (
    b"POST /1/webhooks HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n"
    b"webhook-id: msg_slow\r\nwebhook-timestamp: 0\r\nwebhook-signature: v1,slow\r\n"
    b"Content-Length: %d\r\n\r\n" % _DECLARED_BODY_BYTES
)


@dataclass
class _SlowConnection:
    trickles_body: bool
    sock: socket.socket
    sent: int = 0


@dataclass
class SlowClients:
    """``count`` connections to ``port`` held open, each sending its request one byte per
    ``byte_interval`` seconds: half never finish their headers, half send their headers whole,
    then a body they never finish. One the server closes is reopened, as an attacker would.

    ``closed_by_server`` counts those, by kind (``"head"``, ``"body"``).
    """

    port: int
    count: int = 32
    byte_interval: float = 0.2
    closed_by_server: dict[str, int] = field(default_factory=lambda: {"head": 0, "body": 0})
    _connections: list[_SlowConnection] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _all_sent: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SlowClients:
        self._connections = [self._open(index % 2 == 1) for index in range(self.count)]
        self._thread = threading.Thread(target=self._trickle, name="slow-clients", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for connection in self._connections:
            connection.sock.close()

    def wait_until_held(self, timeout: float = 30.0) -> None:
        """Until every connection has sent part of its request (and none all of it)."""
        if not self._all_sent.wait(timeout):
            raise TimeoutError(f"the {self.count} slow connections were not all open")

    def closed(self) -> dict[str, int]:
        with self._lock:
            return dict(self.closed_by_server)

    def _open(self, trickles_body: bool) -> _SlowConnection:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if trickles_body:
            sock.sendall(_WHOLE_HEAD)
        else:
            sock.sendall(_UNFINISHED_HEAD)
        sock.setblocking(False)
        return _SlowConnection(trickles_body, sock)

    def _trickle(self) -> None:
        while not self._stop.is_set():
            for index, connection in enumerate(self._connections):
                if _closed_by_peer(connection.sock) or not _send_one_byte(connection):
                    connection.sock.close()
                    with self._lock:
                        self.closed_by_server["body" if connection.trickles_body else "head"] += 1
                    self._connections[index] = self._open(connection.trickles_body)
            if all(connection.sent > 0 for connection in self._connections):
                self._all_sent.set()
            self._stop.wait(self.byte_interval)


def _send_one_byte(connection: _SlowConnection) -> bool:
    """False if the server has closed the connection."""
    if connection.trickles_body:
        if connection.sent >= _DECLARED_BODY_BYTES - 1:
            return True  # the body's last byte is never sent
        byte = b" "
    else:
        byte = bytes([_HEADER_LINE[connection.sent % len(_HEADER_LINE)]])
    try:
        connection.sock.send(byte)
    except BlockingIOError:
        return True
    except OSError:
        return False
    connection.sent += 1
    return True


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server answered or closed (anything to read means it gave up on the request)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        sock.recv(4096)  # an answer (400, 408) or the end of the stream
    except BlockingIOError:
        return False
    except OSError:
        pass  # reset
    return True
