"""The response budget: list pages of large rows end early with a cursor, so no answer the
gateway holds exceeds FLOWSTATE_RESPONSE_BUDGET (a row larger than the budget still comes, alone);
following nextCursor returns every row exactly once. Four concurrent GET /api/jobs/pending?limit=300
over jobs of 1 MB keep the gateway's peak memory under 100 MB."""

import http.client
import json
import threading

import pytest

import stack
from fsutil import expect

AGENT = "budget_agent"
MB = 1 << 20


def insert_big_jobs(db, n, size, agent=AGENT):
    db.execute("INSERT INTO job_queue (target_agent, payload)"
               " SELECT %s, jsonb_build_object('n', g, 'blob', repeat('x', %s))"
               " FROM generate_series(1, %s) g", (agent, size, n))
    return [r["id"] for r in db.query("SELECT id FROM job_queue WHERE target_agent = %s ORDER BY id", (agent,))]


def pages(gw, path, key, params=""):
    """Follows nextCursor from the first page; returns the pages' items and raw sizes."""
    items, sizes, cursor = [], [], None
    while True:
        sep = "&" if params else ""
        url = f"{path}?{params}{sep}cursor={cursor}" if cursor else f"{path}?{params}"
        r = gw.get(url)
        assert r.status_code == 200, r.text
        sizes.append(len(r.content))
        body = r.json()
        assert body[key], f"an empty page before the end: {url}"
        items.extend(body[key])
        cursor = body["nextCursor"]
        if cursor is None:
            return items, sizes


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_four_pending_lists_of_1mb_jobs_stay_small(gateway_factory, db):
    gw = gateway_factory()
    ids = insert_big_jobs(db, 300, MB)
    results, errors = [], []

    def fetch():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=120)
            conn.request("GET", "/api/jobs/pending?limit=300", headers={"Authorization": f"Bearer {gw.key}"})
            resp = conn.getresponse()
            chunks = []
            while True:  # read slowly, in small pieces
                chunk = resp.read(64 * 1024)
                if not chunk:
                    break
                chunks.append(chunk)
            results.append((resp.status, b"".join(chunks)))
            conn.close()
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for status, raw in results:
        assert status == 200
        assert len(raw) <= 4 * MB + 4096, len(raw)  # the default budget, 4 MiB, and the envelope
        page = json.loads(raw)
        assert 1 <= len(page["jobs"]) < 300 and page["nextCursor"] is not None
    if not stack.SANITIZED:  # ASan's quarantine keeps freed memory on purpose
        assert vm(gw.proc.pid, "VmHWM") < 100 * MB, f"peak {vm(gw.proc.pid, 'VmHWM') / MB:.0f} MB"
    items, sizes = pages(gw, "/api/jobs/pending", "jobs", "limit=300")
    assert sorted(j["id"] for j in items) == ids
    assert len({j["id"] for j in items}) == len(ids)
    assert max(sizes) <= 4 * MB + 4096
    if not stack.SANITIZED:
        assert vm(gw.proc.pid, "VmHWM") < 100 * MB, f"peak {vm(gw.proc.pid, 'VmHWM') / MB:.0f} MB"


@pytest.mark.parametrize("path,key,params", [
    ("/api/jobs/pending", "jobs", "limit=1000"),
    (f"/api/jobs/agent/{AGENT}", "jobs", "limit=1000"),
    ("/api/jobs", "jobs", "limit=500"),
    ("/api/jobs", "jobs", f"limit=500&status=failed&agent={AGENT}"),
])
def test_job_lists_cut_to_the_budget_visit_every_job_once(gateway_factory, db, path, key, params):
    gw = gateway_factory(env={"FLOWSTATE_RESPONSE_BUDGET": "65536"})
    ids = insert_big_jobs(db, 40, 20000)
    if "failed" in params:
        db.execute("UPDATE job_queue SET status = 'failed', processed_at = now() WHERE target_agent = %s", (AGENT,))
    items, sizes = pages(gw, path, key, params)
    assert sorted(j["id"] for j in items) == ids and len(items) == len(ids)
    assert max(sizes) <= 65536 + 1024, sizes
    assert len(sizes) >= 13  # three 20 kB jobs a page at most


def test_a_row_larger_than_the_budget_comes_alone(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_RESPONSE_BUDGET": "65536"})
    small = insert_big_jobs(db, 2, 10, agent="small_first")
    big = insert_big_jobs(db, 2, 100000)
    items, sizes = pages(gw, "/api/jobs/pending", "jobs", "limit=100")
    assert [j["id"] for j in items] == small + big
    assert len(sizes) == 3  # the two small ones together, then each big one alone
    assert sizes[1] > 100000 and sizes[2] > 100000


def test_messages_and_documents_cut_to_the_budget(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_RESPONSE_BUDGET": "65536"})
    for i in range(12):
        expect(gw.post("/agents/message", json={"from_agent": "a", "to_agent": AGENT,
                                                 "message": f"{i}" + "m" * 20000}), 201)
        expect(gw.post("/api/documents", json={"content": f"{i} " + "d" * 20000, "agentName": AGENT}), 201)
    messages, sizes = pages(gw, f"/api/agents/{AGENT}/messages", "messages", "limit=500")
    assert len(messages) == 12 and len({m["message_id"] for m in messages}) == 12
    assert max(sizes) <= 65536 + 1024 and len(sizes) >= 4
    docs, sizes = pages(gw, "/api/documents", "documents", f"limit=100&agentName={AGENT}")
    assert len(docs) == 12 and len({d["id"] for d in docs}) == 12
    assert max(sizes) <= 65536 + 1024 and len(sizes) >= 4


def test_agents_list_cut_to_the_budget_and_paged_by_name(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_RESPONSE_BUDGET": "65536"})
    names = [f"big_agent_{i:02d}" for i in range(12)]
    for name in reversed(names):
        expect(gw.post("/api/agents/register", json={"agentName": name, "initialState": {"notes": "s" * 20000}}), 201)
    agents, sizes = pages(gw, "/api/agents", "agents")
    assert [a["agentName"] for a in agents] == names
    assert max(sizes) <= 65536 + 1024 and len(sizes) >= 4
    # A limit pages too; the cursor is the last name of the page.
    small, _ = pages(gw, "/api/agents", "agents", "limit=5")
    assert len(small) == 12
    first = gw.get("/api/agents?limit=5").json()
    assert 1 <= len(first["agents"]) <= 5 and first["nextCursor"] == first["agents"][-1]["agentName"]
    for bad in ("limit=0", "limit=1001", "cursor=" + "x" * 300):
        r = gw.get(f"/api/agents?{bad}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_field", (bad, r.text)
