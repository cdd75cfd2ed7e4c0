"""The optional LLM provider through a real code_analyzer worker, against a fake
OpenAI-compatible / Ollama server on 127.0.0.1: analyze_code adds the LLM's review when
one is configured; when the provider is down, slow or failing the job still completes with
the deterministic result, "review": null and "reviewError"; every call is an llm.call
event; with no provider the result has no review at all."""

import socket

import pytest

from fakeai import FakeAI

CODE = "def f(x):\n    if x:\n        return 1\n    return 2\n"
JOB = {"taskType": "analyze_code", "data": {"code": CODE}}


@pytest.fixture
def fake():
    f = FakeAI()
    yield f
    f.close()


def llm_env(url, provider, timeout_ms=5000):
    return {"FLOWSTATE_LLM_PROVIDER": provider, "FLOWSTATE_LLM_URL": url, "FLOWSTATE_LLM_MODEL": "fake-chat",
            "FLOWSTATE_LLM_API_KEY": "sk-llm-456", "FLOWSTATE_LLM_TIMEOUT_MS": str(timeout_ms)}


def run(stack, env):
    stack.start_worker("code_analyzer", env=env)
    job_id = stack.create_job(payload=JOB)["id"]
    row = stack.wait_status([job_id], "completed", 30)[job_id]
    assert row["attempts"] == 1 and row["last_error"] is None, row
    return job_id, row["result"]


def llm_events(db):
    return db.query("SELECT agent_name, job_id, severity, data FROM events WHERE type = 'llm.call' ORDER BY id")


@pytest.mark.parametrize("provider,path", [("openai", "/v1/chat/completions"), ("ollama", "/api/chat")])
def test_review_from_the_llm(stack, db, fake, provider, path):
    job_id, res = run(stack, llm_env(fake.url, provider))
    assert res["review"] == fake.review and "reviewError" not in res, res
    assert res["functions"][0]["name"] == "f" and "python" in res["summary"], res
    assert fake.paths() == [path]
    _, headers, body = fake.requests[0]
    assert headers.get("Authorization") == "Bearer sk-llm-456"
    assert body["model"] == "fake-chat" and body["messages"][0]["role"] == "system", body
    assert res["summary"] in body["messages"][1]["content"] and "Function f" in body["messages"][1]["content"]
    assert (provider == "ollama") == (body.get("stream") is False), body
    (ev,) = llm_events(db)
    assert ev["agent_name"] == "code_analyzer" and ev["job_id"] == job_id and ev["severity"] == "info", ev
    assert ev["data"]["provider"] == provider and ev["data"]["model"] == "fake-chat", ev
    assert ev["data"]["outcome"] == "ok" and ev["data"]["durationMs"] >= 0, ev


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("case", ["down", "slow", "500", "malformed"])
def test_failing_llm_never_fails_the_job(stack, db, fake, case):
    url = fake.url
    if case == "down":
        url = closed_port_url()
    elif case == "slow":
        fake.script = [{"sleep": 3}]
    elif case == "500":
        fake.script = [{"status": 500}]
    else:
        fake.script = [{"body": "{\"choices\": []}"}]
    job_id, res = run(stack, llm_env(url, "openai", timeout_ms=500))
    assert res["review"] is None and isinstance(res["reviewError"], str) and res["reviewError"], res
    assert {"down": "no answer", "slow": "no answer", "500": "HTTP 500",
            "malformed": "choices[0].message.content"}[case] in res["reviewError"], res
    assert res["functions"][0]["name"] == "f" and res["quality"]["score"] >= 0, res
    (ev,) = llm_events(db)
    assert ev["severity"] == "warning" and ev["data"]["outcome"] == "error", ev
    assert ev["data"]["error"] == res["reviewError"], ev
    if case == "slow":
        assert 400 <= ev["data"]["durationMs"] < 2500, ev


def test_no_provider_no_review(stack, db):
    job_id, res = run(stack, {})
    assert "review" not in res and "reviewError" not in res, res
    assert not llm_events(db)
