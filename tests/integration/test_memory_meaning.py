"""Memory that finds by meaning with the default, offline WordNet embedder
(local-wordnet-v1-512), through the real gateway's search routes: the issue's example (a query
sharing no word with the memory it should find) in semantic and hybrid mode; the retrieval
test set of tests/fixtures/retrieval.json held to the recall@5 it reaches (0.67 measured; the
issue's target of 0.8 is not met yet, see docs/memory.md); memories stored by the older
hash model re-embedded after the gateway starts (and searched meanwhile without mixing models),
remote models' vectors kept; and a gateway that cannot open WordNet refusing to start."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from fsutil import GATEWAY_BIN, child_env, expect, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
import retrieval  # noqa: E402  (tests/eval/retrieval.py)

MODEL = "local-wordnet-v1-512"
HASH_MODEL = "local-hash-v1-256"

CAT = "The cat sat on the mat"
ISSUE_MEMORIES = [
    "Quarterly revenue grew 12%",
    CAT,
    "The deploy failed because the container ran out of memory",
    "Bake the bread at 220 degrees for forty minutes",
    "Our flight to Lisbon was delayed by three hours",
]
QUERY = "feline resting on a rug"
# What the default reaches on tests/fixtures/retrieval.json, rounded down (make eval-retrieval).
RECALL5_FLOOR = 0.6


def store(gw, content):
    return expect(gw.post("/api/documents", json={"content": content}), 201)["id"]


def search(gw, q, mode, limit=10):
    return expect(gw.get("/api/documents/search", params={"q": q, "mode": mode, "limit": limit}), 200)


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_issue_example_finds_the_cat_by_meaning(gateway, db, mode):
    ids = {text: store(gateway, text) for text in ISSUE_MEMORIES}
    assert db.scalar("SELECT count(*) FROM documents WHERE embedding_model = %s", (MODEL,)) == len(ids)
    assert db.scalar("SELECT cardinality(embedding) FROM documents WHERE id = %s", (ids[CAT],)) == 512
    body = search(gateway, QUERY, mode)
    assert body["model"] == MODEL
    assert body["documents"][0]["id"] == ids[CAT], [d["content"] for d in body["documents"]]
    # keyword search needs the query's words, which the cat memory does not have
    assert ids[CAT] not in [d["id"] for d in search(gateway, QUERY, "keyword")["documents"]]


def test_retrieval_set_recall(gateway):
    fx = retrieval.load_fixture()
    assert retrieval.check_fixture(fx) == []
    assert len(fx["memories"]) >= 60 and len(fx["queries"]) >= 30
    ids = retrieval.store_memories(gateway, fx)
    got = retrieval.evaluate(gateway, fx, ids)
    print({mode: {k: round(v, 2) if isinstance(v, float) else v for k, v in m.items()} for mode, m in got.items()})
    assert got["semantic"]["model"] == MODEL
    assert got["semantic"]["r5"] >= RECALL5_FLOOR
    assert got["hybrid"]["r5"] >= RECALL5_FLOOR
    assert got["semantic"]["r5"] > got["keyword"]["r5"]


def test_old_model_memories_are_reembedded(gateway_factory, db):
    old = gateway_factory(env={"FLOWSTATE_EMBED_PROVIDER": "hash"})
    ids = {text: store(old, text) for text in ISSUE_MEMORIES}
    assert old.stop() == 0
    # a remote model's vector (costly to make) and a row without one are left alone
    db.execute("INSERT INTO documents (content, metadata, embedding, embedding_model) VALUES"
               " ('remote cat', '{}', array_fill(0.0625::real, ARRAY[4]), 'openai:tiny'),"
               " ('no vector cat', '{}', NULL, NULL)")
    gw = gateway_factory()
    deadline = time.monotonic() + 30
    while "memories re-embedded" not in gw.log_tail(400) and time.monotonic() < deadline:
        time.sleep(0.1)
    log = gw.log_tail(400)
    assert "memories re-embedded" in log and f"documents={len(ids)}" in log
    assert 'model="openai:tiny" documents=1' in log  # the warning about the kept vectors
    rows = db.query("SELECT embedding_model, count(*) AS n FROM documents GROUP BY 1 ORDER BY 1")
    assert {r["embedding_model"]: r["n"] for r in rows} == {MODEL: len(ids), "openai:tiny": 1, None: 1}
    event = db.one("SELECT data FROM events WHERE type = 'embed.reembedded'")["data"]
    assert event["model"] == MODEL and event["documents"] == len(ids)
    # the re-embedded vectors equal what storing them now gives
    again = store(gw, CAT)
    assert db.scalar("SELECT a.embedding = b.embedding FROM documents a, documents b"
                     " WHERE a.id = %s AND b.id = %s", (ids[CAT], again))
    body = search(gw, QUERY, "semantic")
    assert body["documents"][0]["id"] in (ids[CAT], again)
    assert {d["id"] for d in body["documents"]} <= set(ids.values()) | {again}


def test_search_before_reembedding_skips_old_vectors(gateway_factory, db):
    old = gateway_factory(env={"FLOWSTATE_EMBED_PROVIDER": "hash"})
    store(old, CAT)
    # the hash gateway searches its own model only; a wordnet vector stored beside it is skipped
    new = gateway_factory()
    wordnet_cat = store(new, CAT)
    for gw, model in ((old, HASH_MODEL), (new, MODEL)):
        body = search(gw, "cat mat", "semantic")
        assert body["model"] == model
        found = {d["id"] for d in body["documents"]}
        models = {r["embedding_model"] for r in db.query(
            "SELECT embedding_model FROM documents WHERE id = ANY(%s)", (list(found),))}
        assert models <= {model}, "search compared vectors of another model"
    assert wordnet_cat


def test_gateway_without_wordnet_refuses_to_start(test_db, gateway_factory, tmp_path):
    out = subprocess.run([str(GATEWAY_BIN)],
                         env=child_env({"DATABASE_URL": test_db, "PORT": free_port(), "WNSEARCHDIR": str(tmp_path)}),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "cannot open the WordNet database" in out.stderr + out.stdout
    # the hash provider needs no WordNet
    gw = gateway_factory(env={"FLOWSTATE_EMBED_PROVIDER": "hash", "WNSEARCHDIR": str(tmp_path)})
    cat = store(gw, CAT)
    assert search(gw, "cat on a mat", "semantic")["documents"][0]["id"] == cat
