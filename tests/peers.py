"""Real protocol peers for the notification tests, on loopback: an SMTP server (aiosmtpd)
and an HTTP endpoint that records every POST. Nothing is mocked: the ledger's dispatcher
talks SMTP and HTTP to them over sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """An SMTP server that keeps what it is sent (plain SMTP: the client's 'none' security)."""
    from aiosmtpd.controller import Controller

    box = Mailbox()

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            box.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))  # type: ignore[arg-type]
            return "250 Message accepted"

    box.port = free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Endpoint:
    """An HTTP endpoint: `answers` is consumed one per request (status codes, or "hang" to
    sleep `hang_seconds` before answering); when empty it answers 204."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[int | str] = field(default_factory=list)
    hang_seconds: float = 30.0
    arrived: threading.Event = field(default_factory=threading.Event)


@contextmanager
def http_endpoint() -> Iterator[Endpoint]:
    endpoint = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            endpoint.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            endpoint.arrived.set()
            answer = endpoint.answers.pop(0) if endpoint.answers else 204
            if answer == "hang":
                time.sleep(endpoint.hang_seconds)
                answer = 204
            self.send_response(int(answer))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/billing-events"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
