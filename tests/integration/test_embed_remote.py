"""Remote embedding providers against a fake OpenAI-compatible / Ollama server on
127.0.0.1: documents are stored with the provider's vectors and model id and semantic
search uses them; a failing provider (500, malformed JSON, wrong dimension, timeout) stores
the document without an embedding and writes an embed.failed event, a semantic query then
gets 503; 429 and 5xx are retried; and the gateway's loop stays responsive while the
provider is slow."""

import subprocess
import threading
import time

import pytest

from fakeai import FakeAI
from fsutil import GATEWAY_BIN, child_env, expect, expect_error

DOCS = {
    "pg": "postgres vacuum bloat autovacuum tuples",
    "tls": "tls certificate expired https clients refused",
    "k8s": "kubernetes pod crash loop liveness probe",
}


@pytest.fixture
def fake():
    f = FakeAI(dims=384)
    yield f
    f.close()


def embed_env(fake, provider, dims=384, timeout_ms=5000, model="fake-embed"):
    return {"FLOWSTATE_EMBED_PROVIDER": provider, "FLOWSTATE_EMBED_URL": fake.url,
            "FLOWSTATE_EMBED_MODEL": model, "FLOWSTATE_EMBED_DIMS": str(dims),
            "FLOWSTATE_EMBED_API_KEY": "sk-test-123", "FLOWSTATE_EMBED_TIMEOUT_MS": str(timeout_ms)}


def store(gw, content, status=201):
    return expect(gw.post("/api/documents", json={"content": content, "agentName": "tester"}), status)


def failures(db, expected=0):
    """The embed.failed events' data. The gateway writes an event apart from the request's own
    statement (it does not hold the answer for it), so it may commit just after the answer:
    wait up to 5 s for the expected number to be there."""
    deadline = time.monotonic() + 5
    while True:
        rows = [r["data"] for r in db.query("SELECT data FROM events WHERE type = 'embed.failed' ORDER BY id")]
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def search(gw, q, mode="semantic"):
    return gw.get("/api/documents/search", params={"q": q, "mode": mode})


@pytest.mark.parametrize("provider,path,dims", [("openai", "/v1/embeddings", 384), ("ollama", "/api/embed", 768)])
def test_documents_use_the_providers_vectors(gateway_factory, db, fake, provider, path, dims):
    fake.dims = dims
    gw = gateway_factory(env=embed_env(fake, provider, dims))
    ids = {k: store(gw, v)["id"] for k, v in DOCS.items()}
    model = f"{provider}:fake-embed"
    rows = db.query("SELECT embedding_model AS m, array_length(embedding, 1) AS n FROM documents ORDER BY id")
    assert [(r["m"], r["n"]) for r in rows] == [(model, dims)] * 3, rows
    assert set(fake.paths()) == {path}
    _, headers, body = fake.requests[0]
    assert body["model"] == "fake-embed" and body["input"] == [DOCS["pg"]], body
    assert headers.get("Authorization") == "Bearer sk-test-123"
    # semantic search embeds the query with the same provider and compares like with like
    for q, key in [("autovacuum bloat", "pg"), ("expired certificate", "tls"), ("pod liveness", "k8s")]:
        for _ in range(50):  # the vector cache may still be loading: either path gives the same
            r = search(gw, q)
            res = expect(r, 200)
            if r.headers.get("X-Search-Path") == "cache":
                break
            time.sleep(0.05)
        assert res["documents"][0]["id"] == ids[key] and res["model"] == model, (q, res)
        assert r.headers.get("X-Search-Path") == "cache", "the vector cache never served a search"
    sim = expect(gw.get(f"/api/documents/{ids['pg']}/similar"), 200)
    assert ids["pg"] not in [d["id"] for d in sim["documents"]]
    # documents of another model take no part
    db.execute("UPDATE documents SET embedding_model = 'local-hash-v1-256' WHERE id = %s", (ids["tls"],))
    time.sleep(0.3)
    res = expect(search(gw, "expired certificate"), 200)
    assert ids["tls"] not in [d["id"] for d in res["documents"]]
    assert not failures(db)


def test_ollama_legacy_endpoint(gateway_factory, db, fake):
    # an Ollama without /api/embed answers 404 there: the older /api/embeddings is used
    fake.script = [{"status": 404}]
    gw = gateway_factory(env=embed_env(fake, "ollama"))
    store(gw, DOCS["pg"])
    assert fake.paths() == ["/api/embed", "/api/embeddings"]
    assert fake.requests[1][2] == {"model": "fake-embed", "prompt": DOCS["pg"]}
    assert db.scalar("SELECT array_length(embedding, 1) FROM documents") == 384


@pytest.mark.parametrize("script,error", [
    ([{"status": 500}] * 3, "HTTP 500"),
    ([{"body": "<html>not json"}], "not JSON"),
    ([{"dims": 12}], "12 dimensions"),
    ([{"status": 401}], "HTTP 401"),
], ids=["500", "malformed", "wrong-dims", "401"])
def test_failing_provider_stores_without_embedding(gateway_factory, db, fake, script, error):
    fake.script = list(script)
    gw = gateway_factory(env=embed_env(fake, "openai"))
    doc = store(gw, "postgres vacuum bloat")
    row = db.one("SELECT embedding, embedding_model FROM documents WHERE id = %s", (doc["id"],))
    assert row["embedding"] is None and row["embedding_model"] is None, row
    ev = failures(db, 1)
    assert len(ev) == 1, ev
    data = ev[0]
    assert data["provider"] == "openai" and data["model"] == "openai:fake-embed", data
    assert data["purpose"] == "store" and error in data["error"], data
    assert isinstance(data["durationMs"], (int, float)) and data["attempts"] == len(script), data
    # keyword search still finds it
    res = expect(search(gw, "vacuum", "keyword"), 200)
    assert [d["id"] for d in res["documents"]] == [doc["id"]]
    assert "sk-test-123" not in gw.log_tail(400)


def test_semantic_query_fails_with_503_and_keyword_still_works(gateway_factory, db, fake):
    gw = gateway_factory(env=embed_env(fake, "openai"))
    store(gw, "postgres vacuum bloat")
    fake.script = [{"status": 503}] * 3
    expect_error(search(gw, "vacuum"), 503, "embedding_unavailable")
    fake.script = [{"status": 500}] * 3
    expect_error(search(gw, "vacuum", "hybrid"), 503, "embedding_unavailable")
    assert [d["purpose"] for d in failures(db, 2)] == ["search", "search"]
    assert expect(search(gw, "vacuum", "keyword"), 200)["documents"]
    assert expect(search(gw, "vacuum"), 200)["documents"]  # the provider is back


def test_429_then_success_is_retried(gateway_factory, db, fake):
    fake.script = [{"status": 429}, {"status": 502}]
    gw = gateway_factory(env=embed_env(fake, "openai"))
    store(gw, "postgres vacuum bloat")
    assert len(fake.requests) == 3
    assert db.scalar("SELECT embedding_model FROM documents") == "openai:fake-embed"
    assert not failures(db)


def test_timeout(gateway_factory, db, fake):
    fake.script = [{"sleep": 3}] * 3
    gw = gateway_factory(env=embed_env(fake, "openai", timeout_ms=400))
    t0 = time.monotonic()
    doc = store(gw, "postgres vacuum bloat")
    assert time.monotonic() - t0 < 2.5
    assert db.scalar("SELECT embedding FROM documents WHERE id = %s", (doc["id"],)) is None
    data, = failures(db, 1)
    assert "timed out" in data["error"].lower() or "timeout" in data["error"].lower(), data
    assert 300 <= data["durationMs"] < 2500, data


def test_gateway_stays_responsive_during_a_slow_embedding(gateway_factory, db, fake):
    fake.script = [{"sleep": 2}]
    gw = gateway_factory(env=embed_env(fake, "openai", timeout_ms=10000))
    done = {}
    t = threading.Thread(target=lambda: done.setdefault("r", gw.post(
        "/api/documents", json={"content": "slow one", "agentName": "tester"})))
    t.start()
    time.sleep(0.3)
    for _ in range(5):
        t0 = time.monotonic()
        expect(gw.get("/health"), 200)
        assert time.monotonic() - t0 < 0.5
    # the fast path too: another document embeds on another thread meanwhile
    t0 = time.monotonic()
    store(gw, "fast one")
    assert time.monotonic() - t0 < 1.0
    assert "r" not in done
    t.join(10)
    expect(done["r"], 201)
    assert db.scalar("SELECT count(*) FROM documents WHERE embedding IS NOT NULL") == 2


def test_remote_provider_needs_model_and_dims(test_db, fake):
    env = embed_env(fake, "openai")
    del env["FLOWSTATE_EMBED_DIMS"]
    out = subprocess.run([str(GATEWAY_BIN)], env=child_env({"DATABASE_URL": test_db, "PORT": "1", **env}),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "FLOWSTATE_EMBED_DIMS" in out.stderr + out.stdout
