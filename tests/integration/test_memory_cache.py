"""The gateway's vector cache (gateway/memory/vectors.c): cached and SQL searches agree (same ids
and order, same scores) for semantic, hybrid and similar, with and without filters; a
document stored through another gateway, one stored while the LISTEN connection was down,
and documents deleted or updated by hand are all followed."""

import random
import time

import pytest

from fsutil import expect, kill_listen_backend, listen_backend_query
from test_memory import DOCS

TYPES = ["general", "conversation", "task_result", "learning"]


def seed(gw, n_extra=150):
    rnd = random.Random(3)
    words = " ".join(DOCS.values()).replace(".", "").replace(",", "").split()
    texts = list(DOCS.values()) + [" ".join(rnd.choice(words) for _ in range(rnd.randint(8, 30)))
                                   for _ in range(n_extra)]
    for i, t in enumerate(texts):
        expect(gw.post("/api/documents", json={
            "content": t, "agentName": f"agent{i % 3}", "memoryType": TYPES[i % 4],
            "importance": 1 + i % 10, "tags": [f"t{i % 5}"]}), 201)
    return texts


def wait_cached(gw, path="/api/documents/search", params=None, timeout=10):
    params = params or {"q": "index", "mode": "semantic"}
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = gw.get(path, params=params)
        if r.headers.get("X-Search-Path") == "cache":
            return
        time.sleep(0.1)
    raise AssertionError("the vector cache never became ready")


def same(a, b):
    da, db_ = a["documents"], b["documents"]
    assert [d["id"] for d in da] == [d["id"] for d in db_]
    for x, y in zip(da, db_):
        assert abs(x["score"] - y["score"]) < 1e-9
        for k in ("keywordRank", "semanticRank"):
            assert x.get(k) == y.get(k)


QUERIES = ["slow query index", "database connections", "training the model", "disk full crash",
           "hashed passwords", "merge conflicts", "timezone of timestamps", "zzz nothing"]
FILTERS = [{}, {"agentName": "agent1"}, {"memoryType": "learning"}, {"tag": "t2"},
           {"minImportance": "6"}, {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}]


def test_cache_and_sql_agree(gateway_factory, db):
    # the exact scan is the reference: on a server with pgvector, drop its (approximate) path
    db.execute("ALTER TABLE documents DROP COLUMN IF EXISTS embedding_vec")
    cached = gateway_factory()
    plain = gateway_factory(env={"FLOWSTATE_VECTOR_CACHE": "off"})
    seed(plain)
    wait_cached(cached)
    for q in QUERIES:
        for f in FILTERS:
            for mode in ("semantic", "hybrid"):
                params = {"q": q, "mode": mode, "limit": 7, **f}
                a, b = cached.get("/api/documents/search", params=params), plain.get(
                    "/api/documents/search", params=params)
                assert a.headers["X-Search-Path"] == "cache" and b.headers["X-Search-Path"] == "sql"
                same(expect(a, 200), expect(b, 200))
    for doc_id in (1, 5, 17, 60):
        for f in FILTERS[:3]:
            params = {"limit": 9, **f}
            a = cached.get(f"/api/documents/{doc_id}/similar", params=params)
            b = plain.get(f"/api/documents/{doc_id}/similar", params=params)
            assert a.headers["X-Search-Path"] == "cache"
            same(expect(a, 200), expect(b, 200))
    # an unknown document is still a 404 (answered by SQL)
    assert cached.get("/api/documents/999999/similar").status_code == 404


def find(gw, text, mode="semantic"):
    r = expect(gw.get("/api/documents/search", params={"q": text, "mode": mode, "limit": 3}), 200)
    return [d["id"] for d in r["documents"]]


def test_document_from_another_gateway_is_found(gateway_factory):
    first, second = gateway_factory(), gateway_factory()
    seed(second, 20)
    wait_cached(first)
    doc = expect(second.post("/api/documents", json={"content": "quokkas photobomb tourists on Rottnest"}), 201)
    deadline = time.time() + 5
    while doc["id"] not in find(first, "quokka photobombing") and time.time() < deadline:
        time.sleep(0.05)
    assert find(first, "quokka photobombing")[0] == doc["id"]


def test_resync_after_listen_connection_is_killed(gateway_factory, db):
    gw = gateway_factory()
    seed(gw, 20)
    wait_cached(gw)
    db.execute("ALTER TABLE documents DISABLE TRIGGER documents_announce_insert")
    try:
        # stored with no notification: only the re-sync can bring it in
        doc = expect(gw.post("/api/documents", json={"content": "placeholder"}), 201)
        db.execute("UPDATE documents SET content = 'axolotls regrow limbs', embedding = d.embedding"
                   " FROM documents d WHERE documents.id = %s AND d.id = 3", (doc["id"],))
    finally:
        db.execute("ALTER TABLE documents ENABLE TRIGGER documents_announce_insert")
    db.execute("ALTER TABLE documents DISABLE TRIGGER documents_announce_update")
    try:
        other = db.scalar("INSERT INTO documents (content, metadata, embedding, embedding_model)"
                          " SELECT 'copy of three', '{}', embedding, embedding_model FROM documents"
                          " WHERE id = 3 RETURNING id")
    finally:
        db.execute("ALTER TABLE documents ENABLE TRIGGER documents_announce_update")
    killed = kill_listen_backend(db)
    assert killed == 1
    deadline = time.time() + 10
    while "vector cache re-synced" not in gw.log_tail(200) and time.time() < deadline:
        time.sleep(0.1)
    assert "vector cache re-synced" in gw.log_tail(200)
    text3 = db.scalar("SELECT content FROM documents WHERE id = 3")
    r = expect(gw.get("/api/documents/search", params={"q": text3, "mode": "semantic", "limit": 5}), 200)
    assert r["documents"] and {3, other} <= {d["id"] for d in r["documents"]}


def test_deleted_and_updated_documents(gateway_factory, db):
    cached = gateway_factory()
    plain = gateway_factory(env={"FLOWSTATE_VECTOR_CACHE": "off"})
    seed(plain, 30)
    wait_cached(cached)
    target = find(cached, "slow query index")[0]
    db.execute("DELETE FROM documents WHERE id = %s", (target,))
    # the row is gone for SQL at once; the cache may still offer it as a candidate, SQL drops it
    assert target not in find(cached, "slow query index")
    # an update: document 2 gets document 10's embedding
    db.execute("UPDATE documents SET embedding = d.embedding FROM documents d"
               " WHERE documents.id = 2 AND d.id = 10")
    time.sleep(0.5)
    params = {"limit": 5}
    same(expect(cached.get("/api/documents/10/similar", params=params), 200),
         expect(plain.get("/api/documents/10/similar", params=params), 200))
    r = expect(cached.get("/api/documents/10/similar", params=params), 200)
    assert r["documents"][0]["id"] == 2
    db.execute("TRUNCATE documents")
    time.sleep(0.5)
    r = cached.get("/api/documents/search", params={"q": "slow query index", "mode": "semantic"})
    assert expect(r, 200)["documents"] == []


def test_cache_starts_with_the_first_search(gateway_factory, db):
    """A gateway that serves no semantic search holds no embeddings and no LISTEN on
    fs_documents (every NOTIFY in a database wakes every backend that listens there): the
    first search that can use the cache starts it; documents stored before are loaded."""
    gw = gateway_factory()
    seed(gw, 5)

    assert listen_backend_query(db) is not None and "LISTEN" not in listen_backend_query(db)
    assert "vector cache" not in gw.log_tail(200)
    r = gw.get("/api/documents/search", params={"q": "index", "mode": "semantic"})
    assert expect(r, 200)["documents"] and r.headers.get("X-Search-Path") != "cache"
    wait_cached(gw)
    assert listen_backend_query(db) == "LISTEN fs_documents"
    assert "vector cache ready" in gw.log_tail(200)
    first = DOCS[next(iter(DOCS))]
    assert find(gw, first)[0] == 1
