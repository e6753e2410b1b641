"""A JSON-RPC proxy on 127.0.0.1 in front of the sandbox node, behaving like a public node.

It forwards every request to anvil and can, on demand:
- refuse `eth_getLogs` over more than `max_log_blocks` blocks, with the error public
  providers send ("query returned more than 10000 results" / "block range is too wide");
- answer the next N requests (holding a call of `limit_method`, if set) with a JSON-RPC
  rate-limit error inside HTTP 200;
- cut the answer to the next request holding a call of `cut_method` in half (a connection
  dropped mid-body);
- count HTTP requests and JSON-RPC calls by method, so tests can see what a run cost.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class RpcProxy:
    def __init__(self, upstream: str, max_log_blocks: int | None = None):
        self.upstream = upstream
        self.max_log_blocks = max_log_blocks
        self.rate_limit_next = 0
        self.limit_method: str | None = None
        self.rate_limited = 0  # requests answered with a rate-limit error
        self.cut_method: str | None = None
        self.cut = 0  # answers cut
        # The next request holding a call of this method has every call answered
        # "internal error" (a node failing mid-run).
        self.fail_method: str | None = None
        self.http_requests = 0
        self.calls: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()  # URL paths asked (providers put keys there)
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "RpcProxy":
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def reset_counts(self) -> None:
        with self._lock:
            self.http_requests = 0
            self.rate_limited = 0
            self.cut = 0
            self.calls.clear()
            self.paths.clear()

    def _refusal(self, call: dict) -> dict | None:
        if call.get("method") == "eth_getLogs" and self.max_log_blocks is not None:
            flt = call["params"][0]
            span = int(flt["toBlock"], 16) - int(flt["fromBlock"], 16) + 1
            if span > self.max_log_blocks:
                return {"code": -32005, "message": "query returned more than 10000 results. "
                        f"Try with this block range [{flt['fromBlock']}, {flt['toBlock']}]."}
        return None

    def handle(self, body: bytes) -> bytes:
        payload = json.loads(body)
        calls = payload if isinstance(payload, list) else [payload]
        methods = {c.get("method") for c in calls}
        with self._lock:
            self.http_requests += 1
            self.calls.update(c.get("method") for c in calls)
            limited = self.rate_limit_next > 0 and self.limit_method in (None, *methods)
            self.rate_limit_next -= 1 if limited else 0
            self.rate_limited += 1 if limited else 0
            failed = not limited and self.fail_method in methods
            self.fail_method = None if failed else self.fail_method
            cut = not limited and not failed and self.cut_method in methods
            self.cut_method = None if cut else self.cut_method
            self.cut += 1 if cut else 0
        if limited or failed:
            error = ({"code": -32005, "message": "request rate exceeded"} if limited
                     else {"code": -32603, "message": "internal error"})
            answers = [{"jsonrpc": "2.0", "id": c.get("id"), "error": error} for c in calls]
        else:
            forward = [c for c in calls if self._refusal(c) is None]
            upstream = (self._session.post(self.upstream, json=forward, timeout=300).json()
                        if forward else [])
            by_id = {a["id"]: a for a in upstream}
            answers = []
            for c in calls:
                refusal = self._refusal(c)
                answers.append({"jsonrpc": "2.0", "id": c.get("id"), "error": refusal}
                               if refusal else by_id[c.get("id")])
        body = json.dumps(answers if isinstance(payload, list) else answers[0]).encode()
        return body[:len(body) // 2] if cut else body


def _handler(proxy: RpcProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: with Nagle's algorithm on, the body waits
        # for the client's delayed ACK (~40 ms a request).
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            with proxy._lock:
                proxy.paths[self.path] += 1
            body = proxy.handle(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
