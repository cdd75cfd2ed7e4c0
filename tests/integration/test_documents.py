"""Documents (agent memory): create, metadata handling, get, keyword search, 400s, seed SQL."""

import pytest

from fsutil import assert_recent, expect, expect_error, parse_ts


def store(gw, status=201, **body):
    return expect(gw.post("/api/documents", json=body), status)


def test_create_with_metadata(gateway, db):
    meta = {"agentName": "code_analyzer", "memoryType": "learning", "tags": ["learning"], "importance": 9}
    d = store(gateway, content="Learned that type hints improve code quality", metadata=meta)
    assert isinstance(d["id"], int)
    assert d["content"] == "Learned that type hints improve code quality"
    ts = d["metadata"].pop("timestamp")
    assert d["metadata"] == meta
    assert_recent(ts)
    assert_recent(d["createdAt"])
    row = db.one("SELECT content, metadata FROM documents WHERE id = %s", (d["id"],))
    assert row["content"] == "Learned that type hints improve code quality"
    assert row["metadata"]["importance"] == 9 and row["metadata"]["timestamp"] == ts


def test_create_with_top_level_fields(gateway, db):
    d = store(
        gateway,
        content="Batching inserts helps",
        agentName="code_analyzer",
        memoryType="task_result",
        tags=["db", "perf"],
        importance=3,
    )
    m = d["metadata"]
    assert m["agentName"] == "code_analyzer"
    assert m["memoryType"] == "task_result"
    assert m["tags"] == ["db", "perf"]
    assert m["importance"] == 3
    assert_recent(m["timestamp"])
    assert db.scalar("SELECT metadata->>'agentName' FROM documents WHERE id = %s", (d["id"],)) == "code_analyzer"


def test_create_top_level_merged_with_metadata(gateway):
    d = store(
        gateway,
        content="merge me",
        metadata={"source": "unit", "nested": {"a": [1, 2]}, "memoryType": "general"},
        agentName="a1",
        importance=10,
    )
    m = d["metadata"]
    assert m["source"] == "unit" and m["nested"] == {"a": [1, 2]}
    assert m["memoryType"] == "general" and m["agentName"] == "a1" and m["importance"] == 10
    assert "timestamp" in m


def test_create_minimal_and_given_timestamp(gateway):
    d = store(gateway, content="x")
    assert set(d["metadata"]) == {"timestamp"}
    parse_ts(d["metadata"]["timestamp"])
    given = "2025-01-02T03:04:05.123456+00:00"
    d = store(gateway, content="y", metadata={"timestamp": given})
    assert d["metadata"]["timestamp"] == given


@pytest.mark.parametrize("mt", ["general", "conversation", "task_result", "learning"])
def test_memory_types_accepted(gateway, mt):
    assert store(gateway, content="m", memoryType=mt)["metadata"]["memoryType"] == mt


def test_get_and_404(gateway):
    d = store(gateway, content="get me", tags=["t"], importance=1)
    assert expect(gateway.get(f"/api/documents/{d['id']}"), 200) == d
    expect_error(gateway.get("/api/documents/999999"), 404, "not_found")


@pytest.mark.parametrize("bad", ["abc", "0", "-2", "1.5"])
def test_get_bad_id(gateway, bad):
    expect_error(gateway.get(f"/api/documents/{bad}"), 400, "invalid_field", "id")


@pytest.fixture
def corpus(gateway):
    d1 = store(gateway, content="PostgreSQL group commit batches inserts", agentName="code_analyzer",
               memoryType="learning", tags=["db", "perf"], importance=9)
    d2 = store(gateway, content="Type hints improve code quality", agentName="code_analyzer",
               memoryType="learning", tags=["python"], importance=7)
    d3 = store(gateway, content="PostgreSQL PostgreSQL PostgreSQL replication and PostgreSQL vacuum",
               agentName="data_processor", memoryType="task_result", tags=["db"], importance=3)
    d4 = store(gateway, content="Unrelated note about lunch", memoryType="general", importance=1)
    return d1, d2, d3, d4


def search(gw, **params):
    body = expect(gw.get("/api/documents/search", params=params), 200)
    assert body["mode"] == "keyword"
    docs = body["documents"]
    for d in docs:
        assert isinstance(d["rank"], (int, float)) and d["rank"] > 0, d
    ranks = [d["rank"] for d in docs]
    assert ranks == sorted(ranks, reverse=True), f"not best match first: {ranks}"
    return docs


def ids(docs):
    return [d["id"] for d in docs]


def test_search_and_ranking(gateway, corpus):
    d1, d2, d3, d4 = corpus
    docs = search(gateway, q="postgresql")
    assert ids(docs) == [d3["id"], d1["id"]], "the document naming PostgreSQL four times ranks first"
    assert docs[0]["rank"] > docs[1]["rank"]
    hit = dict(docs[1])
    hit.pop("rank")
    assert hit == d1, "search results carry the whole document"
    assert ids(search(gateway, q="PostgreSQL vacuum")) == [d3["id"]]
    assert ids(search(gateway, q="lunch")) == [d4["id"]]
    assert ids(search(gateway, q="quality")) == [d2["id"]]
    assert search(gateway, q="nothingmatchesthis") == []


def test_search_filters(gateway, corpus):
    d1, d2, d3, d4 = corpus
    assert ids(search(gateway, q="postgresql", agentName="code_analyzer")) == [d1["id"]]
    assert ids(search(gateway, q="postgresql", agentName="nobody")) == []
    assert ids(search(gateway, q="postgresql", memoryType="task_result")) == [d3["id"]]
    assert ids(search(gateway, q="postgresql", tag="perf")) == [d1["id"]]
    assert ids(search(gateway, q="postgresql", tag="db")) == [d3["id"], d1["id"]]
    assert ids(search(gateway, q="postgresql", tag="python")) == []
    assert ids(search(gateway, q="postgresql", minImportance=5)) == [d1["id"]]
    assert ids(search(gateway, q="postgresql", minImportance=3)) == [d3["id"], d1["id"]]
    assert ids(search(gateway, q="postgresql", minImportance=10)) == []
    assert ids(search(gateway, q="postgresql", limit=1)) == [d3["id"]]
    assert ids(search(gateway, q="code", agentName="code_analyzer", memoryType="learning", tag="python",
                      minImportance=7)) == [d2["id"]]


def test_search_limit_default(gateway, db):
    db.execute(
        "INSERT INTO documents (content, metadata) SELECT 'widget number ' || g, "
        "jsonb_build_object('timestamp', now()::text) FROM generate_series(1, 120) g"
    )
    assert len(search(gateway, q="widget")) == 10
    assert len(search(gateway, q="widget", limit=100)) == 100


@pytest.mark.parametrize(
    "params,field",
    [
        ({}, "q"),
        ({"agentName": "code_analyzer"}, "q"),
        ({"q": "x", "minImportance": 0}, "minImportance"),
        ({"q": "x", "minImportance": 11}, "minImportance"),
        ({"q": "x", "minImportance": "high"}, "minImportance"),
        ({"q": "x", "limit": 0}, "limit"),
        ({"q": "x", "limit": 101}, "limit"),
        ({"q": "x", "limit": "all"}, "limit"),
        ({"q": "x", "memoryType": "bogus"}, "memoryType"),
    ],
)
def test_search_bad_params(gateway, params, field):
    expect_error(gateway.get("/api/documents/search", params=params), 400, "invalid_field", field)


INVALID_DOCS = [
    ({}, "content"),
    ({"content": ""}, "content"),
    ({"content": None}, "content"),
    ({"content": 123}, "content"),
    ({"content": ["a"]}, "content"),
    ({"content": "x", "importance": 0}, "importance"),
    ({"content": "x", "importance": 11}, "importance"),
    ({"content": "x", "importance": "9"}, "importance"),
    ({"content": "x", "importance": 2.5}, "importance"),
    ({"content": "x", "memoryType": "bogus"}, "memoryType"),
    ({"content": "x", "memoryType": 1}, "memoryType"),
    ({"content": "x", "tags": "learning"}, "tags"),
    ({"content": "x", "tags": [1, 2]}, "tags"),
    ({"content": "x", "tags": ["a", None]}, "tags"),
    ({"content": "x", "tags": {"a": 1}}, "tags"),
    ({"content": "x", "agentName": 5}, "agentName"),
    ({"content": "x", "metadata": []}, "metadata"),
    ({"content": "x", "metadata": "meta"}, "metadata"),
    ({"content": "x", "metadata": {"importance": 0}}, ("importance", "metadata.importance")),
    ({"content": "x", "metadata": {"importance": 11}}, ("importance", "metadata.importance")),
    ({"content": "x", "metadata": {"memoryType": "bogus"}}, ("memoryType", "metadata.memoryType")),
    ({"content": "x", "metadata": {"tags": "t"}}, ("tags", "metadata.tags")),
    ({"content": "x", "metadata": {"tags": ["ok", 3]}}, ("tags", "metadata.tags")),
    ({"content": "x", "metadata": {"agentName": ["a"]}}, ("agentName", "metadata.agentName")),
]


@pytest.mark.parametrize("body,field", INVALID_DOCS, ids=[f"{i}" for i in range(len(INVALID_DOCS))])
def test_create_invalid(gateway, db, body, field):
    expect_error(gateway.post("/api/documents", json=body), 400, "invalid_field", field)
    assert db.count("documents") == 0, "a rejected document was stored"


def test_seed_query_recent_memories(gateway, db):
    a = store(gateway, content="first", metadata={"agentName": "code_analyzer", "memoryType": "learning"})
    store(gateway, content="not mine", agentName="data_processor")
    b = store(gateway, content="second", agentName="code_analyzer", tags=["x"])
    c = store(gateway, content="third", agentName="code_analyzer", importance=5)
    rows = db.query(
        "SELECT * FROM documents WHERE metadata->>'agentName' = 'code_analyzer' \n"
        "ORDER BY metadata->>'timestamp' DESC LIMIT 10;"
    )
    assert [r["id"] for r in rows] == [c["id"], b["id"], a["id"]]
    assert [r["content"] for r in rows] == ["third", "second", "first"]
    assert rows[0]["metadata"]["importance"] == 5
