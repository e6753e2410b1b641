"""A local JSON-RPC endpoint on 127.0.0.1: the HTTP plumbing the sandbox's RPC proxy and
header node share. Subclasses answer a request body with `handle`."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonRpcServer:
    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def handle(self, body: bytes) -> tuple[int, bytes]:
        """(HTTP status, body) answering one request body."""
        raise NotImplementedError

    def seen(self, path: str) -> None:
        """Called with the URL path of every request (providers put keys there)."""


def _handler(server: JsonRpcServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: with Nagle's algorithm on, the body waits
        # for the client's delayed ACK (~40 ms a request).
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            server.seen(self.path)
            status, body = server.handle(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/json" if body[:1] in (b"{", b"[") else "text/plain"
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
