"""Fixtures for the Flowstate integration suite.

Run:  FLOWSTATE_BIN_DIR=/abs/build/bin /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

- One throwaway PostgreSQL cluster per session (deploy/pgctl.sh, fsync off), destroyed at the
  end even on failure or Ctrl-C.
- A template database `fs_template` migrated once with `flowstate-gateway --migrate`; every
  test that needs a database gets `CREATE DATABASE t_<n> TEMPLATE fs_template`, dropped after.
- `gateway` / `gateway_factory`: a flowstate-gateway subprocess on a free loopback port with an
  admin key. Teardown sends SIGTERM and requires exit code 0 (a crash or an ASan leak report
  fails the test).
- `db`: psycopg2 access to the test's database.
"""

import itertools
import signal
import time

import psycopg2
import psycopg2.extras
import pytest

import fsutil
from fsutil import Cluster, Gateway, child_env, create_key, free_port, popen_gateway, run_cli, wait_ready


# --- PostgreSQL ---------------------------------------------------------------------------


class DB:
    """psycopg2 helper bound to one database (autocommit)."""

    def __init__(self, url):
        self.url = url
        self.conn = psycopg2.connect(url, connect_timeout=10)
        self.conn.autocommit = True

    def query(self, sql, params=None):
        with self.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def one(self, sql, params=None):
        rows = self.query(sql, params)
        assert len(rows) == 1, f"expected one row from {sql!r}, got {len(rows)}"
        return rows[0]

    def scalar(self, sql, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            row = cur.fetchone()
            return row[0] if row else None

    def execute(self, sql, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)

    def count(self, table, where="TRUE", params=None):
        return self.scalar(f"SELECT count(*) FROM {table} WHERE {where}", params)

    def tables(self):
        return [
            r["table_name"]
            for r in self.query(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
            )
        ]

    def counts(self):
        """Row counts of every table: compare before/after to prove nothing was stored."""
        return {t: self.count(f'"{t}"') for t in self.tables()}

    def close(self):
        self.conn.close()


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def pytest_configure(config):
    # A SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so fixtures and atexit still stop
    # the gateways and destroy the throwaway clusters.
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


def pytest_sessionstart(session):
    # Fail loudly, once, when the binary under test is missing (never skip silently).
    if not fsutil.GATEWAY_BIN.is_file():
        pytest.exit(
            f"flowstate-gateway not found at {fsutil.GATEWAY_BIN}: build it (make) and run with "
            f"FLOWSTATE_BIN_DIR=/abs/path/to/build/bin",
            returncode=1,
        )


@pytest.fixture(scope="session")
def gateway_bin():
    return fsutil.require_gateway_bin()


@pytest.fixture(scope="session")
def pg_cluster():
    c = Cluster.create()
    try:
        yield c
    finally:
        c.destroy()


@pytest.fixture(scope="session")
def template_db(pg_cluster, gateway_bin):
    pg_cluster.admin("CREATE DATABASE fs_template")
    url = pg_cluster.url_for("fs_template")
    p = run_cli(["--migrate"], {"DATABASE_URL": url, "FLOWSTATE_LOG_LEVEL": "info"}, timeout=60)
    if p.returncode != 0:
        pytest.fail(
            f"flowstate-gateway --migrate exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}",
            pytrace=False,
        )
    return "fs_template"


_db_numbers = itertools.count(1)


@pytest.fixture
def test_db(pg_cluster, template_db):
    """A fresh database cloned from the migrated template; yields its URL."""
    name = f"t_{next(_db_numbers)}"
    pg_cluster.admin(f"CREATE DATABASE {name} TEMPLATE {template_db}")
    try:
        yield pg_cluster.url_for(name)
    finally:
        pg_cluster.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db(test_db):
    d = DB(test_db)
    try:
        yield d
    finally:
        d.close()


# --- gateway ------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def gateway_factory(request, test_db, tmp_path, gateway_bin):
    """start(env=None, db_url=None, key=True) -> Gateway. `env` adds or overrides settings
    (e.g. {"FLOWSTATE_AUTH": "off"}); `db_url` defaults to the test's database."""
    started = []
    counter = itertools.count(1)

    def start(env=None, db_url=None, key=True, timeout=10.0):
        url = db_url or test_db
        admin_key = create_key(url, "admin") if key else None
        n = next(counter)
        for attempt in range(3):
            port = free_port()
            log_path = tmp_path / f"gateway-{n}.{attempt}.log"
            genv = child_env(
                {
                    "DATABASE_URL": url,
                    "PORT": port,
                    "FLOWSTATE_HOST": "127.0.0.1",
                    "FLOWSTATE_LOG_LEVEL": "info",
                    **(env or {}),
                }
            )
            logf = open(log_path, "wb")
            proc = popen_gateway([], genv, stdout=logf, stderr=logf)
            logf.close()
            gw = Gateway(proc, port, url, log_path, admin_key, genv)
            started.append(gw)
            # A port grabbed by someone else between free_port() and bind: try another.
            time.sleep(0.02)
            if proc.poll() is not None and "in use" in gw.log_tail().lower():
                continue
            wait_ready(gw, timeout)
            return gw
        pytest.fail(f"could not start a gateway on a free port; log:\n{gw.log_tail()}", pytrace=False)

    yield start

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    problems = []
    for gw in started:
        was_running = gw.alive()
        code = gw.stop(timeout=10)
        if getattr(gw, "expected_exit", 0) is None:
            continue
        if code != 0 and not (not was_running and "in use" in gw.log_tail().lower()):
            what = "did not exit within 10s of SIGTERM" if code is None else f"exited with {code}"
            problems.append(f"gateway on port {gw.port} {what}; log tail:\n{gw.log_tail()}")
        elif failed:
            print(f"--- gateway on port {gw.port} log tail ---\n{gw.log_tail(40)}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def gateway(gateway_factory):
    return gateway_factory()


# --- worker stack (tests/integration/stack.py) ---------------------------------------------


@pytest.fixture
def stack_factory(request, gateway_factory, db, tmp_path):
    """make(db_url=None) -> stack.Stack on the test's database (or db_url). Teardown stops
    every process it started (workers before the gateways) and fails the test on a non-zero
    exit, a process that had to be killed, or a sanitizer report in a log."""
    import stack as stack_module

    made = []

    def make(db_url=None):
        own = db_url is not None
        d = DB(db_url) if own else db
        s = stack_module.Stack(gateway_factory, d, tmp_path / f"stack{len(made) + 1}")
        s.tmp.mkdir(parents=True, exist_ok=True)
        made.append((s, own))
        return s

    yield make

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    problems = []
    for s, own in reversed(made):
        try:
            s.teardown(failed)
        except pytest.fail.Exception as e:
            problems.append(str(e))
        finally:
            if own:
                s.db.close()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def stack(stack_factory):
    return stack_factory()
