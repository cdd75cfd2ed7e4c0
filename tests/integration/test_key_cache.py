"""The gateway's key cache (gateway/http/auth.c): every change to api_keys, through any gateway
or by SQL, is logged in api_key_changes, which each gateway polls once a second while it has
keys cached, so a revocation reaches every gateway within about a second (not after
FLOWSTATE_KEY_CACHE_TTL) and a key created on one gateway works on another that was shown it
before it existed. The gateway holds no LISTEN for it, and a flood of unknown keys costs one
lookup per key and evicts no valid key. The cache TTL is an hour throughout, so a refusal can
only come from the poll; the deadlines below only bound a broken gateway."""

import hashlib
import secrets
import string
import tempfile
import time

import pytest

from fsutil import PGCTL_FAST_OPTS, Cluster, cluster_parent_dir, expect, run_cli
from test_auth import expect_401

LONG_TTL = {"FLOWSTATE_KEY_CACHE_TTL": "3600"}
DEADLINE = 5.0
JOB = {"targetAgent": "x", "payload": {}}


def poll(fn, timeout=DEADLINE, what="condition"):
    """fn() until it is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def status(gw, key):
    return gw.get("/api/agents", auth=key).status_code


def following(gw):
    """Waits for gw's first poll of api_key_changes (it drops whatever was cached before it),
    then makes it cache its admin key."""
    poll(lambda: "key cache follows api_key_changes" in gw.log_tail(200), 10, "the first poll")
    assert status(gw, gw.key) == 200


def two_gateways(gateway_factory, role="operator"):
    a = gateway_factory(env=LONG_TTL)
    b = gateway_factory(env=LONG_TTL)
    for gw in (a, b):
        following(gw)
    k = expect(a.post("/api/keys", json={"role": role, "name": "shared"}), 201)
    for gw in (a, b):  # cached on both
        assert status(gw, k["key"]) == 200
    return a, b, k


def test_revoke_through_one_gateway_reaches_the_other(gateway_factory, db):
    a, b, k = two_gateways(gateway_factory)
    expect(a.delete(f"/api/keys/{k['id']}"), 200)
    expect_401(a.get("/api/agents", auth=k["key"]))  # the revoking gateway: at once
    poll(lambda: status(b, k["key"]) == 401, what="gateway B to refuse the revoked key")
    expect_401(b.post("/api/jobs", json=JOB, auth=k["key"]))
    for gw in (a, b):  # the other keys stay cached and valid
        assert status(gw, gw.key) == 200


def test_revoke_by_sql_reaches_every_gateway(gateway_factory, db):
    a, b, k = two_gateways(gateway_factory)
    db.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (k["id"],))
    for gw in (a, b):
        poll(lambda: status(gw, k["key"]) == 401, what="the key revoked by SQL to be refused")
    # made valid again by hand: accepted again (the refusal was dropped with the change)
    db.execute("UPDATE api_keys SET revoked_at = NULL WHERE id = %s", (k["id"],))
    for gw in (a, b):
        poll(lambda: status(gw, k["key"]) == 200, what="the key made valid again to be accepted")


def test_revoke_in_a_repeatable_read_transaction(gateway_factory, db):
    """The log's pruning is skipped there (it could fail the statement); the change still
    reaches the gateways."""
    a, b, k = two_gateways(gateway_factory)
    db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ;"
               " UPDATE api_keys SET revoked_at = now() WHERE id = %s; COMMIT", (k["id"],))
    for gw in (a, b):
        poll(lambda: status(gw, k["key"]) == 401, what="the revoked key to be refused")


def test_role_change_delete_and_truncate_by_sql_reach_every_gateway(gateway_factory, db):
    a, b, k = two_gateways(gateway_factory)
    newest = "SELECT max(revision) FROM api_key_changes"
    before = db.scalar(newest)
    db.execute("UPDATE api_keys SET name = 'renamed' WHERE id = %s", (k["id"],))
    assert db.scalar(newest) == before  # a rename changes nothing a cache holds
    db.execute("UPDATE api_keys SET role = 'viewer' WHERE id = %s", (k["id"],))
    for gw in (a, b):
        poll(lambda: gw.post("/api/jobs", json=JOB, auth=k["key"]).status_code == 403,
             what="the key's new role to apply")
    db.execute("DELETE FROM api_keys WHERE id = %s", (k["id"],))
    for gw in (a, b):
        poll(lambda: status(gw, k["key"]) == 401, what="the deleted key to be refused")
        assert status(gw, gw.key) == 200
    db.execute("TRUNCATE api_keys")
    for gw in (a, b):
        poll(lambda: status(gw, gw.key) == 401, what="every key to be refused after a truncate")
    assert db.scalar("SELECT hashes IS NULL FROM api_key_changes ORDER BY revision DESC LIMIT 1")


def test_key_tried_before_it_existed_works_once_created_elsewhere(gateway_factory, db):
    """B remembers the key as unknown (for 5 s); its creation on A is logged, and B's next
    poll drops that memory."""
    a = gateway_factory(env=LONG_TTL)
    b = gateway_factory(env=LONG_TTL)
    for gw in (a, b):
        following(gw)
    key = random_key()
    for _ in range(2):
        expect_401(b.get("/api/agents", auth=key))
    # created behind the API with a key chosen here: the same insert POST /api/keys makes
    db.execute("INSERT INTO api_keys (name, role, key_hash, key_prefix) VALUES ('late', 'operator', %s, %s)",
               (hashlib.sha256(key.encode()).hexdigest(), key[:12]))
    assert status(a, key) == 200  # A never saw it: looked up
    poll(lambda: status(b, key) == 200, what="gateway B to accept the key created after it was tried")


def test_gateway_far_behind_the_log_drops_everything(gateway_factory, db):
    """Past 1,000 changes the log keeps only the newest; a gateway that has not read the ones
    it dropped drops its whole cache. The revocation is made with the log's trigger disabled,
    so only that can refuse the key."""
    a, b, k = two_gateways(gateway_factory)
    db.execute("ALTER TABLE api_keys DISABLE TRIGGER api_keys_log_update")
    try:
        db.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (k["id"],))
    finally:
        db.execute("ALTER TABLE api_keys ENABLE TRIGGER api_keys_log_update")
    for gw in (a, b):
        assert status(gw, k["key"]) == 200  # cached, and nothing logged
    db.execute("SELECT fs_key_changes_log(ARRAY[g::text]) FROM generate_series(1, 1200) g")
    assert db.scalar("SELECT count(*) FROM api_key_changes") == 1000
    for gw in (a, b):
        poll(lambda: status(gw, k["key"]) == 401, what="the cache to be dropped")
        assert status(gw, gw.key) == 200


def random_key():
    alphabet = string.ascii_letters + string.digits
    return "fsk_" + "".join(secrets.choice(alphabet) for _ in range(43))


@pytest.fixture
def stats_cluster(gateway_bin):
    """A cluster of its own with pg_stat_statements, to count the gateway's statements."""
    c = Cluster(tempfile.mkdtemp(prefix="fs-pg-keys-", dir=cluster_parent_dir()),
                opts=PGCTL_FAST_OPTS + " -c shared_preload_libraries=pg_stat_statements")
    try:
        c.start()
        p = run_cli(["--migrate"], {"DATABASE_URL": c.url})
        assert p.returncode == 0, f"--migrate failed: {p.stderr}"
        yield c
    finally:
        c.destroy()


def test_unknown_key_flood_costs_one_lookup_each_and_evicts_no_valid_key(stats_cluster, gateway_factory):
    """Ten times as many unknown keys as either part of the cache holds, each sent twice, the
    valid key between them: one lookup per unknown key, none for the valid key. No LISTEN is
    ever sent while keys are cached, and the cache is kept true by polls."""
    from conftest import DB

    gw = gateway_factory(db_url=stats_cluster.url,
                         env={**LONG_TTL, "FLOWSTATE_KEY_CACHE_UNKNOWN_MAX": "64",
                              "FLOWSTATE_KEY_CACHE_MAX": "64"})
    db = DB(stats_cluster.url)
    try:
        db.execute("CREATE EXTENSION pg_stat_statements")
        following(gw)
        db.scalar("SELECT pg_stat_statements_reset()")

        def calls(like):
            return db.scalar("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
                             " WHERE query LIKE %s AND dbid = (SELECT oid FROM pg_database"
                             " WHERE datname = current_database())", (like,))

        for _ in range(640):
            key = random_key()
            for _ in range(2):
                assert status(gw, key) == 401
            assert status(gw, gw.key) == 200
        assert calls("%FROM api_keys WHERE key_hash%") == 640
        poll(lambda: calls("%FROM api_key_changes%") > 0, what="a poll of api_key_changes")
        assert calls("%LISTEN%") == 0
        listening = db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                              " AND application_name LIKE 'flowstate-gateway%' AND query LIKE 'LISTEN%'")
        assert listening == 0
    finally:
        db.close()
