"""Loopback sinks for notifications: a real SMTP server and a real HTTP webhook receiver.

The demo points its email and webhook channels at these, so a newcomer sees an alert arrive;
the tests use the same servers (with scripted answers: 500 then 200, 429 with Retry-After, a
slow answer) to prove what the channels and the outbox do. Both keep what they received and
list it; the webhook sink also lists it over HTTP (`GET /received`).
"""

from __future__ import annotations

import collections
import dataclasses
import email
import email.policy
import json
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclasses.dataclass(frozen=True, slots=True)
class ScriptedAnswer:
    """One answer the webhook sink gives instead of its default: status, headers, body, delay."""

    status: int
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: Any = None
    delay_seconds: float = 0.0


class _WebhookHandler(BaseHTTPRequestHandler):
    server: _WebhookServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the sink lists what it received; no access log on stderr

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/received":
            self._reply(200, self.server.sink.received())
        else:
            self._reply(404, {"error": "POST notifications to any path; GET /received lists them"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        answer = self.server.sink.record(self.path, dict(self.headers.items()), body)
        if answer.delay_seconds:
            time.sleep(answer.delay_seconds)
        self._reply(answer.status, answer.body, answer.headers)


class _WebhookServer(ThreadingHTTPServer):
    daemon_threads = True
    sink: WebhookSink


class WebhookSink:
    """An HTTP server on loopback that accepts any JSON POST, keeps it, and answers as scripted.

    Default answers: 202 with PagerDuty's body for a PagerDuty event (it has a `routing_key`), else 200
    `ok` (what Slack answers). `script(...)` queues other answers for the next requests.
    """

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._received: list[dict[str, Any]] = []
        self._script: collections.deque[ScriptedAnswer] = collections.deque()
        self._server = _WebhookServer((HOST, port), _WebhookHandler)
        self._server.sink = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Return the base URL; any path under it is accepted."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> WebhookSink:
        """Serve in a daemon thread; return self."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def script(self, *answers: ScriptedAnswer) -> None:
        """Queue answers for the next requests, in order (then the defaults again)."""
        with self._lock:
            self._script.extend(answers)

    def record(self, path: str, headers: dict[str, str], body: Any) -> ScriptedAnswer:
        """Keep one request and return the answer to give it."""
        with self._lock:
            answer = self._script.popleft() if self._script else None
            status = answer.status if answer else self._default(body).status
            self._received.append(
                {
                    "path": path,
                    "headers": headers,
                    "body": body,
                    "status": status,
                    "received_at": datetime.now(UTC).isoformat(),
                }
            )
        return answer or self._default(body)

    @staticmethod
    def _default(body: Any) -> ScriptedAnswer:
        if isinstance(body, dict) and "routing_key" in body:
            return ScriptedAnswer(
                202, body={"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}
            )
        return ScriptedAnswer(200, body=b"ok")

    def received(self, *, accepted_only: bool = False) -> list[dict[str, Any]]:
        """Return the requests received, oldest first (only those answered 2xx if asked)."""
        with self._lock:
            rows = list(self._received)
        return [row for row in rows if not accepted_only or 200 <= row["status"] < 300]


class _RecordingSmtpHandler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.reply is not None:
            return self.sink.reply
        raw = envelope.original_content.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.sink.keep(
            {
                "from": str(message["From"]),
                "to": list(envelope.rcpt_tos),
                "subject": str(message["Subject"]),
                "message_id": str(message["Message-ID"]),
                "body": message.get_content() if not message.is_multipart() else "",  # type: ignore[attr-defined]
                "received_at": datetime.now(UTC).isoformat(),
            }
        )
        return "250 Message accepted"


class MailSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts.

    `reply` set to an SMTP answer (e.g. "451 4.3.0 Try again later") refuses messages with it.
    """

    def __init__(self, port: int = 0, reply: str | None = None) -> None:
        self.reply = reply
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._controller = Controller(_RecordingSmtpHandler(self), hostname=HOST, port=port or free_port())

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> MailSink:
        """Start the server in its own thread; return self."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        self._controller.stop()

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def keep(self, message: dict[str, Any]) -> None:
        """Store one accepted message."""
        with self._lock:
            self._messages.append(message)

    def received(self) -> list[dict[str, Any]]:
        """Return the accepted messages, oldest first."""
        with self._lock:
            return list(self._messages)
