"""CPU-heavy memory requests run on the gateway's work threads (gateway/work/workpool.c), not on
its event loop: while eight clusterings run, /health answers; the eight answers equal a
clustering run alone; over the work queue's bound a clustering is refused with 503 and
Retry-After; a client that leaves before its clustering is done costs nothing; large scans of
the vector cache (work-scan-min) give the same results on a work thread as inline.

The clusterings are held at one point so that the test is decided by ordering: a transaction
of the test locks the documents table, the gateway's eight reads wait on the lock, and once it
is released and the reads have been answered, every clustering is in the gateway at once."""

import random
import socket
import threading
import time

import psycopg2

from fsutil import expect, expect_error
from test_memory_cache import same, seed, wait_cached

WORDS = ("index query vacuum replica pool python asyncio react layout grid injection tls "
         "password disk memory leak dns backup kubernetes model training embedding csv "
         "timezone rebase merge conflict bread guitar chord flour oven lock latency cache").split()

CLUSTER = {"k": 20}
N_DISTINCT, COPIES = 200, 20  # 4,000 memories: a clustering takes well over 100 ms


def seed_many(gw, db):
    rnd = random.Random(7)
    for _ in range(N_DISTINCT):
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 20)))
        expect(gw.post("/api/documents", json={"content": text}), 201)
    # copies keep the stored embeddings; the content differs only by a number
    db.execute("INSERT INTO documents (content, metadata, embedding, embedding_model)"
               " SELECT d.content || ' copy ' || g, d.metadata, d.embedding, d.embedding_model"
               " FROM documents d, generate_series(1, %s) g", (COPIES - 1,))
    assert db.count("documents") == N_DISTINCT * COPIES


def clustering_reads(db, waiting=False):
    """The gateway's queries running (or waiting on a lock) now: in these tests, only the
    clustering reads touch documents. (pg_stat_activity shows a prepared statement's text as
    the session's last simple query, so the application name tells them apart.)"""
    return db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                     " AND application_name = 'flowstate-gateway' AND state = 'active'"
                     + (" AND wait_event_type = 'Lock'" if waiting else ""))


def wait_for(pred, what, timeout=60):
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Clusterings:
    """n concurrent POST /api/documents/cluster, held behind a lock on documents until
    release() (and until the gateway has read every result)."""

    def __init__(self, gw, db, n=8):
        self.gw, self.db, self.n = gw, db, n
        self.answers = [None] * n
        self.finished = [None] * n  # time.monotonic() when each answer was received
        self.lock_conn = psycopg2.connect(gw.db_url)
        self.lock_conn.cursor().execute("LOCK TABLE documents IN ACCESS EXCLUSIVE MODE")
        self.threads = [threading.Thread(target=self._one, args=(i,)) for i in range(n)]
        for t in self.threads:
            t.start()
        wait_for(lambda: clustering_reads(db, waiting=True) == n,
                 f"{n} clustering reads waiting on the lock")

    def _one(self, i):
        r = self.gw.post("/api/documents/cluster", json=CLUSTER, timeout=300)
        self.finished[i] = time.monotonic()
        self.answers[i] = r

    def release(self):
        self.lock_conn.rollback()
        self.lock_conn.close()
        # every read answered: the gateway holds all n results
        wait_for(lambda: clustering_reads(self.db) == 0, "the clustering reads to finish")

    def join(self):
        for t in self.threads:
            t.join(300)
        assert all(a is not None for a in self.answers)
        return self.answers


def test_health_answers_while_eight_clusterings_run(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_CLUSTER_MAX_DOCS": "5000", "FLOWSTATE_DB_POOL_SIZE": "8"})
    seed_many(gw, db)
    alone = expect(gw.post("/api/documents/cluster", json=CLUSTER, timeout=120), 200)
    assert alone["documents"] == N_DISTINCT * COPIES and len(alone["clusters"]) == 20

    runs = Clusterings(gw, db)
    log_start = len(gw.log_path.read_bytes())
    runs.release()  # the gateway holds all eight results now
    latencies = []
    while not all(runs.finished):
        t0 = time.monotonic()
        expect(gw.get("/health"), 200)
        latencies.append(time.monotonic() - t0)
    answers = runs.join()
    # The gateway's log is written by its loop thread in the order it answers. On the loop,
    # a clustering would hold it from the moment its result arrived: every /health would
    # be answered after the first clustering.
    log = gw.log_path.read_bytes()[log_start:].decode()
    first_health = log.find('path="/health"')
    first_clustering = log.find('path="/api/documents/cluster" status=200')
    assert 0 <= first_health < first_clustering
    print(f"/health during eight clusterings: {len(latencies)} requests, max "
          f"{max(latencies) * 1e3:.1f} ms, median {sorted(latencies)[len(latencies) // 2] * 1e3:.1f} ms;"
          f" the clusterings took {(max(runs.finished) - min(runs.finished)) * 1e3:.0f} ms from first to last")
    for r in answers:
        assert expect(r, 200) == alone


def test_work_queue_bound_answers_503(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_CLUSTER_MAX_DOCS": "5000", "FLOWSTATE_DB_POOL_SIZE": "8",
                              "FLOWSTATE_WORK_THREADS": "1", "FLOWSTATE_WORK_QUEUE_MAX": "1"})
    seed_many(gw, db)
    alone = expect(gw.post("/api/documents/cluster", json=CLUSTER, timeout=120), 200)
    before = db.count("documents")

    runs = Clusterings(gw, db)
    runs.release()
    answers = runs.join()
    ok = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code != 200]
    # one running and one waiting are accepted; the others find the queue full
    assert len(ok) >= 2 and refused, [r.status_code for r in answers]
    for r in ok:
        assert r.json() == alone
    for r in refused:
        expect_error(r, 503, "unavailable")
        assert r.headers["Retry-After"] == "1"
        assert "work threads are busy" in r.json()["error"]["message"]
    assert db.count("documents") == before
    # the refusals left the pool as it was
    assert expect(gw.post("/api/documents/cluster", json=CLUSTER, timeout=120), 200) == alone
    gw.assert_healthy()


def test_client_leaving_during_a_clustering(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_CLUSTER_MAX_DOCS": "5000"})
    seed_many(gw, db)
    body = b'{"k": 20}'
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", gw.port))
        s.sendall(b"POST /api/documents/cluster HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer " + gw.key.encode() + b"\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\n\r\n" + body)
        s.close()
    # each clustering finishes and its answer is dropped with the connection
    wait_for(lambda: gw.log_path.read_text().count('path="/api/documents/cluster" status=200') >= 3,
             "the abandoned clusterings to finish", timeout=120)
    expect(gw.post("/api/documents/cluster", json=CLUSTER, timeout=120), 200)
    gw.assert_healthy()


def test_large_scans_on_a_work_thread_agree(gateway_factory, db):
    # work-scan-min 0 sends every cache scan to a work thread; 1e8 keeps all of them inline
    threaded = gateway_factory(env={"FLOWSTATE_WORK_SCAN_MIN": "0"})
    inline = gateway_factory(env={"FLOWSTATE_WORK_SCAN_MIN": "100000000"})
    seed(threaded)
    wait_cached(threaded)
    wait_cached(inline)
    for q in ("slow query index", "training the model", "disk full crash"):
        for f in ({}, {"agentName": "agent1"}, {"tag": "t2"}):
            for mode in ("semantic", "hybrid"):
                params = {"q": q, "mode": mode, "limit": 7, **f}
                a = threaded.get("/api/documents/search", params=params)
                b = inline.get("/api/documents/search", params=params)
                assert a.headers["X-Search-Path"] == "cache" == b.headers["X-Search-Path"]
                same(expect(a, 200), expect(b, 200))
    for doc_id in (1, 5, 17):
        a = threaded.get(f"/api/documents/{doc_id}/similar", params={"limit": 9})
        b = inline.get(f"/api/documents/{doc_id}/similar", params={"limit": 9})
        assert a.headers["X-Search-Path"] == "cache"
        same(expect(a, 200), expect(b, 200))
