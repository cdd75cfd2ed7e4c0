"""The learning agent end to end: a real learning worker runs learn_from_feedback (a
'learning' memory and feedback statistics merged into the rated agent's state),
identify_patterns and optimize_performance (over hand-inserted job rows with known
timings), and the stored results, memories and agent state are checked."""

from fsutil import expect, insert_done


def run(stack, task, data, status="completed"):
    job = stack.create_job("learning", {"type": "ai_task", "taskType": task, "data": data})
    rows = stack.wait_status([job["id"]], status, 30, f"learning {task} {status}")
    return rows[job["id"]]


def test_learn_from_feedback(stack):
    stack.start_worker("learning")
    gw = stack.gateway()
    expect(gw.post("/api/agents/register", json={"agentName": "data_processor",
                                                  "initialState": {"status": "active", "capabilities": ["x"]}}), 201)
    first = run(stack, "learn_from_feedback", {"agentName": "data_processor", "taskType": "validate_data",
                                               "jobId": 41, "rating": 5, "comment": "caught every bad row"})
    res = first["result"]
    assert res["agentName"] == "data_processor" and res["taskType"] == "validate_data", res
    assert res["outcome"] == "success" and res["importance"] == 8, res
    assert res["taskStats"] == {"count": 1, "successes": 1, "failures": 0, "ratings": 1, "ratingSum": 5,
                                "averageRating": 5, "successRate": 1}, res
    doc = stack.db.one("SELECT content, metadata FROM documents WHERE id = %s", (res["memoryId"],))
    meta = doc["metadata"]
    assert meta["memoryType"] == "learning" and meta["agentName"] == "data_processor", meta
    assert meta["importance"] == 8 and meta["rating"] == 5 and meta["jobId"] == 41, meta
    assert meta["tags"] == ["feedback", "success", "validate_data", "rating-5"], meta
    assert doc["content"] == "Feedback on data_processor/validate_data: rating 5/5, success. caught every bad row", doc

    second = run(stack, "learn_from_feedback", {"agentName": "data_processor", "taskType": "validate_data",
                                                "success": False})["result"]
    assert second["outcome"] == "failure" and second["importance"] == 7, second
    third = run(stack, "learn_from_feedback", {"agentName": "data_processor", "rating": 3})["result"]
    assert third["taskType"] is None and third["outcome"] == "neutral", third

    state = stack.agent_state("data_processor")
    assert state["status"] == "active" and state["capabilities"] == ["x"], state  # merged, not replaced
    fb = state["feedback"]
    assert fb["byTaskType"]["validate_data"] == {"count": 2, "successes": 1, "failures": 1, "ratings": 1,
                                                 "ratingSum": 5, "averageRating": 5, "successRate": 0.5}, fb
    assert fb["byTaskType"]["unspecified"]["count"] == 1 and fb["byTaskType"]["unspecified"]["successRate"] is None
    assert fb["total"]["count"] == 3 and fb["total"]["averageRating"] == 4 and fb["total"]["successRate"] == 0.5, fb
    assert third["totals"] == fb["total"], third


def test_learn_from_feedback_bad_input(stack):
    stack.start_worker("learning")
    cases = [({"agentName": "nobody", "rating": 4}, "agent nobody is not registered"),
             ({"agentName": "learning"}, "data.rating (1 to 5) or data.success"),
             ({"agentName": "learning", "rating": 6}, "data.rating"),
             ({"agentName": "bad name", "rating": 4}, "data.agentName"),
             ({"rating": 4}, "data.agentName is required")]
    for data, msg in cases:
        row = run(stack, "learn_from_feedback", data, status="failed")
        assert row["attempts"] == 1 and msg in row["last_error"], (data, row["last_error"])
    assert stack.db.count("documents", "metadata->>'memoryType' = 'learning'") == 0


def seed_history(db):
    # dp/validate_data: 5 finished, 2 failed (first attempt) with the same error but different row numbers
    for run_ms in (10, 20, 30):
        insert_done(db, "dp", "validate_data", "completed", 100, run_ms)
    insert_done(db, "dp", "validate_data", "failed", 100, 5, "row 17: email is not valid")
    insert_done(db, "dp", "validate_data", "failed", 100, 5, "row 3: email is not valid")
    # slow/crunch: runs close to the 30 s lease, waits long in the queue, retried once
    for wait_ms, run_ms in ((11000, 25000), (12000, 26000), (13000, 27000)):
        insert_done(db, "slow", "crunch", "completed", wait_ms, run_ms, attempts=2 if run_ms == 27000 else 1)


def test_identify_patterns(stack):
    stack.start_worker("learning")
    seed_history(stack.db)
    res = run(stack, "identify_patterns", {"window": 3600, "agent": "dp"})["result"]
    assert res["window"] == 3600 and res["agent"] == "dp", res
    assert res["failureRates"] == [{"agent": "dp", "taskType": "validate_data", "total": 5, "finished": 5,
                                    "failed": 2, "failureRate": 0.4, "retries": 0}], res
    assert res["commonErrors"] == [{"error": "row N: email is not valid", "count": 2}], res
    assert res["durations"][0]["runTimeMs"] == {"p50": 20, "p90": 28, "p99": 29.8}, res
    [p] = res["patterns"]
    assert p["kind"] == "failure_rate" and p["rank"] == 1 and p["score"] == 0.4, p
    assert p["message"] == ('dp/validate_data fails 40% of the time (2 of 5 finished), '
                            'mostly with "row N: email is not valid"'), p
    assert p["evidence"] == {"failureRate": 0.4, "failed": 2, "finished": 5,
                             "topError": "row N: email is not valid"}, p

    every = run(stack, "identify_patterns", {})["result"]
    kinds = [(p["kind"], p["agent"]) for p in every["patterns"]]
    assert kinds[0] == ("failure_rate", "dp") and ("retries", "slow") in kinds, kinds
    assert [p["rank"] for p in every["patterns"]] == list(range(1, len(kinds) + 1)), every


def test_optimize_performance(stack):
    stack.start_worker("learning")
    seed_history(stack.db)
    res = run(stack, "optimize_performance", {"window": 3600, "maxFailurePercent": 40})["result"]
    assert res["limits"] == {"leaseSeconds": 30, "leaseRatio": 0.8, "maxQueueWaitMs": 5000, "maxFailureRate": 0.4,
                             "minSamples": 1}, res
    recs = {(r["action"], r["agent"]): r for r in res["recommendations"]}
    assert set(recs) == {("fix_failures", "dp"), ("lower_max_attempts", "dp"), ("raise_timeout", "slow"),
                         ("add_workers", "slow")}, res["recommendations"]
    assert [r["priority"] for r in res["recommendations"]] == ["high", "high", "medium", "low"], res
    t = recs[("raise_timeout", "slow")]
    assert t["taskType"] == "crunch" and t["evidence"] == {"p99RunTimeMs": 26980, "leaseSeconds": 30}, t
    assert t["suggestion"] == {"timeoutSeconds": 54}, t
    w = recs[("add_workers", "slow")]
    assert w["priority"] == "high" and w["evidence"]["p90QueueWaitMs"] == 12800, w
    assert recs[("lower_max_attempts", "dp")]["suggestion"] == {"maxAttempts": 1}
    assert recs[("fix_failures", "dp")]["evidence"]["topError"] == "row N: email is not valid"

    # the lease comes from the worker's FLOWSTATE_LEASE unless the payload names one
    longer = run(stack, "optimize_performance", {"agent": "slow", "leaseSeconds": 120})["result"]
    assert [r["action"] for r in longer["recommendations"]] == ["add_workers"], longer


def test_optimize_performance_does_not_count_run_at_as_queue_wait(stack):
    # Scheduled five minutes ahead and started 100 ms after that: no queue to add workers for.
    stack.start_worker("learning")
    for _ in range(3):
        insert_done(stack.db, "later", "report", "completed", 100, 50, delay_ms=300000)
    res = run(stack, "optimize_performance", {"window": 3600, "agent": "later"})["result"]
    assert res["recommendations"] == [], res
