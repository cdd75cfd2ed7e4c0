"""A small local stand-in for the remote AI providers, on 127.0.0.1 only: OpenAI-compatible
POST /v1/embeddings and /v1/chat/completions, Ollama POST /api/embed, /api/embeddings and
/api/chat. Embeddings are deterministic bags of hashed words (texts sharing words are
close), so semantic search through them can be checked. Tests script misbehaviour: each
entry of `script` is consumed by one request (status, malformed body, wrong dimension,
sleep); with the script empty every request succeeds."""

import hashlib
import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def fake_vector(text, dims):
    v = [0.0] * dims
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        h = int.from_bytes(hashlib.sha256(w.encode()).digest()[:8], "big")
        v[h % dims] += 1.0 if (h >> 63) == 0 else -1.0
    n = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / n for x in v]


class FakeAI:
    def __init__(self, dims=384, review="Keep functions small; the nesting is fine."):
        self.dims = dims
        self.review = review
        self.script = []  # per request: {"status": 500} | {"body": "..."} | {"dims": 5} | {"sleep": 2.0}
        self.requests = []  # (path, headers, json body)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with fake.lock:
                    fake.requests.append((self.path, dict(self.headers), body))
                    step = fake.script.pop(0) if fake.script else {}
                if step.get("sleep"):
                    threading.Event().wait(step["sleep"])
                status = step.get("status", 200)
                if "body" in step:
                    out = step["body"].encode()
                elif status != 200:
                    out = json.dumps({"error": {"message": f"fake failure {status}"}}).encode()
                else:
                    out = json.dumps(fake.answer(self.path, body or {}, step.get("dims", fake.dims))).encode()
                    if out == b"null":
                        status, out = 404, b'{"error":"not found"}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass  # the client gave up (a timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path, body, dims):
        if path == "/v1/embeddings":
            return {"object": "list", "model": body.get("model"),
                    "data": [{"object": "embedding", "index": i, "embedding": fake_vector(t, dims)}
                             for i, t in enumerate(body.get("input", []))]}
        if path == "/api/embed":
            return {"model": body.get("model"), "embeddings": [fake_vector(t, dims) for t in body.get("input", [])]}
        if path == "/api/embeddings":
            return {"embedding": fake_vector(body.get("prompt", ""), dims)}
        if path == "/v1/chat/completions":
            return {"id": "x", "object": "chat.completion", "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": self.review},
                                 "finish_reason": "stop"}]}
        if path == "/api/chat":
            return {"model": body.get("model"), "message": {"role": "assistant", "content": self.review},
                    "done": True}
        return None

    def paths(self):
        with self.lock:
            return [p for p, _, _ in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
