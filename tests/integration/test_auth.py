"""API keys: 401/403, roles, --create-key, /api/keys, revocation, hashed storage, FLOWSTATE_AUTH=off."""

import base64
import hashlib

import pytest

from fsutil import assert_recent, expect, expect_error, run_cli

JOB = {"targetAgent": "code_analyzer", "payload": {"type": "ai_task"}}


def expect_401(r):
    err = expect_error(r, 401, "unauthorized")
    www = r.headers.get("WWW-Authenticate", "")
    assert www.lower().startswith("bearer"), f"401 without WWW-Authenticate: Bearer (got {www!r})"
    return err


def test_401_without_key(gateway, db):
    expect_401(gateway.get("/api/agents", auth=None))
    expect_401(gateway.get("/api/jobs", auth=None))
    expect_401(gateway.post("/api/jobs", json=JOB, auth=None))
    assert db.count("job_queue") == 0


def test_401_bad_key(gateway, db):
    expect_401(gateway.get("/api/agents", auth="fsk_0000000000000000000000000000000000"))
    expect_401(gateway.get("/api/agents", auth="not-even-a-key"))
    expect_401(gateway.get("/api/agents", auth=gateway.key + "x"))
    expect_401(gateway.get("/api/agents", auth=gateway.key[:-1]))
    expect_401(gateway.post("/api/jobs", json=JOB, auth="fsk_wrong"))
    assert db.count("job_queue") == 0


@pytest.mark.parametrize(
    "header",
    [
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        "Bearer ",
        "Token {key}",
        "{key}",
        "Bearer{key}",
    ],
)
def test_401_malformed_header(gateway, header):
    value = header.format(key=gateway.key)
    expect_401(gateway.get("/api/agents", auth=None, headers={"Authorization": value}))


def test_viewer_reads_but_cannot_write(gateway, db):
    viewer = gateway.create_key("viewer")
    expect_error(gateway.post("/api/jobs", json=JOB, auth=viewer), 403, "forbidden")
    expect_error(
        gateway.post("/api/agents/register", json={"agentName": "v"}, auth=viewer), 403, "forbidden"
    )
    expect_error(gateway.post("/api/documents", json={"content": "x"}, auth=viewer), 403, "forbidden")
    expect_error(gateway.post("/api/keys", json={"role": "admin"}, auth=viewer), 403, "forbidden")
    assert db.count("job_queue") == 0
    assert db.count("agent_states") == 0
    assert db.count("documents") == 0

    # Reads work.
    job = expect(gateway.post("/api/jobs", json=JOB), 201)
    assert expect(gateway.get("/api/jobs", auth=viewer), 200)["jobs"][0]["id"] == job["id"]
    assert expect(gateway.get(f"/api/jobs/{job['id']}", auth=viewer), 200)["id"] == job["id"]
    assert expect(gateway.get("/api/jobs/pending", auth=viewer), 200)["jobs"][0]["id"] == job["id"]
    assert expect(gateway.get("/api/agents", auth=viewer), 200) == {"agents": [], "nextCursor": None}
    expect(gateway.get("/api/documents/search?q=x", auth=viewer), 200)
    # Status changes are writes.
    expect_error(
        gateway.put(f"/api/jobs/{job['id']}/status", json={"status": "running"}, auth=viewer),
        403,
        "forbidden",
    )
    assert db.scalar("SELECT status FROM job_queue WHERE id = %s", (job["id"],)) == "pending"


def test_agent_role(gateway, db):
    agent = gateway.create_key("agent")
    job = expect(gateway.post("/api/jobs", json=JOB, auth=agent), 201)
    assert job["status"] == "pending"
    expect(gateway.post("/api/agents/register", json={"agentName": "a1"}, auth=agent), 201)
    expect(gateway.put("/api/agents/a1", json={"state": {"x": 1}}, auth=agent), 200)
    expect(gateway.put(f"/api/jobs/{job['id']}/status", json={"status": "running"}, auth=agent), 200)
    expect(gateway.post("/api/documents", json={"content": "hello"}, auth=agent), 201)
    expect(gateway.get("/api/jobs", auth=agent), 200)
    expect(gateway.get("/api/agents", auth=agent), 200)
    # No key management.
    expect_error(gateway.get("/api/keys", auth=agent), 403, "forbidden")
    expect_error(gateway.post("/api/keys", json={"role": "admin"}, auth=agent), 403, "forbidden")
    assert db.count("api_keys") == 2


def test_operator_role(gateway, db):
    op = gateway.create_key("operator")
    expect(gateway.post("/api/jobs", json=JOB, auth=op), 201)
    expect(gateway.post("/api/agents/register", json={"agentName": "o1"}, auth=op), 201)
    expect(gateway.post("/api/documents", json={"content": "hello"}, auth=op), 201)
    expect_error(gateway.get("/api/keys", auth=op), 403, "forbidden")
    expect_error(gateway.post("/api/keys", json={"role": "viewer"}, auth=op), 403, "forbidden")
    expect_error(gateway.delete("/api/keys/1", auth=op), 403, "forbidden")
    assert db.count("api_keys") == 2


def test_create_key_cli(gateway, db):
    p = run_cli(["--create-key", "operator"], {"DATABASE_URL": gateway.db_url})
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    key = lines[-1]
    assert key.startswith("fsk_") and key == key.strip() and len(key) >= 20, f"last line {key!r}"
    assert key not in p.stderr, "the key was written to stderr (logs)"
    row = db.one("SELECT role, key_prefix, revoked_at FROM api_keys ORDER BY id DESC LIMIT 1")
    assert row["role"] == "operator" and row["revoked_at"] is None
    assert key.startswith(row["key_prefix"])
    expect(gateway.get("/api/agents", auth=key), 200)
    # Every call makes a different key.
    assert gateway.create_key("operator") != key


@pytest.mark.parametrize("role", ["root", "ADMIN", "", "admin;"])
def test_create_key_invalid_role(gateway, db, role):
    before = db.count("api_keys")
    p = run_cli(["--create-key", role], {"DATABASE_URL": gateway.db_url})
    assert p.returncode != 0, f"--create-key {role!r} exited 0: {p.stdout}"
    assert not any(l.startswith("fsk_") for l in p.stdout.splitlines()), p.stdout
    assert db.count("api_keys") == before


def test_keys_api(gateway, db):
    r = gateway.post("/api/keys", json={"role": "agent", "name": "worker-host-1"})
    k = expect(r, 201)
    assert isinstance(k["id"], int)
    assert k["key"].startswith("fsk_")
    assert k["role"] == "agent" and k["name"] == "worker-host-1"
    assert k["prefix"] and k["key"].startswith(k["prefix"]) and k["prefix"] != k["key"]
    assert_recent(k["createdAt"])
    # The new key works with its role.
    expect(gateway.post("/api/jobs", json=JOB, auth=k["key"]), 201)
    expect_error(gateway.get("/api/keys", auth=k["key"]), 403, "forbidden")

    # name is optional
    k2 = expect(gateway.post("/api/keys", json={"role": "viewer"}), 201)
    assert k2["role"] == "viewer" and k2["key"] != k["key"]

    r = gateway.get("/api/keys")
    body = expect(r, 200)
    keys = {x["id"]: x for x in body["keys"]}
    assert k["id"] in keys and k2["id"] in keys and len(keys) == 3  # + the fixture's admin key
    listed = keys[k["id"]]
    assert listed["role"] == "agent" and listed["name"] == "worker-host-1"
    assert listed["prefix"] == k["prefix"] and listed["revokedAt"] is None
    assert listed["createdAt"] == k["createdAt"]
    assert "key" not in listed, "GET /api/keys shows a key"
    assert k["key"] not in r.text and k2["key"] not in r.text and gateway.key not in r.text


@pytest.mark.parametrize(
    "body,field",
    [({}, "role"), ({"role": "root"}, "role"), ({"role": 1}, "role"), ({"role": "agent", "name": 5}, "name")],
)
def test_keys_api_invalid(gateway, db, body, field):
    expect_error(gateway.post("/api/keys", json=body), 400, "invalid_field", field)
    assert db.count("api_keys") == 1


def test_revoke_key(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_KEY_CACHE_TTL": "0"})
    k = expect(gw.post("/api/keys", json={"role": "operator", "name": "temp"}), 201)
    expect(gw.get("/api/agents", auth=k["key"]), 200)
    r = gw.delete(f"/api/keys/{k['id']}")
    revoked = expect(r, 200)
    assert revoked["id"] == k["id"] and revoked["role"] == "operator"
    assert revoked["revokedAt"] is not None
    assert_recent(revoked["revokedAt"])
    assert "key" not in revoked
    expect_401(gw.get("/api/agents", auth=k["key"]))
    expect_401(gw.post("/api/jobs", json=JOB, auth=k["key"]))
    listed = {x["id"]: x for x in expect(gw.get("/api/keys"), 200)["keys"]}
    assert listed[k["id"]]["revokedAt"] == revoked["revokedAt"]
    assert db.scalar("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = %s", (k["id"],))
    # Other keys keep working.
    expect(gw.get("/api/agents"), 200)
    expect_error(gw.delete("/api/keys/999999"), 404, "not_found")
    expect_error(gw.delete("/api/keys/abc"), 400, "invalid_field", "id")


def test_revoked_cli_key(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_KEY_CACHE_TTL": "0"})
    key = gw.create_key("agent")
    expect(gw.get("/api/jobs", auth=key), 200)
    kid = db.scalar("SELECT id FROM api_keys ORDER BY id DESC LIMIT 1")
    expect(gw.delete(f"/api/keys/{kid}"), 200)
    expect_401(gw.get("/api/jobs", auth=key))


def test_keys_stored_hashed(gateway, db):
    created = [gateway.create_key("agent")]
    created.append(expect(gateway.post("/api/keys", json={"role": "viewer", "name": "n"}), 201)["key"])
    created.append(gateway.key)
    rows = db.query("SELECT * FROM api_keys")
    assert len(rows) == 3
    dump = repr(rows)
    for key in created:
        assert key not in dump, "an api_keys column holds a plaintext key"
        # ... nor the part after the visible prefix
        assert key[12:] not in dump
        digest = hashlib.sha256(key.encode()).digest()
        forms = {
            digest.hex(),
            digest.hex().upper(),
            base64.b64encode(digest).decode(),
            base64.urlsafe_b64encode(digest).decode().rstrip("="),
            base64.b64encode(digest).decode().rstrip("="),
        }
        found = any(
            (isinstance(v, str) and v in forms) or (isinstance(v, (bytes, memoryview)) and bytes(v) == digest)
            for row in rows
            for v in row.values()
        )
        assert found, "no api_keys column holds the SHA-256 of the key"


def test_auth_off(gateway_factory, db):
    gw = gateway_factory(env={"FLOWSTATE_AUTH": "off"})
    assert expect(gw.get("/api/agents", auth=None), 200) == {"agents": [], "nextCursor": None}
    job = expect(gw.post("/api/jobs", json=JOB, auth=None), 201)
    expect(gw.get(f"/api/jobs/{job['id']}", auth=None), 200)
    # every caller is admin
    k = expect(gw.post("/api/keys", json={"role": "viewer"}, auth=None), 201)
    expect(gw.get("/api/keys", auth=None), 200)
    assert db.count("api_keys") == 2
    assert db.count("job_queue") == 1
    assert k["key"].startswith("fsk_")
