"""The event log as a live stream (GET /api/events/stream, Server-Sent Events) and a listing
(GET /api/events): events posted and written by job lifecycles arrive in order, filters
select them, a client that reconnects with Last-Event-ID misses nothing and sees nothing
twice (also across gateways and a gateway restart), an id past the retention gets reset,
a client that never reads is cut off with overflow while others keep up, and every refusal
is a 4xx or 503 with a JSON error."""

import json
import socket
import threading
import time

import psycopg2
import pytest

from fsutil import expect, expect_error

AGENT = "code_analyzer"


class SSE:
    """A raw-socket SSE client: it reads only when asked (so a test can make it slow) and
    parses the chunked body into events {id, event, data} and comments."""

    def __init__(self, gw, query="", last_id=None, key=None, rcvbuf=None, path="/api/events/stream"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", gw.port))
        key = gw.key if key is None else key
        head = f"GET {path}{'?' + query if query else ''} HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n"
        if key:
            head += f"Authorization: Bearer {key}\r\n"
        if last_id is not None:
            head += f"Last-Event-ID: {last_id}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        self.raw = b""
        self.body = b""  # de-chunked, not yet parsed
        self.closed = False
        self.ended = False  # the terminating chunk arrived
        self.comments = []
        self.status, self.headers = self._read_head()

    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.raw += data
        return True

    def _read_head(self):
        while b"\r\n\r\n" not in self.raw:
            if not self._recv(30):
                raise AssertionError(f"no response head: {self.raw!r}")
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        if headers.get("transfer-encoding") != "chunked":
            length = int(headers.get("content-length", "0"))
            while len(self.raw) < length and self._recv(30):
                pass
            self.json = json.loads(self.raw[:length] or b"null")
        return status, headers

    def _dechunk(self):
        while True:
            if b"\r\n" not in self.raw:
                return
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            if size == 0:
                self.ended = True
                self.raw = b""
                return
            self.body += rest[:size]
            self.raw = rest[size + 2:]

    def _parse_one(self):
        """The next complete event (dict) or None; comments are collected on the way."""
        while b"\n\n" in self.body:
            block, self.body = self.body.split(b"\n\n", 1)
            ev = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                k, _, v = line.partition(":")
                ev[k] = v[1:] if v.startswith(" ") else v
            if ev:
                if "data" in ev:
                    ev["json"] = json.loads(ev["data"])
                return ev
        return None

    def next(self, timeout=30):
        """The next event, or None when the stream ended or nothing came within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self._dechunk()
            ev = self._parse_one()
            if ev is not None:
                return ev
            if self.ended or self.closed:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._recv(min(left, 1.0))

    def collect(self, n, timeout=30, types=None):
        """The next n events (of the given types when set); fails when fewer come."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            ev = self.next(max(0.1, deadline - time.monotonic()))
            assert ev is not None, f"only {len(got)} of {n} events: {got}"
            if types is None or ev.get("event") in types:
                got.append(ev)
        return got

    def quiet(self, seconds):
        """The events that arrive within seconds (to check that nothing more comes)."""
        got = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ev = self.next(max(0.05, deadline - time.monotonic()))
            if ev is not None:
                got.append(ev)
            elif self.ended or self.closed:
                break
        return got

    def close(self):
        self.sock.close()


def post_event(gw, type_="test.ping", **fields):
    return expect(gw.post("/api/events", json={"type": type_, **fields}), 201)


def opened(gw, n=1, timeout=30):
    """Waits until the gateway's log shows n event streams opened since the test began."""
    deadline = time.monotonic() + timeout
    while gw.log_path.read_text().count('msg="event stream opened"') < n:
        assert time.monotonic() < deadline, gw.log_tail()
        time.sleep(0.02)


def live(gw, client, timeout=30):
    """Posts a marker event until client sees one, so the client is surely on the live feed;
    returns the marker's id (the events before it are drained)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = post_event(gw, "test.marker")
        for ev in client.quiet(0.5):
            if ev.get("event") == "test.marker" and int(ev["id"]) >= m["id"]:
                return m["id"]
    raise AssertionError("the stream never went live")


@pytest.fixture
def gw(gateway_factory):
    return gateway_factory(env={"FLOWSTATE_EVENT_HEARTBEAT": "1"})


def test_posted_event_arrives_with_id_type_and_json(gw):
    c = SSE(gw)
    try:
        assert c.status == 200
        assert c.headers["content-type"] == "text/event-stream"
        assert c.headers["cache-control"] == "no-cache"
        live(gw, c)
        e = post_event(gw, "test.hello", severity="warning", agentName=AGENT, data={"n": 1})
        ev = c.collect(1, types={"test.hello"})[0]
        assert ev["id"] == str(e["id"])
        assert ev["json"] == e
        assert ev["json"]["data"] == {"n": 1}
    finally:
        c.close()


def claim(db, job_id, worker="w-1"):
    """Claims job_id as a worker does (retrying while its backoff runs); returns the attempt."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = db.query("SELECT * FROM fs_jobs_claim(%s, 1, %s, 30)", (AGENT, worker))
        if rows:
            assert rows[0]["id"] == job_id
            return rows[0]["attempt"]
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never became claimable")


def test_a_jobs_lifecycle_events_arrive_in_order(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_RETRY_BASE_MS": "1", "FLOWSTATE_RETRY_MAX_MS": "1"})
    c = SSE(gw, "channel=agent-tasks")
    try:
        live(gw, SSE(gw))  # the shared reader is running
        job = expect(gw.post("/api/jobs", json={"targetAgent": AGENT, "payload": {}, "maxAttempts": 2}), 201)
        expect(gw.post(f"/api/jobs/{job['id']}/fail", json={"attempt": claim(db, job["id"]), "error": "one"}), 200)
        expect(gw.post(f"/api/jobs/{job['id']}/fail", json={"attempt": claim(db, job["id"]), "error": "two"}), 200)
        expect(gw.post(f"/api/jobs/{job['id']}/retry"), 200)
        expect(gw.post(f"/api/jobs/{job['id']}/cancel"), 200)
        got = c.collect(4)
        assert [e["event"] for e in got] == ["job.retry", "job.dead", "job.requeued", "job.cancelled"]
        assert all(e["json"]["jobId"] == job["id"] for e in got)
        assert got[0]["json"]["data"]["error"] == "one" and got[1]["json"]["severity"] == "error"
        stored = [r["id"] for r in db.query("SELECT id FROM events WHERE job_id = %s ORDER BY id", (job["id"],))]
        assert [int(e["id"]) for e in got] == stored
        assert c.quiet(0.5) == [], "agent-tasks carries job events only"
    finally:
        c.close()


def test_filters_select_by_channel_type_agent_job_run_and_conversation(gw, db):
    job = expect(gw.post("/api/jobs", json={"targetAgent": AGENT, "payload": {}}), 201)
    clients = {
        "status": SSE(gw, "channel=agent-status"),
        "health": SSE(gw, "channel=system-health"),
        "metrics": SSE(gw, "channel=agent-metrics"),
        "updates": SSE(gw, "channel=agent-updates"),
        "agent": SSE(gw, f"channel=agent-{AGENT}"),
        "agent_param": SSE(gw, f"agent={AGENT}&type=test.*"),
        "types": SSE(gw, "type=test.a,test.b*"),
        "job": SSE(gw, f"jobId={job['id']}"),
        "run": SSE(gw, "runId=77"),
        "conversation": SSE(gw, "conversationId=c-1"),
        "both": SSE(gw, f"channel=agent-status,agent-{AGENT}"),
        "everything": SSE(gw),
    }
    try:
        opened(gw, len(clients))
        posted = [
            post_event(gw, "agent.started", agentName=AGENT),
            post_event(gw, "agent.busy", agentName="other"),
            post_event(gw, "health.updated"),
            post_event(gw, "alert", severity="critical"),
            post_event(gw, "metrics.updated"),
            post_event(gw, "message.sent", agentName="other"),
            post_event(gw, "test.a", agentName=AGENT),
            post_event(gw, "test.bee"),
            post_event(gw, "test.c", jobId=job["id"]),
            post_event(gw, "workflow.step", data={"runId": 77}),
            post_event(gw, "message.sent", data={"conversationId": "c-1"}),
        ]
        last = post_event(gw, "test.end", agentName=AGENT, jobId=job["id"], data={"runId": 77, "conversationId": "c-1"})
        want = {
            "status": ["agent.started", "agent.busy"],
            "health": ["health.updated", "alert"],
            "metrics": ["metrics.updated"],
            "updates": ["agent.started", "agent.busy", "message.sent", "message.sent"],
            "agent": ["agent.started", "test.a", "test.end"],
            "agent_param": ["test.a", "test.end"],
            "types": ["test.a", "test.bee"],
            "job": ["test.c", "test.end"],
            "run": ["workflow.step", "test.end"],
            "conversation": ["message.sent", "test.end"],
            "both": ["agent.started"],
            "everything": [p["type"] for p in posted] + ["test.end"],
        }
        for name, c in clients.items():
            got = []
            while True:
                ev = c.next(30)
                assert ev is not None, f"{name}: stream ended after {got}"
                got.append(ev["event"])
                if int(ev["id"]) >= last["id"] or len(got) > 20:
                    break
                if got == want[name] and name in ("both", "types", "status", "health", "metrics", "updates"):
                    break
            assert got == want[name], name
    finally:
        for c in clients.values():
            c.close()


def test_resume_after_a_disconnect_has_no_gap_and_no_duplicate(gw, db):
    c = SSE(gw)
    live(gw, c)
    first = [post_event(gw, "test.r", data={"i": i}) for i in range(3)]
    got = c.collect(3)
    assert [int(e["id"]) for e in got] == [e["id"] for e in first]
    c.close()
    missed = [post_event(gw, "test.r", data={"i": i}) for i in range(3, 6)]
    # More than one backlog page (200), written by one statement.
    db.execute("INSERT INTO events (type, data) SELECT 'test.bulk', jsonb_build_object('i', i)"
               " FROM generate_series(1, 450) i")
    bulk = [r["id"] for r in db.query("SELECT id FROM events WHERE type = 'test.bulk' ORDER BY id")]
    c2 = SSE(gw, last_id=got[-1]["id"])
    try:
        assert c2.status == 200
        back = c2.collect(3 + 450)
        assert [int(e["id"]) for e in back] == [e["id"] for e in missed] + bulk
        after = post_event(gw, "test.r", data={"i": 6})
        nxt = c2.collect(1)[0]
        assert int(nxt["id"]) == after["id"], "the resumed stream joins the live feed"
        assert c2.quiet(0.5) == []
        assert "reset" not in [e["event"] for e in back]
    finally:
        c2.close()


def test_query_parameter_last_event_id_resumes_too(gw):
    a = post_event(gw, "test.q1")
    b = post_event(gw, "test.q2")
    c = SSE(gw, f"lastEventId={a['id']}")
    try:
        ev = c.collect(1)[0]
        assert int(ev["id"]) == b["id"]
    finally:
        c.close()


def test_an_event_committed_late_with_a_smaller_id_is_not_skipped(gw, db):
    """A transaction that took id X and commits after id X+1 was delivered: the stream holds
    X+1 back until X's transaction ends, so a reader never passes over X."""
    c = SSE(gw)
    live(gw, c)
    slow = psycopg2.connect(gw.db_url)
    try:
        cur = slow.cursor()
        cur.execute("INSERT INTO events (type) VALUES ('test.slow') RETURNING id")
        slow_id = cur.fetchone()[0]
        fast = post_event(gw, "test.fast")
        assert fast["id"] > slow_id
        held = c.quiet(1.0)
        assert held == [], f"an event passed a transaction still open below it: {held}"
        slow.commit()
        got = c.collect(2)
        assert [e["event"] for e in got] == ["test.slow", "test.fast"]
        c.close()
        # Resuming from the first one gives the second, and nothing else.
        c2 = SSE(gw, last_id=got[0]["id"])
        assert [e["event"] for e in c2.collect(1)] == ["test.fast"]
        c2.close()
    finally:
        slow.close()


def test_an_id_past_the_retention_or_unknown_gets_reset_then_live_events(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_EVENT_RETENTION": "1"})
    old = post_event(gw, "test.old")
    db.execute("UPDATE events SET created_at = now() - interval '1 minute' WHERE id = %s", (old["id"],))
    for last_id in (old["id"], 999999999):
        c = SSE(gw, last_id=last_id)
        try:
            assert c.status == 200
            ev = c.next(30)
            assert ev["event"] == "reset", ev
            assert "re-read" in ev["json"]["reason"]
            newer = post_event(gw, "test.new")
            got = c.collect(1, types={"test.new"})
            assert int(got[0]["id"]) == newer["id"]
            assert "id" not in ev and ev["json"]["lastEventId"] == str(last_id)
            # The events after it resume normally.
            c.close()
            c2 = SSE(gw, last_id=got[0]["id"])
            later = post_event(gw, "test.later")
            assert [int(e["id"]) for e in c2.collect(1)] == [later["id"]]
            c2.close()
        finally:
            c.close()


def test_an_event_through_one_gateway_reaches_the_stream_of_another(gateway_factory, db):
    a = gateway_factory()
    b = gateway_factory()
    c = SSE(b)
    try:
        live(b, c)
        e = post_event(a, "test.cross", data={"from": "a"})
        got = c.collect(1, types={"test.cross"})
        assert int(got[0]["id"]) == e["id"]
        assert got[0]["json"]["data"] == {"from": "a"}
    finally:
        c.close()


def test_a_reader_that_never_reads_is_cut_off_with_overflow_while_a_fast_one_keeps_up(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_EVENT_BUFFER_MAX": "65536"})
    slow = SSE(gw, "type=test.big", rcvbuf=4096)
    fast = SSE(gw, "type=test.big")
    fast_got, stop = [], threading.Event()

    def read_fast():  # reads all the time, as a client that keeps up does
        while not stop.is_set():
            ev = fast.next(0.2)
            if ev is not None:
                fast_got.append(ev)

    reader = threading.Thread(target=read_fast)
    try:
        probe = SSE(gw)
        live(gw, probe)
        probe.close()
        reader.start()
        batches = 0
        while 'reason=overflow' not in gw.log_path.read_text():
            batches += 1
            assert batches <= 40, "the slow reader was never cut off"
            db.execute("INSERT INTO events (type, data) SELECT 'test.big', jsonb_build_object('i', i, 'pad', repeat('x', 4000))"
                       " FROM generate_series(1, 200) i")
            deadline = time.monotonic() + 60  # the fast reader gets each batch before the next
            while len(fast_got) < 200 * batches and time.monotonic() < deadline:
                time.sleep(0.05)
        total = db.scalar("SELECT count(*) FROM events WHERE type = 'test.big'")
        stop.set()
        reader.join()
        assert len(fast_got) == total, "the fast reader fell behind or was cut off"
        assert gw.log_path.read_text().count("reason=overflow") == 1, "only the slow reader is cut off"
        ids = [int(e["id"]) for e in fast_got]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        # The slow reader finds, after what it was sent, a final overflow event, then the end.
        evs = []
        while True:
            ev = slow.next(30)
            if ev is None:
                break
            evs.append(ev)
        assert evs and evs[-1]["event"] == "overflow", evs[-3:]
        assert slow.ended or slow.closed
        last = evs[-1]["json"]["lastEventId"]
        delivered = [int(e["id"]) for e in evs[:-1]]
        assert int(last) == (delivered[-1] if delivered else 0)
        # It resumes from there and gets the rest, exactly once.
        again = SSE(gw, "type=test.big", last_id=last) if int(last) else None
        if again:
            rest = again.collect(total - len(delivered))
            assert delivered + [int(e["id"]) for e in rest] == ids
            again.close()
        gw.assert_healthy()
    finally:
        stop.set()
        if reader.is_alive():
            reader.join()
        slow.close()
        fast.close()


def test_two_hundred_subscribers_each_receive_an_event(gw):
    clients = [SSE(gw, "type=test.fan") for _ in range(220)]
    try:
        opened(gw, 220)
        probe = SSE(gw)
        live(gw, probe)
        probe.close()
        e = post_event(gw, "test.fan")
        for c in clients:
            got = c.collect(1)
            assert int(got[0]["id"]) == e["id"]
    finally:
        for c in clients:
            c.close()


def test_clients_resume_across_a_gateway_restart_with_nothing_missed(gateway_factory, db):
    gw = gateway_factory()
    clients = [SSE(gw, "type=test.rs") for _ in range(5)]
    seen = [[] for _ in clients]
    live(gw, SSE(gw))
    before = [post_event(gw, "test.rs", data={"i": i})["id"] for i in range(3)]
    for c, s in zip(clients, seen):
        s += [int(e["id"]) for e in c.collect(3)]
    gw.stop()
    for c in clients:
        assert c.next(30) is None, "the stream ends when the gateway stops"
        c.close()
    db.execute("INSERT INTO events (type) SELECT 'test.rs' FROM generate_series(1, 7)")
    gw2 = gateway_factory()
    again = [SSE(gw2, "type=test.rs", last_id=s[-1]) for s in seen]
    try:
        after = post_event(gw2, "test.rs")["id"]
        want = [r["id"] for r in db.query("SELECT id FROM events WHERE type = 'test.rs' ORDER BY id")]
        assert want[-1] == after
        for c, s in zip(again, seen):
            s += [int(e["id"]) for e in c.collect(len(want) - 3)]
            assert s == want
            assert s[:3] == before
    finally:
        for c in again:
            c.close()


def test_heartbeats_are_comments(gw):
    c = SSE(gw)
    try:
        deadline = time.monotonic() + 30
        while "keep-alive" not in c.comments:
            assert time.monotonic() < deadline, c.comments
            c.quiet(0.5)
    finally:
        c.close()


@pytest.mark.parametrize(
    "query,field",
    [
        ("channel=nope", "channel"),
        ("channel=agent-status,", "channel"),
        ("channel=agent-", "channel"),
        ("channel=agent-a,agent-b", "channel"),
        ("type=", "type"),
        ("type=a*b", "type"),
        ("type=bad%20type", "type"),
        ("type=" + ",".join(f"t{i}" for i in range(17)), "type"),
        ("agent=bad%20name", "agent"),
        ("jobId=0", "jobId"),
        ("jobId=x", "jobId"),
        ("jobId=-3", "jobId"),
        ("runId=", "runId"),
        ("conversationId=" + "x" * 129, "conversationId"),
        ("lastEventId=abc", "lastEventId"),
        ("lastEventId=0", "lastEventId"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(gw, query, field):
    expect_error(gw.get(f"/api/events/stream?{query}"), 400, "invalid_field", field)
    if field != "lastEventId":
        expect_error(gw.get(f"/api/events?{query}"), 400, "invalid_field", field)


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "99999999999999999999"])
def test_a_bad_last_event_id_header_is_400(gw, value):
    expect_error(gw.get("/api/events/stream", headers={"Last-Event-ID": value}), 400, "invalid_field", "Last-Event-ID")


def test_subscribers_over_the_gateways_or_a_keys_limit_are_refused(gateway_factory):
    gw = gateway_factory(env={"FLOWSTATE_EVENT_SUBSCRIBERS_MAX": "3", "FLOWSTATE_EVENT_SUBSCRIBERS_PER_KEY": "2"})
    viewer = gw.create_key("viewer")
    held = [SSE(gw), SSE(gw)]
    try:
        opened(gw, 2)
        r = gw.get("/api/events/stream")
        expect_error(r, 429, "too_many_requests")
        assert r.headers["Retry-After"] == "1"
        held.append(SSE(gw, key=viewer))
        assert held[-1].status == 200
        opened(gw, 3)
        r = gw.get("/api/events/stream", auth=gw.create_key("operator"))
        expect_error(r, 503, "unavailable")
        assert "3 subscribers" in r.json()["error"]["message"]
        held.pop().close()
        # Once one leaves, a new one is served.
        deadline = time.monotonic() + 30
        while True:
            c = SSE(gw, key=viewer)
            if c.status == 200:
                c.close()
                break
            c.close()
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        for c in held:
            c.close()


def test_the_stream_needs_a_key_and_a_viewer_may_read(gw):
    expect_error(gw.get("/api/events/stream", auth=None), 401, "unauthorized")
    expect_error(gw.get("/api/events", auth=None), 401, "unauthorized")
    c = SSE(gw, key=gw.create_key("viewer"))
    assert c.status == 200
    c.close()


def test_listing_filters_and_pages_newest_first(gw, db):
    ids = [post_event(gw, "test.l", agentName=AGENT if i % 2 else None, data={"i": i})["id"] for i in range(7)]
    post_event(gw, "other.x")
    page = expect(gw.get("/api/events?type=test.l&limit=3"), 200)
    assert [e["id"] for e in page["events"]] == ids[::-1][:3]
    assert page["nextCursor"] == str(ids[4])
    rest = expect(gw.get(f"/api/events?type=test.l&limit=10&cursor={page['nextCursor']}"), 200)
    assert [e["id"] for e in rest["events"]] == ids[::-1][3:]
    assert rest["nextCursor"] is None
    mine = expect(gw.get(f"/api/events?type=test.*&agent={AGENT}"), 200)
    assert [e["id"] for e in mine["events"]] == [i for n, i in enumerate(ids) if n % 2][::-1]
    assert mine["events"][0]["data"] == {"i": 5}
    expect_error(gw.get("/api/events?cursor=x"), 400, "invalid_field", "cursor")
    expect_error(gw.get("/api/events?limit=0"), 400, "invalid_field", "limit")
    chan = expect(gw.get("/api/events?channel=agent-tasks"), 200)
    assert chan["events"] == []


def test_event_retention_longer_than_the_sweepers_retention_stops_start_up(gateway_bin, test_db, tmp_path):
    from fsutil import child_env, popen_gateway, free_port

    env = child_env({"DATABASE_URL": test_db, "PORT": free_port(), "FLOWSTATE_HOST": "127.0.0.1",
                     "FLOWSTATE_RETENTION": "100", "FLOWSTATE_EVENT_RETENTION": "600"})
    log = tmp_path / "gw.log"
    with open(log, "wb") as f:
        proc = popen_gateway([], env, stdout=f, stderr=f)
    assert proc.wait(timeout=30) != 0
    assert "event-retention must not exceed retention" in log.read_text()


def test_events_held_back_by_an_open_transaction_arrive_when_it_ends_without_a_notify(gateway_factory, db):
    """A transaction that has an xid but writes no event holds the snapshot's xmin back: an
    event committed after it began waits, and the reader reads again by itself (not on its
    hour-long fallback poll) once the transaction ends, which sends no NOTIFY."""
    gw = gateway_factory(env={"FLOWSTATE_EVENT_POLL_MS": "600000"})
    c = SSE(gw)
    live(gw, c)
    blocker = psycopg2.connect(gw.db_url)
    try:
        cur = blocker.cursor()
        cur.execute("SELECT pg_current_xact_id()")
        e = post_event(gw, "test.held")
        assert c.quiet(1.0) == [], "delivered while an older transaction was open"
        blocker.rollback()
        got = c.collect(1)
        assert int(got[0]["id"]) == e["id"]
    finally:
        blocker.close()
        c.close()


def test_what_a_streaming_client_sends_is_not_read_without_bound(gw):
    """The gateway does not read a connection while it streams to it, so bytes a client sends
    meanwhile stay in the kernel's buffers rather than pile up in the gateway."""
    c = SSE(gw)
    try:
        live(gw, c)
        c.sock.setblocking(False)
        sent, stalls, block = 0, 0, b"x" * 65536
        while sent < 64 << 20 and stalls < 6:
            try:
                sent += c.sock.send(block)
            except BlockingIOError:
                stalls += 1
                time.sleep(0.25)
        assert sent < 32 << 20, f"the gateway read {sent} bytes from a streaming client"
        c.sock.setblocking(True)
        e = post_event(gw, "test.after_junk")
        assert int(c.collect(1, types={"test.after_junk"})[0]["id"]) == e["id"]
        gw.assert_healthy()
    finally:
        c.close()


@pytest.fixture
def own_cluster(gateway_bin):
    from fsutil import Cluster, run_cli

    c = Cluster.create(prefix="fs-pg-events-")
    try:
        p = run_cli(["--migrate"], {"DATABASE_URL": c.url})
        assert p.returncode == 0, f"--migrate failed: {p.stderr}"
        yield c
    finally:
        c.destroy()


def test_streams_survive_a_postgresql_restart_with_nothing_missed(own_cluster, gateway_factory):
    gw = gateway_factory(db_url=own_cluster.url, env={"FLOWSTATE_EVENT_HEARTBEAT": "1"})
    c = SSE(gw)
    try:
        live(gw, c)
        before = post_event(gw, "test.pg1")
        assert int(c.collect(1)[0]["id"]) == before["id"]
        own_cluster.stop()
        assert c.quiet(1.5) == [], "no events while the database is down"
        assert "keep-alive" in c.comments and not (c.ended or c.closed), "the stream stays open"
        own_cluster.start()
        deadline = time.monotonic() + 60
        while gw.get("/ready", auth=None).status_code != 200:
            assert time.monotonic() < deadline, gw.log_tail()
            time.sleep(0.1)
        after = [post_event(gw, "test.pg2", data={"i": i}) for i in range(3)]
        got = c.collect(3)
        assert [int(e["id"]) for e in got] == [e["id"] for e in after]
        assert c.quiet(0.5) == []
    finally:
        c.close()
