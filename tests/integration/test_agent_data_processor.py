"""The data_processor agent end to end: a real data_processor worker claims process_data,
validate_data and transform_data jobs created through the gateway, and the stored job
results (and, for bad input, the stored errors) are checked in the database."""


def run_jobs(stack, payloads, status="completed", max_attempts=3):
    ids = [stack.create_job("data_processor", p, maxAttempts=max_attempts)["id"] for p in payloads]
    rows = stack.wait_status(ids, status, 30, f"{len(ids)} data_processor job(s) {status}")
    return [rows[i] for i in ids]


def test_process_data(stack):
    stack.start_worker("data_processor")
    records = [{"region": "eu", "amount": 10}, {"region": "us", "amount": 40}, {"region": "eu", "amount": 20},
               {"region": "us", "amount": 30}, {"region": "eu", "amount": "n/a"}]
    [row] = run_jobs(stack, [{"type": "ai_task", "taskType": "process_data",
                              "data": {"records": records, "fields": ["amount"], "groupBy": "region"}}])
    res = row["result"]
    amount = res["fields"]["amount"]
    assert res["count"] == 5 and amount["count"] == 4 and amount["nonNumeric"] == 1, res
    assert amount["sum"] == 100 and amount["mean"] == 25 and amount["min"] == 10 and amount["max"] == 40, amount
    assert abs(amount["stddev"] - 11.180339887498949) < 1e-9, amount
    assert amount["percentiles"] == {"p50": 25, "p90": 37, "p99": 39.7}, amount
    assert [g["by"] for g in res["groups"]] == [{"region": "eu"}, {"region": "us"}], res["groups"]
    eu, us = res["groups"]
    assert eu["key"] == '"eu"' and eu["count"] == 3 and eu["fields"]["amount"]["sum"] == 30, eu
    assert us["count"] == 2 and us["fields"]["amount"]["mean"] == 35, us
    assert isinstance(res["summary"], str) and "5 records" in res["summary"], res["summary"]
    assert row["attempts"] == 1 and row["last_error"] is None, row


def test_validate_data(stack):
    stack.start_worker("data_processor")
    schema = {"type": "object", "required": ["id", "email"], "additionalProperties": False,
              "properties": {"id": {"type": "integer", "minimum": 1},
                             "email": {"type": "string", "pattern": "^[^@]+@[^@]+$"},
                             "user": {"type": "object", "properties": {"name": {"type": "string", "minLength": 2}}}}}
    records = [{"id": 1, "email": "a@b"}, {"id": 0, "email": "nope"}, {"email": "c@d", "user": {"name": "x"}, "x": 1}]
    good, bad = run_jobs(stack, [
        {"type": "ai_task", "taskType": "validate_data", "data": {"records": records[:1], "schema": schema}},
        {"type": "ai_task", "taskType": "validate_data", "data": {"records": records, "schema": schema}},
    ])
    assert good["result"]["valid"] is True and good["result"]["violations"] == [], good["result"]
    res = bad["result"]
    # records in order; within a record, members in stored order (jsonb puts shorter keys first)
    got = [(v["record"], v["path"], v["keyword"]) for v in res["violations"]]
    assert [g[0] for g in got] == [1, 1, 2, 2, 2], got
    assert sorted(got) == [(1, "$[1].email", "pattern"), (1, "$[1].id", "minimum"), (2, "$[2].id", "required"),
                           (2, "$[2].user.name", "minLength"), (2, "$[2].x", "additionalProperties")], got
    assert res["valid"] is False and res["invalidCount"] == 2 and res["violationCount"] == 5, res
    assert res["invalidRecords"] == [1, 2] and res["recordCount"] == 3, res


def test_transform_data_top_level_form(stack):
    stack.start_worker("data_processor")
    records = [{"id": 1, "user": {"name": "ann", "age": 31}}, {"id": 2, "user": {"name": "bob", "age": 17}},
               {"id": 3, "user": {"name": "cy", "age": 45}}, {"id": 4, "user": {"name": "ann", "age": 52}}]
    steps = [{"op": "flatten"}, {"op": "filter", "field": "user.age", "operator": "gte", "value": 18},
             {"op": "rename", "map": {"user.name": "name", "user.age": "age"}},
             {"op": "sort", "by": [{"field": "age", "order": "desc"}]}, {"op": "dedupe", "fields": ["name"]},
             {"op": "select", "fields": ["name", "age"]}, {"op": "limit", "count": 5}]
    # the worker-route form: the task's fields at the payload's top level
    [row] = run_jobs(stack, [{"taskType": "transform_data", "records": records, "steps": steps}])
    res = row["result"]
    assert res["records"] == [{"name": "ann", "age": 52}, {"name": "cy", "age": 45}], res
    assert res["count"] == 2 and res["inputCount"] == 4, res
    assert [(s["op"], s["in"], s["out"]) for s in res["steps"]] == [
        ("flatten", 4, 4), ("filter", 4, 3), ("rename", 3, 3), ("sort", 3, 3), ("dedupe", 3, 2),
        ("select", 2, 2), ("limit", 2, 2)], res["steps"]


def test_bad_input_fails_at_once_naming_the_field(stack):
    stack.start_worker("data_processor")
    cases = [
        ({"taskType": "process_data", "data": {"records": [{"a": 1}, 7]}}, "data.records[1] must be an object"),
        ({"taskType": "validate_data", "data": {"records": [], "schema": {"properties": {"a": {"type": "strng"}}}}},
         'data.schema.properties.a.type has an unknown type "strng"'),
        ({"taskType": "validate_data", "data": {"records": [], "schema": {"pattern": "a(b"}}},
         "data.schema.pattern is not a valid POSIX extended regular expression"),
        ({"taskType": "transform_data", "data": {"records": [], "steps": [{"op": "sort", "by": ["a"]},
                                                                          {"op": "explode"}]}},
         'data.steps[1] has an unknown op "explode"'),
        ({"taskType": "transform_data", "data": {"records": []}}, "data.steps is required"),
    ]
    rows = run_jobs(stack, [p for p, _ in cases], status="failed", max_attempts=5)
    for row, (payload, words) in zip(rows, cases):
        assert row["attempts"] == 1, f"{payload}: tried {row['attempts']} times (not retryable: expected 1)"
        assert words in (row["last_error"] or ""), f"{payload}: last_error {row['last_error']!r}, expected {words!r}"
        assert row["result"] is None, row
