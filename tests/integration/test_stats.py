"""GET /api/stats/jobs against hand-inserted job rows with known timestamps: exact counts,
failure rates, retries, throughput, queue-wait and run-time percentiles (percentile_cont),
grouped errors with digits normalised; the window and agent filters; bad parameters."""

import pytest

from fsutil import expect

# (agent, taskType, status, attempts, created seconds ago, wait ms, run ms, last_error)
ROWS = [
    ("dp", "validate_data", "completed", 1, 600, 1000, 100, None),
    ("dp", "validate_data", "completed", 2, 600, 2000, 200, "timeout 3"),  # retried, then fine
    ("dp", "validate_data", "completed", 1, 600, 3000, 300, None),
    ("dp", "validate_data", "failed", 3, 600, 100, 10, "row 17 is bad"),
    ("dp", "validate_data", "failed", 1, 600, 100, 10, "row 42 is bad"),
    ("dp", "validate_data", "pending", 0, 60, None, None, None),
    ("dp", "validate_data", "running", 1, 60, 10, None, None),
    ("dp", "validate_data", "cancelled", 0, 60, None, None, None),
    ("dp", "transform_data", "failed", 1, 300, 100, 10, "unknown op 'x' at step 2"),
    ("ca", "analyze_code", "completed", 1, 300, 500, 50, None),
    ("ca", "analyze_code", "completed", 1, 7200, 400, 40, None),  # outside a one-hour window
]


def insert(db, rows=ROWS):
    for agent, task, status, attempts, ago, wait, run, err in rows:
        db.execute(
            "INSERT INTO job_queue (target_agent, payload, status, attempts, created_at, run_at, started_at,"
            " processed_at, last_error)"
            " SELECT %(a)s, jsonb_build_object('taskType', %(t)s::text), %(s)s, %(n)s, c, c,"
            "   c + make_interval(secs => %(w)s::float8 / 1000.0),"
            "   CASE WHEN %(s)s IN ('completed', 'failed') THEN c + make_interval(secs => (%(w)s::float8 + %(r)s::float8) / 1000.0) END,"
            "   %(e)s"
            " FROM (SELECT now() - make_interval(secs => %(ago)s) AS c) x",
            {"a": agent, "t": task, "s": status, "n": attempts, "ago": ago, "w": wait, "r": run, "e": err})


def group(stats, key, agent, task=None):
    for g in stats[key]:
        if g["agent"] == agent and (task is None or g["taskType"] == task):
            return g
    raise AssertionError(f"no {key} group {agent}/{task} in {stats}")


def test_stats_exact_numbers(gateway, db):
    insert(db)
    s = expect(gateway.get("/api/stats/jobs"), 200)
    assert s["windowSeconds"] == 3600 and s["agent"] is None and s["since"] and s["generatedAt"], s

    v = group(s, "byTask", "dp", "validate_data")
    assert v["total"] == 8 and v["finished"] == 5, v
    assert v["counts"] == {"pending": 1, "running": 1, "completed": 3, "failed": 2, "cancelled": 1}, v
    assert v["failureRate"] == 0.4 and v["retries"] == 3, v
    assert v["throughputPerMin"] == round(5 * 60 / 3600, 4), v
    assert v["queueWaitMs"] == {"p50": 2000, "p90": 2800, "p99": 2980}, v
    assert v["runTimeMs"] == {"p50": 200, "p90": 280, "p99": 298}, v
    assert v["topErrors"] == [{"error": "row N is bad", "count": 2}], v

    t = group(s, "byTask", "dp", "transform_data")
    assert t["failureRate"] == 1 and t["queueWaitMs"] == {"p50": None, "p90": None, "p99": None}, t
    assert t["topErrors"] == [{"error": "unknown op 'x' at step N", "count": 1}], t

    dp = group(s, "byAgent", "dp")
    assert dp["taskType"] is None and dp["total"] == 9 and dp["finished"] == 6, dp
    assert dp["failureRate"] == 0.5 and dp["retries"] == 3, dp
    assert dp["topErrors"] == [{"error": "row N is bad", "count": 2},
                               {"error": "unknown op 'x' at step N", "count": 1}], dp

    o = s["overall"]
    assert o["agent"] is None and o["total"] == 10 and o["finished"] == 7, o
    assert o["failureRate"] == round(3 / 7, 4), o
    # completed queue waits 500, 1000, 2000, 3000 ms; run times 50, 100, 200, 300 ms
    assert o["queueWaitMs"] == {"p50": 1500, "p90": 2700, "p99": 2970}, o
    assert o["runTimeMs"] == {"p50": 150, "p90": 270, "p99": 297}, o
    assert [g["taskType"] for g in s["byTask"]] == ["analyze_code", "transform_data", "validate_data"], s
    assert [g["agent"] for g in s["byAgent"]] == ["ca", "dp"], s


def test_stats_window_and_agent(gateway, db):
    insert(db)
    wide = expect(gateway.get("/api/stats/jobs?window=10800&agent=ca"), 200)
    assert wide["agent"] == "ca" and wide["windowSeconds"] == 10800, wide
    ca = group(wide, "byTask", "ca", "analyze_code")
    assert ca["total"] == 2 and ca["queueWaitMs"]["p50"] == 450 and ca["runTimeMs"]["p50"] == 45, ca
    assert [g["agent"] for g in wide["byAgent"]] == ["ca"] and wide["overall"]["total"] == 2, wide
    assert wide["overall"]["throughputPerMin"] == round(2 * 60 / 10800, 4), wide

    narrow = expect(gateway.get("/api/stats/jobs?window=120"), 200)  # only the three recent dp jobs
    assert narrow["overall"]["total"] == 3 and narrow["overall"]["finished"] == 0, narrow
    assert narrow["overall"]["failureRate"] == 0 and narrow["overall"]["throughputPerMin"] == 0, narrow

    none = expect(gateway.get("/api/stats/jobs?agent=nobody"), 200)
    assert none["overall"]["total"] == 0 and none["byAgent"] == [] and none["byTask"] == [], none
    assert none["overall"]["topErrors"] == [] and none["overall"]["runTimeMs"]["p99"] is None, none


def test_stats_queue_wait_starts_at_run_at(gateway, db):
    # Created 10 minutes ago to run 5 minutes later, started 250 ms after that: it waited
    # 250 ms for a worker, not 5 minutes.
    db.execute("INSERT INTO job_queue (target_agent, payload, status, attempts, created_at, run_at, started_at,"
               " processed_at) SELECT 'later', '{\"taskType\":\"t\"}', 'completed', 1, c,"
               " c + interval '5 minutes', c + interval '5 minutes 250 milliseconds',"
               " c + interval '5 minutes 300 milliseconds' FROM (SELECT now() - interval '10 minutes' AS c) x")
    o = expect(gateway.get("/api/stats/jobs?agent=later"), 200)["overall"]
    assert o["queueWaitMs"] == {"p50": 250, "p90": 250, "p99": 250} and o["runTimeMs"]["p50"] == 50, o


def test_stats_finished_recently_counts_even_if_created_long_ago(gateway, db):
    db.execute("INSERT INTO job_queue (target_agent, payload, status, attempts, created_at, started_at, processed_at)"
               " VALUES ('old', '{\"taskType\":\"t\"}', 'completed', 1, now() - interval '3 days',"
               " now() - interval '2 minutes', now() - interval '1 minute')")
    s = expect(gateway.get("/api/stats/jobs?agent=old"), 200)
    assert s["overall"]["total"] == 1 and s["overall"]["runTimeMs"]["p50"] == 60000, s


@pytest.mark.parametrize("query,field", [
    ("window=0", "window"), ("window=2592001", "window"), ("window=abc", "window"), ("window=-5", "window"),
    ("window=1.5", "window"), ("agent=bad%20name", "agent"), ("agent=", "agent"), ("agent=" + "a" * 101, "agent"),
])
def test_stats_bad_parameters(gateway, query, field):
    r = gateway.get(f"/api/stats/jobs?{query}")
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_field" and err["field"] == field, err


def test_stats_any_role(gateway):
    key = gateway.create_key("viewer")
    s = expect(gateway.get("/api/stats/jobs?window=1", auth=key), 200)
    assert s["overall"]["total"] == 0, s
    assert gateway.get("/api/stats/jobs", auth=None).status_code == 401
