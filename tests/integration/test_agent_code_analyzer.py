"""The code_analyzer agent end to end: a real worker claims analyze_code, detect_bugs and
suggest_optimizations jobs through the gateway, and the stored results are checked; bad
input fails at once without retry."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "code"


def run_jobs(stack, payloads):
    ids = [stack.create_job(payload=p, maxAttempts=3)["id"] for p in payloads]
    return ids


def test_analyze_code_seed_example(stack):
    stack.start_worker("code_analyzer")
    job_id = stack.create_job(payload={"type": "ai_task", "taskType": "analyze_code",
                                       "data": {"code": "def hello(): print(\"Hello, World!\")"}})["id"]
    res = stack.wait_status([job_id], "completed", 30)[job_id]["result"]
    assert res["language"] == "python" and res["languageSource"] == "detected", res
    assert res["lines"] == {"total": 1, "code": 1, "comment": 0, "blank": 0}, res
    assert [f["name"] for f in res["functions"]] == ["hello"], res
    assert res["functions"][0]["complexity"] == 1 and res["quality"]["score"] == 100, res
    assert isinstance(res["summary"], str) and "python" in res["summary"], res


def test_all_three_tasks_on_fixtures(stack):
    stack.start_worker("code_analyzer")
    bugs_py = (FIXTURES / "bugs.py").read_text()
    opt_c = (FIXTURES / "opt.c").read_text()
    ids = run_jobs(stack, [
        {"taskType": "analyze_code", "code": bugs_py},  # top-level code, as in the seed's worker route
        {"taskType": "detect_bugs", "data": {"code": bugs_py}},
        {"taskType": "suggest_optimizations", "data": {"code": opt_c, "language": "c"}},
    ])
    rows = stack.wait_status(ids, "completed", 30, "the three analyses completed")
    analysis, bugs, opts = (rows[i]["result"] for i in ids)
    assert analysis["language"] == "python" and analysis["functionCount"] == 2, analysis
    assert {f["name"] for f in analysis["functions"]} == {"load", "run"}, analysis
    assert 0 <= analysis["quality"]["score"] <= 100, analysis
    rules = [(f["line"], f["rule"]) for f in bugs["findings"]]
    assert rules == sorted(rules) and ("py.bare-except" in {r for _, r in rules}), bugs
    assert (10, "py.bare-except") in rules and (15, "py.eval") in rules, bugs
    assert bugs["total"] == len(bugs["findings"]) == 10, bugs
    assert bugs["counts"]["critical"] == 2 and all(
        f["severity"] in ("low", "medium", "high", "critical") for f in bugs["findings"]), bugs
    assert [s["rule"] for s in opts["suggestions"]] == [
        "c.strlen-in-loop-condition", "c.strcat-in-loop", "c.nested-loop-same-bound"], opts
    assert opts["languageSource"] == "given" and all(s["suggestion"] for s in opts["suggestions"]), opts
    for row in rows.values():
        assert row["attempts"] == 1 and row["last_error"] is None, row


def test_bad_input_fails_without_retry(stack):
    stack.start_worker("code_analyzer")
    cases = [
        ({"taskType": "analyze_code"}, "data.code is missing"),
        ({"taskType": "detect_bugs", "data": {"code": 7}}, "data.code must be a string"),
        ({"taskType": "suggest_optimizations", "data": {"code": "x", "language": "cobol"}}, "data.language"),
    ]
    ids = run_jobs(stack, [p for p, _ in cases])
    # Too big for the gateway's request limit: queued straight into the table instead.
    big = {"taskType": "analyze_code", "data": {"code": "x" * (1024 * 1024 + 1)}}
    ids += stack.insert_jobs(1, payload=big)
    cases.append((big, "the limit is 1048576"))
    rows = stack.wait_status(ids, "failed", 30, "the bad jobs failed")
    for job_id, (_, words) in zip(ids, cases):
        row = rows[job_id]
        assert row["attempts"] == 1, f"job {job_id} retried: {row}"
        assert words in (row["last_error"] or ""), f"job {job_id}: {row['last_error']!r} lacks {words!r}"
