"""A real HTTP receiver on 127.0.0.1, in the test process: it records every request and answers
from a script (status, headers, body, or a slow drip), so deliveries are tested over real HTTP."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    drip_seconds: float = 0.0  # pause before each byte of the body
    delay_seconds: float = 0.0  # pause before answering at all


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.lock = threading.Lock()
        self.url = ""

    def then(self, *replies: Reply) -> Receiver:
        self.script.extend(replies)
        return self

    def next_reply(self) -> Reply:
        with self.lock:
            return self.script.popleft() if self.script else self.default

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:
                return  # the sender died mid-request (a killed worker): nothing was delivered
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            reply = receiver.next_reply()
            if reply.delay_seconds:
                time.sleep(reply.delay_seconds)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            try:
                if reply.drip_seconds:
                    for byte in reply.body:
                        time.sleep(reply.drip_seconds)
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                else:
                    self.wfile.write(reply.body)
            except OSError:
                pass  # the client hung up (a deadline cut it)

    return Handler


@contextmanager
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    ThreadingHTTPServer.request_queue_size = 128  # four workers × 8 connections at once
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(r))
    server.daemon_threads = True
    r.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield r
    finally:
        server.shutdown()
        server.server_close()
