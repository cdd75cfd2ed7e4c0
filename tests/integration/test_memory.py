"""Collective memory: metadata validation, listing with filters and sorts, keyword /
semantic / hybrid search (with a labelled retrieval set), similar documents, clustering,
and 400s for every new parameter with nothing changed."""

import pytest

from fsutil import expect, expect_error

MODEL = "local-hash-v1-256"


@pytest.fixture
def gateway(gateway_factory):
    """This module's labelled set and figures are the hash embedder's (embed-provider=hash);
    the default WordNet embedder is tested in test_memory_meaning.py."""
    return gateway_factory(env={"FLOWSTATE_EMBED_PROVIDER": "hash"})


# A labelled retrieval set: documents on distinct topics, and queries with the keys of their
# relevant documents. Some queries use the documents' words, others other forms of them or
# other words altogether.
DOCS = {
    "pg_index": "Adding a B-tree index on the customer_id column made the slow orders query fast again.",
    "pg_vacuum": "Autovacuum fell behind on the events table, so dead tuples piled up and the table bloated.",
    "pg_replication": "The streaming replica lagged ten minutes behind the primary during the nightly batch load.",
    "pg_pool": "Connection pooling with pgbouncer stopped the database from running out of connections.",
    "py_typehints": "Type hints and mypy caught several bugs in the Python code before they shipped.",
    "py_asyncio": "Using asyncio with aiohttp let the crawler fetch hundreds of pages concurrently.",
    "py_packaging": "Pinning package versions in requirements.txt fixed the broken deployment builds.",
    "js_react": "React components re-rendered too often until we memoized the expensive props.",
    "css_layout": "CSS grid made the dashboard layout responsive on narrow mobile screens.",
    "sec_sqlinj": "String concatenation in SQL statements allowed injection; parameterised queries fixed it.",
    "sec_xss": "Escaping user comments before rendering them in HTML prevents cross-site scripting.",
    "sec_tls": "The TLS certificate expired on Sunday and clients refused every HTTPS connection.",
    "sec_passwords": "Passwords are hashed with bcrypt and a per-user salt, never stored in plain text.",
    "ops_disk": "The log partition filled the disk to 100 percent and the service crashed.",
    "ops_memory_leak": "A memory leak in the image resizer grew the worker's heap until the kernel OOM killer ended it.",
    "ops_dns": "A stale DNS record pointed the api hostname at the decommissioned server.",
    "ops_backup": "Nightly backups are copied to cold storage and restore drills run every month.",
    "ops_kubernetes": "The Kubernetes pod restarted in a crash loop because its liveness probe timed out.",
    "ml_overfit": "The model overfitted the training set; dropout and early stopping improved validation accuracy.",
    "ml_embedding": "Sentence embeddings turn text into vectors so similar meanings sit close together.",
    "ml_learning_rate": "Lowering the learning rate stopped the loss from diverging during training.",
    "data_csv": "The CSV importer choked on quoted fields containing commas and newlines.",
    "data_timezone": "Timestamps were stored without a timezone, so reports shifted by an hour at daylight saving.",
    "data_dedupe": "Duplicate customer records were merged by matching normalised email addresses.",
    "git_rebase": "An interactive rebase squashed the fixup commits before merging the branch.",
    "git_conflict": "Merge conflicts in the lockfile were resolved by regenerating it.",
    "test_flaky": "The flaky integration test depended on wall-clock timing; a fake clock made it stable.",
    "test_coverage": "Branch coverage showed the error paths of the parser were never exercised by tests.",
    "api_ratelimit": "Clients that exceeded the rate limit received 429 responses with a Retry-After header.",
    "api_pagination": "Cursor pagination replaced offsets so deep pages no longer slowed the listing endpoint.",
    "food_bread": "Sourdough bread needs a lively starter, a long cold proof and a very hot oven.",
    "garden_tomato": "Tomato plants need staking, deep watering and plenty of sunshine to ripen fruit.",
    "travel_train": "The night train from Vienna to Venice crosses the Alps while passengers sleep.",
    "music_guitar": "Practising guitar scales slowly with a metronome builds clean fingering technique.",
}

# query -> the keys of its relevant documents
QUERIES = [
    ("indexing makes slow queries faster", ["pg_index"]),
    ("database replicas lagging behind", ["pg_replication"]),
    ("too many database connections", ["pg_pool"]),
    ("escaping comments to stop scripting attacks", ["sec_xss"]),
    ("expired certificates break https", ["sec_tls"]),
    ("hashing stored passwords", ["sec_passwords"]),
    ("disk full crashed the service", ["ops_disk"]),
    ("leaking memory until killed", ["ops_memory_leak"]),
    ("restoring from backups", ["ops_backup"]),
    ("pods restarting in crash loops", ["ops_kubernetes"]),
    ("overfitting training data", ["ml_overfit"]),
    ("learning rate diverging loss", ["ml_learning_rate"]),
    ("importing csv files with quotes", ["data_csv"]),
    ("timezones and daylight saving", ["data_timezone"]),
    ("merging duplicate customers", ["data_dedupe"]),
    ("squashing commits with rebase", ["git_rebase"]),
    ("flaky tests and timing", ["test_flaky"]),
    ("rate limiting clients", ["api_ratelimit"]),
    ("paginating with cursors instead of offsets", ["api_pagination"]),
    ("baking sourdough", ["food_bread"]),
    ("growing tomatoes", ["garden_tomato"]),
    ("sql injection with concatenated strings", ["sec_sqlinj"]),
]


def store(gw, status=201, **body):
    return expect(gw.post("/api/documents", json=body), status)


def ids(docs):
    return [d["id"] for d in docs]


# --- storing ---------------------------------------------------------------------------------


def test_store_computes_embedding(gateway, db):
    d = store(gateway, content="Connection pooling keeps PostgreSQL healthy", agentName="code_analyzer",
              memoryType="learning", importance=8, tags=["db"])
    row = db.one("SELECT embedding, embedding_model FROM documents WHERE id = %s", (d["id"],))
    assert row["embedding_model"] == MODEL
    vec = row["embedding"]
    assert len(vec) == 256
    assert abs(sum(x * x for x in vec) - 1.0) < 1e-3, "embeddings are L2-normalised"
    assert "embedding" not in d, "the API does not echo the vector"
    again = store(gateway, content="Connection pooling keeps PostgreSQL healthy")
    assert db.scalar("SELECT embedding = %s::real[] FROM documents WHERE id = %s", (vec, again["id"])), \
        "the local embedder is deterministic"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"content": "x", "memoryType": "episodic"}, "memoryType"),
        ({"content": "x", "importance": 0}, "importance"),
        ({"content": "x", "importance": 11}, "importance"),
        ({"content": "x", "importance": True}, "importance"),
        ({"content": "x", "tags": ["a", ""]}, "tags"),
        ({"content": "x", "tags": [["nested"]]}, "tags"),
        ({"content": "x", "tags": ["t"] * 65}, "tags"),
        ({"content": "x", "agentName": "bad name"}, "agentName"),
        ({"content": "x", "metadata": {"timestamp": "yesterday"}}, "metadata.timestamp"),
        ({"content": "x", "metadata": {"timestamp": 5}}, "metadata.timestamp"),
        ({"content": "x", "metadata": {"timestamp": "2026-02-30T00:00:00Z"}}, "metadata.timestamp"),
    ],
)
def test_store_rejects_bad_metadata(gateway, db, body, field):
    expect_error(gateway.post("/api/documents", json=body), 400, "invalid_field", field)
    assert db.count("documents") == 0


# --- listing ---------------------------------------------------------------------------------


@pytest.fixture
def memories(gateway):
    def m(content, ts, **kw):
        return store(gateway, content=content, metadata={"timestamp": ts}, **kw)

    return [
        m("alpha", "2026-01-01T00:00:00Z", agentName="code_analyzer", memoryType="learning", importance=3,
          tags=["db"]),
        m("bravo", "2026-01-02T00:00:00Z", agentName="code_analyzer", memoryType="task_result", importance=9,
          tags=["db", "perf"]),
        m("charlie", "2026-01-03T00:00:00Z", agentName="data_processor", memoryType="learning", importance=5),
        m("delta", "2026-01-04T00:00:00Z", agentName="code_analyzer", memoryType="conversation", importance=9),
        m("echo", "2026-01-05T00:00:00Z", agentName="code_analyzer", memoryType="general"),
    ]


def listing(gw, **params):
    return expect(gw.get("/api/documents", params=params), 200)


def test_list_filters_and_sorts(gateway, memories):
    a, b, c, d, e = (x["id"] for x in memories)
    assert ids(listing(gateway)["documents"]) == [e, d, c, b, a], "recent first by default"
    assert ids(listing(gateway, sort="recent")["documents"]) == [e, d, c, b, a]
    assert ids(listing(gateway, sort="importance")["documents"]) == [d, b, c, a, e], \
        "importance, then recency; none last"
    assert ids(listing(gateway, agentName="code_analyzer")["documents"]) == [e, d, b, a]
    assert ids(listing(gateway, memoryType="learning")["documents"]) == [c, a]
    assert ids(listing(gateway, tag="db")["documents"]) == [b, a]
    assert ids(listing(gateway, tag="perf")["documents"]) == [b]
    assert ids(listing(gateway, minImportance=5)["documents"]) == [d, c, b]
    assert ids(listing(gateway, since="2026-01-02T00:00:00Z")["documents"]) == [e, d, c, b]
    assert ids(listing(gateway, until="2026-01-03T00:00:00Z")["documents"]) == [b, a]
    assert ids(listing(gateway, since="2026-01-02T00:00:00Z", until="2026-01-04T00:00:00+00:00",
                       agentName="code_analyzer")["documents"]) == [b]
    assert listing(gateway, agentName="nobody") == {"documents": [], "nextCursor": None}


def test_list_pages(gateway, memories):
    want = [x["id"] for x in reversed(memories)]
    got, cursor = [], None
    while True:
        params = {"limit": 2, "sort": "recent"}
        if cursor:
            params["cursor"] = cursor
        page = listing(gateway, **params)
        got += ids(page["documents"])
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert got == want


def test_seed_query_reads_memory_metadata(gateway, db, memories):
    rows = db.query("SELECT * FROM documents WHERE metadata->>'agentName' = 'code_analyzer' \n"
                    "ORDER BY metadata->>'timestamp' DESC LIMIT 10;")
    assert [r["content"] for r in rows] == ["echo", "delta", "bravo", "alpha"]


# --- search ----------------------------------------------------------------------------------


@pytest.fixture
def corpus(gateway):
    keys = {}
    for i, (key, text) in enumerate(DOCS.items()):
        topic = key.split("_")[0]
        keys[key] = store(gateway, content=text, agentName="code_analyzer" if i % 2 else "data_processor",
                          memoryType="learning", importance=1 + i % 10, tags=[topic])["id"]
    return keys


def search(gw, **params):
    return expect(gw.get("/api/documents/search", params=params), 200)


def test_search_modes(gateway, corpus):
    kw = search(gateway, q="autovacuum", mode="keyword")
    assert kw["mode"] == "keyword" and ids(kw["documents"]) == [corpus["pg_vacuum"]]
    assert search(gateway, q="autovacuum")["mode"] == "keyword", "keyword stays the default"

    sem = search(gateway, q="vacuum bloated tables", mode="semantic")
    assert sem["mode"] == "semantic" and sem["model"] == MODEL
    assert sem["documents"][0]["id"] == corpus["pg_vacuum"]
    scores = [d["score"] for d in sem["documents"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1.0001 for s in scores)
    assert len(sem["documents"]) <= 10

    hy = search(gateway, q="dead tuples bloated table", mode="hybrid", limit=5)
    assert hy["mode"] == "hybrid" and len(hy["documents"]) <= 5
    top = hy["documents"][0]
    assert top["id"] == corpus["pg_vacuum"]
    assert top["semanticRank"] == 1 and top["keywordRank"] == 1
    assert top["score"] == pytest.approx(1 / 61 + 1 / 61)
    for d in hy["documents"][1:]:
        assert d["keywordRank"] is None, "only one document has all the words"
        assert d["score"] == pytest.approx(1 / (60 + d["semanticRank"]))

    only_kw = search(gateway, q="dead tuples bloated table", mode="hybrid", wSemantic=0, wKeyword=2)
    assert ids(only_kw["documents"]) == [corpus["pg_vacuum"]]
    assert only_kw["weights"] == {"keyword": 2, "semantic": 0}


def test_search_filters_apply_to_every_mode(gateway, corpus):
    for mode in ("keyword", "semantic", "hybrid"):
        docs = search(gateway, q="database connections pooling", mode=mode, tag="pg", limit=100)["documents"]
        assert docs, mode
        assert all(d["metadata"]["tags"] == ["pg"] for d in docs), mode
        docs = search(gateway, q="database connections pooling", mode=mode, agentName="nobody")["documents"]
        assert docs == [], mode
        docs = search(gateway, q="database connections pooling", mode=mode, minImportance=10,
                      memoryType="learning")["documents"]
        assert all(d["metadata"]["importance"] == 10 for d in docs), mode


def recall_at_3(gw, corpus, mode):
    hits = 0
    for q, relevant in QUERIES:
        got = ids(search(gw, q=q, mode=mode, limit=3)["documents"])
        hits += any(corpus[k] in got for k in relevant)
    return hits / len(QUERIES)


def test_labelled_retrieval_hybrid_beats_keyword(gateway, corpus):
    assert len(DOCS) >= 30 and len(QUERIES) >= 10
    keyword = recall_at_3(gateway, corpus, "keyword")
    semantic = recall_at_3(gateway, corpus, "semantic")
    hybrid = recall_at_3(gateway, corpus, "hybrid")
    print(f"recall@3 keyword={keyword:.2f} semantic={semantic:.2f} hybrid={hybrid:.2f}")
    assert hybrid >= 0.8
    assert hybrid > keyword


def test_search_ignores_other_models_and_unembedded(gateway, corpus, db):
    db.execute("INSERT INTO documents (content, metadata, embedding, embedding_model) VALUES "
               "('sourdough bread oven', '{}', array_fill(0.0625::real, ARRAY[256]), 'other-model-256'),"
               "('sourdough bread oven', '{}', NULL, NULL)")
    got = search(gateway, q="sourdough bread oven", mode="semantic", limit=100)["documents"]
    assert ids(got)[0] == corpus["food_bread"]
    assert all(d["id"] in corpus.values() for d in got)


# --- similar ---------------------------------------------------------------------------------


def test_similar(gateway, corpus):
    a = store(gateway, content="Autovacuum could not keep up with the events table and dead tuples bloated it.")
    body = expect(gateway.get(f"/api/documents/{a['id']}/similar", params={"limit": 3}), 200)
    assert body["id"] == a["id"] and body["model"] == MODEL
    got = ids(body["documents"])
    assert got[0] == corpus["pg_vacuum"] and a["id"] not in got and len(got) <= 3
    own = expect(gateway.get(f"/api/documents/{corpus['pg_vacuum']}/similar"), 200)
    assert corpus["pg_vacuum"] not in ids(own["documents"]) and own["documents"][0]["id"] == a["id"]
    filtered = expect(gateway.get(f"/api/documents/{a['id']}/similar", params={"tag": "sec"}), 200)
    assert filtered["documents"] and all(d["metadata"]["tags"] == ["sec"] for d in filtered["documents"])
    expect_error(gateway.get("/api/documents/999999/similar"), 404, "not_found")


# --- clustering ------------------------------------------------------------------------------

TOPICS = {
    "bread": ["Sourdough bread rises slowly with a sourdough starter and flour.",
              "Knead the bread dough, let the dough rise, then bake the bread in a hot oven.",
              "Rye flour makes a dense bread; the starter needs feeding before baking bread.",
              "A baker shapes the bread dough and bakes loaves of sourdough bread at dawn.",
              "Whole wheat flour bread needs more water in the dough and a longer rise."],
    "database": ["The PostgreSQL database index speeds up the query planner.",
                 "Vacuum the PostgreSQL database tables so the index stays small.",
                 "Database replication copies PostgreSQL tables to a replica server.",
                 "A slow database query needs an index on the PostgreSQL table.",
                 "Database connection pooling keeps PostgreSQL query latency low."],
    "guitar": ["Practise guitar chords and guitar scales with a metronome.",
               "Tune the guitar strings before playing chords on the acoustic guitar.",
               "Fingerpicking guitar patterns need slow practice and steady rhythm.",
               "The electric guitar amplifier distorts chords and melody.",
               "Learn guitar scales, chords and strumming rhythm every day."],
}


def test_cluster_recovers_topics(gateway):
    want = {}
    for topic, texts in TOPICS.items():
        for t in texts:
            want[store(gateway, content=t, agentName="learning", tags=["clustered"])["id"]] = topic
    store(gateway, content="not in the filter", agentName="other")
    body = expect(gateway.post("/api/documents/cluster", json={"agentName": "learning", "k": 3}), 200)
    assert body["model"] == MODEL and body["k"] == 3 and body["documents"] == 15
    clusters = body["clusters"]
    assert sorted(c["size"] for c in clusters) == [5, 5, 5]
    found = set()
    for c in clusters:
        topics = {want[i] for i in c["ids"]}
        assert len(topics) == 1, f"mixed cluster: {c}"
        found |= topics
        assert c["representatives"] and c["representatives"][0]["id"] in c["ids"]
        assert c["topTerms"] and c["topTerms"][0] in ("bread", "databas", "guitar"), c["topTerms"]
    assert found == set(TOPICS)
    again = expect(gateway.post("/api/documents/cluster", json={"agentName": "learning", "k": 3}), 200)
    assert again == body, "clustering is deterministic"
    tagged = expect(gateway.post("/api/documents/cluster", json={"tag": "clustered", "k": 2}), 200)
    assert tagged["documents"] == 15


def test_cluster_limits(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_CLUSTER_MAX_DOCS": "10"})
    for i in range(11):
        store(gw, content=f"note number {i} about widgets")
    expect_error(gw.post("/api/documents/cluster", json={"k": 2}), 400, "too_many_documents")
    expect_error(gw.post("/api/documents/cluster", json={"k": 5, "agentName": "none"}), 400, "invalid_field",
                 "k")
    assert db.count("documents") == 11


# --- bad input -------------------------------------------------------------------------------

BAD_QUERIES = [
    ("/api/documents", {"sort": "oldest"}, "sort"),
    ("/api/documents", {"limit": 0}, "limit"),
    ("/api/documents", {"limit": 101}, "limit"),
    ("/api/documents", {"cursor": "-1"}, "cursor"),
    ("/api/documents", {"cursor": "abc"}, "cursor"),
    ("/api/documents", {"agentName": "bad name"}, "agentName"),
    ("/api/documents", {"memoryType": "episodic"}, "memoryType"),
    ("/api/documents", {"minImportance": 11}, "minImportance"),
    ("/api/documents", {"since": "yesterday"}, "since"),
    ("/api/documents", {"until": "2026-13-01T00:00:00Z"}, "until"),
    ("/api/documents", {"since": "2026-01-01"}, "since"),
    ("/api/documents/search", {"q": "x", "mode": "fuzzy"}, "mode"),
    ("/api/documents/search", {"q": "x", "mode": "hybrid", "wKeyword": "-1"}, "wKeyword"),
    ("/api/documents/search", {"q": "x", "mode": "hybrid", "wSemantic": "lots"}, "wSemantic"),
    ("/api/documents/search", {"q": "x", "mode": "hybrid", "wSemantic": "101"}, "wSemantic"),
    ("/api/documents/search", {"q": "x", "mode": "hybrid", "wSemantic": "nan"}, "wSemantic"),
    ("/api/documents/search", {"q": "x", "mode": "hybrid", "wSemantic": "0", "wKeyword": "0"}, "wSemantic"),
    ("/api/documents/search", {"q": "x", "mode": "semantic", "since": "soon"}, "since"),
    ("/api/documents/search", {"q": "x", "mode": "semantic", "limit": 0}, "limit"),
    ("/api/documents/search", {"q": "", "mode": "semantic"}, "q"),
    ("/api/documents/search", {"q": "x", "tag": ""}, "tag"),
    ("/api/documents/1/similar", {"limit": 0}, "limit"),
    ("/api/documents/1/similar", {"memoryType": "x"}, "memoryType"),
    ("/api/documents/abc/similar", {}, "id"),
]


@pytest.mark.parametrize("path,params,field", BAD_QUERIES, ids=[f"{i}" for i in range(len(BAD_QUERIES))])
def test_bad_query_params(gateway, db, path, params, field):
    store(gateway, content="unchanged")
    before = db.query("SELECT * FROM documents ORDER BY id")
    expect_error(gateway.get(path, params=params), 400, "invalid_field", field)
    assert db.query("SELECT * FROM documents ORDER BY id") == before


BAD_CLUSTER = [
    ({}, "k"),
    ({"k": 1}, "k"),
    ({"k": 21}, "k"),
    ({"k": "3"}, "k"),
    ({"k": 3, "agentName": 7}, "agentName"),
    ({"k": 3, "memoryType": "episodic"}, "memoryType"),
    ({"k": 3, "tag": ""}, "tag"),
    ({"k": 3, "minImportance": 0}, "minImportance"),
    ({"k": 3, "since": "then"}, "since"),
]


@pytest.mark.parametrize("body,field", BAD_CLUSTER, ids=[f"{i}" for i in range(len(BAD_CLUSTER))])
def test_bad_cluster_body(gateway, db, body, field):
    store(gateway, content="unchanged")
    expect_error(gateway.post("/api/documents/cluster", json=body), 400, "invalid_field", field)
    assert db.count("documents") == 1
