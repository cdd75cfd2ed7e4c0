"""The seed guide's curl examples 1 (register an agent) and 2 (create a job), run with the real
curl binary exactly as written (only host:port changed), then the guide's SQL queries.

Status codes are read without touching the commands: curl picks up `--silent` and
`--write-out` from a private .curlrc (CURL_HOME)."""

import json
import shutil
import subprocess

import pytest

from fsutil import child_env

# Verbatim from the seed guide, "Manual Testing Examples".
EXAMPLE_1 = """curl -X POST http://localhost:3001/api/agents/register \\
  -H "Content-Type: application/json" \\
  -d '{
    "agentName": "test_agent",
    "initialState": {
      "status": "active",
      "capabilities": ["testing"]
    }
  }'"""

EXAMPLE_2 = """curl -X POST http://localhost:3001/api/jobs \\
  -H "Content-Type: application/json" \\
  -d '{
    "targetAgent": "code_analyzer",
    "payload": {
      "type": "ai_task",
      "taskType": "analyze_code",
      "data": {
        "code": "def hello(): print(\\"Hello, World!\\")"
      }
    }
  }'"""

SEP = "\n@@status@@"


def run_example(gw, command, tmp_path, key=None):
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is not installed (deploy/deps.sh installs it)", pytrace=False)
    cmd = command.replace("http://localhost:3001", gw.url)
    assert cmd != command
    if key is not None:
        first, rest = cmd.split("\n", 1)
        cmd = f'{first}\n  -H "Authorization: Bearer {key}" \\\n{rest}'
    (tmp_path / ".curlrc").write_text('--silent\n--show-error\n--write-out "' + SEP.replace("\n", "\\n")
                                      + '%{http_code}"\n')
    p = subprocess.run(["bash", "-c", cmd], env=child_env({"CURL_HOME": tmp_path, "HOME": tmp_path}),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"curl exited {p.returncode}: {p.stderr}"
    body, _, status = p.stdout.rpartition(SEP)
    assert status.isdigit(), f"no status from curl: {p.stdout!r}"
    return int(status), json.loads(body)


def check_examples(gw, db, tmp_path, key):
    status, agent = run_example(gw, EXAMPLE_1, tmp_path, key)
    assert status == 201, agent
    assert agent["agentName"] == "test_agent"
    assert agent["state"] == {"status": "active", "capabilities": ["testing"]}
    # Running it again updates the same agent.
    status, again = run_example(gw, EXAMPLE_1, tmp_path, key)
    assert status == 200, again
    assert again["id"] == agent["id"]

    status, job = run_example(gw, EXAMPLE_2, tmp_path, key)
    assert status == 201, job
    assert job["targetAgent"] == "code_analyzer"
    assert job["payload"] == {
        "type": "ai_task",
        "taskType": "analyze_code",
        "data": {"code": 'def hello(): print("Hello, World!")'},
    }
    assert job["status"] == "pending" and job["priority"] == 2 and job["attempts"] == 0

    # The guide's database queries see what the examples created.
    rows = db.query("SELECT * FROM agent_states ORDER BY updated_at DESC;")
    assert [r["agent_name"] for r in rows] == ["test_agent"]
    assert rows[0]["state"] == {"status": "active", "capabilities": ["testing"]}
    rows = db.query("SELECT * FROM job_queue WHERE status = 'pending' ORDER BY created_at;")
    assert [r["id"] for r in rows] == [job["id"]]
    assert rows[0]["payload"]["data"]["code"] == 'def hello(): print("Hello, World!")'
    assert db.query(
        "SELECT * FROM documents WHERE metadata->>'agentName' = 'code_analyzer' \n"
        "ORDER BY metadata->>'timestamp' DESC LIMIT 10;"
    ) == []


def test_examples_auth_off_exactly_as_written(gateway_factory, db, tmp_path):
    gw = gateway_factory(env={"FLOWSTATE_AUTH": "off"}, key=False)
    check_examples(gw, db, tmp_path, key=None)


def test_examples_with_key(gateway, db, tmp_path):
    check_examples(gateway, db, tmp_path, key=gateway.key)


def test_examples_without_key_are_refused(gateway, db, tmp_path):
    status, body = run_example(gateway, EXAMPLE_1, tmp_path)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body = run_example(gateway, EXAMPLE_2, tmp_path)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert db.count("agent_states") == 0 and db.count("job_queue") == 0
