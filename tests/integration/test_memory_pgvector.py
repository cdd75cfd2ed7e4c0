"""The pgvector search path (gateway/memory/pgvector.c, sql/003_memory.sql): when the
server has pgvector, searches the vector cache cannot answer rank with HNSW
(X-Search-Path: pgvector) and agree with the exact path on an easy set; without pgvector
the migrations still succeed, the gateway detects no column and keeps the cache and the
exact SQL scan."""

import time

import psycopg2
import pytest

from fsutil import expect
from test_memory_cache import FILTERS, seed, wait_cached

SEARCH = "/api/documents/search"
QUERIES = ["slow query index", "database connections", "training the model", "disk full crash",
           "hashed passwords", "merge conflicts", "timezone of timestamps"]


def has_column(db):
    return db.scalar("SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'documents'::regclass"
                     " AND attname = 'embedding_vec' AND NOT attisdropped)")


def wait_path(gw, path, params=None, timeout=10):
    params = params or {"q": "index", "mode": "semantic"}
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        seen = gw.get(SEARCH, params=params)
        expect(seen, 200)
        if seen.headers.get("X-Search-Path") == path:
            return
        time.sleep(0.1)
    raise AssertionError(f"X-Search-Path never became {path} (last: {seen.headers.get('X-Search-Path')})")


def close(a, b, tol=1e-4):
    da, db_ = a["documents"], b["documents"]
    assert [d["id"] for d in da] == [d["id"] for d in db_], (da, db_)
    for x, y in zip(da, db_):
        assert abs(x["score"] - y["score"]) < tol, (x["score"], y["score"])
        for k in ("keywordRank", "semanticRank"):
            assert x.get(k) == y.get(k)


def test_migrations_and_detection_without_pgvector(gateway_factory, db):
    """Runs everywhere: 003_memory (which makes the pgvector column where it can) is recorded,
    and the gateway's path follows whether the column exists (here, with no pgvector package,
    it does not)."""
    names = {r["name"] for r in db.query("SELECT name FROM schema_migrations")}
    assert "003_memory" in names, names
    column = has_column(db)
    plain = gateway_factory(env={"FLOWSTATE_VECTOR_CACHE": "off"})
    cached = gateway_factory()
    seed(plain, n_extra=10)
    wait_cached(cached)
    if column:
        wait_path(plain, "pgvector")
        return
    # the probe has answered "no column" (logged at start) and the exact scan answers
    deadline = time.time() + 10
    while "pgvector search path off" not in plain.log_tail(200) and time.time() < deadline:
        time.sleep(0.1)
    assert "pgvector search path off" in plain.log_tail(200), plain.log_tail(200)
    for mode in ("semantic", "hybrid"):
        r = plain.get(SEARCH, params={"q": "slow query index", "mode": mode})
        assert r.headers["X-Search-Path"] == "sql"
        assert expect(r, 200)["documents"]
        r = cached.get(SEARCH, params={"q": "slow query index", "mode": mode})
        assert r.headers["X-Search-Path"] == "cache"
    r = plain.get("/api/documents/1/similar")
    assert r.headers["X-Search-Path"] == "sql" and expect(r, 200)["documents"]


def test_pgvector_agrees_with_exact(gateway_factory, db):
    try:
        db.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg2.Error:
        pytest.skip("pgvector is not installed on this server")
    # the template was migrated before the extension existed here: make the column and index
    # (what 003 and 011 run for the two built-in models)
    assert db.scalar("SELECT fs_pgvector_setup()") is True
    assert db.scalar("SELECT fs_pgvector_setup('local-wordnet-v1-512', 512)") is True
    assert has_column(db)
    assert db.scalar("SELECT count(*) FROM pg_indexes WHERE indexname ="
                     " fs_pgvector_index_name('local-hash-v1-256', 256)") == 1
    assert db.scalar("SELECT count(*) FROM pg_indexes WHERE indexname ="
                     " fs_pgvector_index_name('local-wordnet-v1-512', 512)") == 1
    pgv = gateway_factory(env={"FLOWSTATE_VECTOR_CACHE": "off"})
    exact = gateway_factory()  # the cache's results equal the exact scan's
    seed(pgv, n_extra=0)
    # every stored document got its vector
    assert db.scalar("SELECT count(*) FROM documents WHERE embedding_vec IS NULL") == 0
    wait_cached(exact)
    wait_path(pgv, "pgvector")
    for q in QUERIES:
        for f in FILTERS:
            for mode in ("semantic", "hybrid"):
                params = {"q": q, "mode": mode, "limit": 3, **f}
                a = pgv.get(SEARCH, params=params)
                b = exact.get(SEARCH, params=params)
                assert a.headers["X-Search-Path"] == "pgvector"
                assert b.headers["X-Search-Path"] == "cache"
                close(expect(a, 200), expect(b, 200))
    # filters are applied: every result passes them
    r = expect(pgv.get(SEARCH, params={"q": "database", "mode": "semantic", "agentName": "agent1",
                                       "limit": 20}), 200)
    assert r["documents"] and all(d["metadata"]["agentName"] == "agent1" for d in r["documents"])
    for doc_id in (1, 5, 17):
        a = pgv.get(f"/api/documents/{doc_id}/similar", params={"limit": 3})
        assert a.headers["X-Search-Path"] == "pgvector"
        close(expect(a, 200), expect(exact.get(f"/api/documents/{doc_id}/similar",
                                               params={"limit": 3}), 200))
    assert pgv.get("/api/documents/999999/similar").status_code == 404
    # a text without words is the zero vector: no result, as on the exact path
    assert expect(pgv.get(SEARCH, params={"q": "the of and", "mode": "semantic"}), 200)["documents"] == []
