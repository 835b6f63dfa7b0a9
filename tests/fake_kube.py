"""A stand-in Kubernetes API server and exec stream, so cluster.live's real code runs without a cluster.

FakeApiServer is a real HTTP server on 127.0.0.1 (a random port) that answers the
paths a test registers, records every request, and speaks enough of the
websocket protocol for the kubernetes client's exec stream (remotecommand v4:
one byte of channel, then data; the exit Status on channel 3).
FakeExecStream is the exec stream without a socket, for LiveCluster._open_exec.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class Answer:
    """A plain HTTP answer."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"


@dataclass
class ExecScript:
    """An exec websocket: these (channel, data) frames, then `ending`:
    "close" (a close frame, as the API does), "drop" (the connection is cut) or
    "hang" (nothing more until the client gives up)."""

    frames: list[tuple[int, bytes]] = field(default_factory=list)
    ending: str = "close"


class Drop:
    """Close the connection without answering."""


class Hang:
    """Accept the request and never answer it."""


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


def status_body(code: int, reason: str, message: str, **extra: Any) -> bytes:
    """A Kubernetes Status object, as the API sends with errors and on exec's channel 3."""
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": message, "reason": reason, "code": code, **extra}
    return json.dumps(status).encode()


class FakeApiServer:
    def __init__(self) -> None:
        self.routes: dict[str, Any] = {
            "/version": Answer(body=json.dumps({"major": "1", "minor": "33", "gitVersion": "v1.33.1"}).encode()),
        }
        self.requests: list[Request] = []
        self._release = threading.Event()  # lets hanging handlers go when the server stops
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # --- what it answers ---------------------------------------------------

    def reply(self, path: str, body: Any, status: int = 200, content_type: str = "application/json") -> None:
        if not isinstance(body, bytes):
            body = (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.routes[path] = Answer(status, body, content_type)

    def exec(self, path: str, frames: list[tuple[int, str | bytes]], ending: str = "close") -> None:
        self.routes[path] = ExecScript([(ch, d.encode() if isinstance(d, str) else d) for ch, d in frames], ending)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def kubeconfig(self, directory: Path, context: str = "kind-fake", token: str = "t0ken",
                   current: bool = True) -> Path:
        path = directory / "kubeconfig"
        lines = [
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            "- name: fake",
            f"  cluster: {{server: '{self.url}'}}",
            "contexts:",
            f"- name: {context}",
            "  context: {cluster: fake, user: fake}",
            "users:",
            "- name: fake",
            f"  user: {{token: {token}}}",
        ]
        if current:
            lines.append(f"current-context: {context}")
        path.write_text("\n".join(lines) + "\n")
        return path

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: FakeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            headers = {name.lower(): value for name, value in self.headers.items()}
            server.requests.append(Request(url.path, parse_qs(url.query), headers))
            route = server.routes.get(url.path)
            if route is None:
                route = Answer(404, status_body(404, "NotFound", f"the server could not find {url.path}"))
            if isinstance(route, Drop):
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if isinstance(route, Hang):
                server._release.wait(30)
                self.close_connection = True
                return
            if isinstance(route, ExecScript):
                if self.headers.get("Upgrade", "").lower() != "websocket":
                    route = Answer(400, status_body(400, "BadRequest", "upgrade request required"))
                else:
                    self._websocket(route)
                    return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def _websocket(self, script: ExecScript) -> None:
            key = self.headers["Sec-WebSocket-Key"]
            accept = base64.b64encode(hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()).decode()
            self.wfile.write(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n".encode()
            )
            for channel, data in script.frames:
                self.wfile.write(_frame(0x2, bytes([channel]) + data))
            self.wfile.flush()
            self.close_connection = True
            if script.ending == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if script.ending == "close":
                self.wfile.write(_frame(0x8, (1000).to_bytes(2, "big")))
                self.wfile.flush()
            # Wait for the client's close frame or its hang-up (bounded, so a broken test ends).
            self.connection.settimeout(30)
            try:
                self.rfile.read(1)
            except OSError:
                pass

    return Handler


def _frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked (server-to-client) websocket frame."""
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, size])
    elif size < 1 << 16:
        head = bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big")
    return head + payload


class FakeExecStream:
    """The part of kubernetes.stream.WSClient that exec uses, fed from a script.

    Each update() takes one event: a (channel, text) frame, or an exception to raise
    (as the socket would). When the events run out the stream closes, unless
    `closes` is False (a command that never ends).
    """

    def __init__(self, events: list[Any], closes: bool = True):
        self.events = list(events)
        self.closes = closes
        self.buffers: dict[int, str] = {}
        self.open = True
        self.closed_by_caller = False
        self.updates = 0

    def is_open(self) -> bool:
        return self.open

    def update(self, timeout: float = 0) -> None:
        self.updates += 1
        if not self.open:
            return
        if self.events:
            event = self.events.pop(0)
            if isinstance(event, BaseException):
                raise event
            channel, data = event
            self.buffers[channel] = self.buffers.get(channel, "") + data
        elif self.closes:
            self.open = False
        else:
            time.sleep(min(timeout, 0.05))

    def read_channel(self, channel: int, timeout: float = 0) -> str:
        return self.buffers.pop(channel, "")

    def close(self) -> None:
        self.closed_by_caller = True
        self.open = False


# --- fixtures (import them into a test module to use them) -------------------------

NAMESPACE = "lab"


@pytest.fixture
def api():
    server = FakeApiServer()
    yield server
    server.stop()


@pytest.fixture
def cluster(api, tmp_path):
    from labcheck.cluster.live import LiveCluster

    return LiveCluster("kind-fake", kubeconfig=str(api.kubeconfig(tmp_path)))
