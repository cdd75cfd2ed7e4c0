"""Hard to knock over: more idle connections than the gateway may hold (its connection cap, or
its open-files limit itself) leave it near idle with a small log, and it serves new clients
again once they close; the soft open-files limit is raised to the hard one at start."""

import os
import re
import resource
import socket
import time

import pytest

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time the process has used (/proc/<pid>/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def open_idle(port, n):
    """n connections that never send a byte (those past the listen queue may still be
    connecting: non-blocking, nobody waits for them)."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    return socks


def assert_quiet_while_flooded(gw, idle):
    """Over 3 s with the idle connections held: little CPU, a small log, and still alive.
    Resource bounds, loose on purpose: a busy accept() loop burns a whole core and writes
    megabytes in that time."""
    time.sleep(1.0)  # the connections arrive and are accepted or refused
    pid = gw.proc.pid
    cpu0, log0, t0 = cpu_seconds(pid), gw.log_path.stat().st_size, time.monotonic()
    time.sleep(3.0)
    cpu = cpu_seconds(pid) - cpu0
    wall = time.monotonic() - t0
    grown = gw.log_path.stat().st_size - log0
    assert gw.alive(), gw.log_tail()
    assert cpu < 0.5, f"{cpu:.2f} s of CPU in {wall:.1f} s with {len(idle)} idle connections"
    assert grown < 20_000, f"the log grew {grown} bytes in {wall:.1f} s:\n{gw.log_tail(10)}"


def served_after_closing(gw, idle):
    for s in idle:
        s.close()
    r = gw.get("/health", timeout=20)
    assert r.status_code == 200, r.text


def test_connections_past_the_cap_wait_without_spinning(gateway_factory):
    gw = gateway_factory(env={"FLOWSTATE_MAX_CONNECTIONS": "100"})
    idle = open_idle(gw.port, 300)
    try:
        assert_quiet_while_flooded(gw, idle)
        # Over the cap a new client is not served (it waits in the listen queue).
        with pytest.raises(Exception):
            gw.get("/health", timeout=1)
        log = gw.log_path.read_text()
        assert "connection cap reached" in log and "max_connections=100" in log, log[-2000:]
    finally:
        served_after_closing(gw, idle)


def test_accept_pauses_when_descriptors_run_out(gateway_factory):
    gw = gateway_factory()
    # A limit lowered under the running gateway: its cap, derived from the limit at start,
    # is far above what it can open, so accept() itself fails (EMFILE).
    resource.prlimit(gw.proc.pid, resource.RLIMIT_NOFILE, (256, 256))
    idle = open_idle(gw.port, 400)
    try:
        assert_quiet_while_flooded(gw, idle)
        log = gw.log_path.read_text()
        m = re.search(r'accept failed; pausing new connections" error="Too many open files" failed=(\d+)', log)
        assert m, log[-2000:]
        assert "Error from accept" not in log  # libevent's own per-failure warning
    finally:
        served_after_closing(gw, idle)


def test_soft_open_files_limit_raised_to_hard_at_start(gateway_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 512:
        pytest.skip(f"needs a finite hard open-files limit above 512 (have {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
    try:
        gw = gateway_factory(env={"FLOWSTATE_DB_POOL_SIZE": "4"})
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert resource.prlimit(gw.proc.pid, resource.RLIMIT_NOFILE) == (hard, hard)
    # The default cap: the limit less the pool's connections and 64 for everything else.
    assert f"open_files={hard} max_connections={hard - 68} " in gw.log_path.read_text()


# --- request deadlines ---------------------------------------------------------------------

SLOW = {"FLOWSTATE_HEAD_TIMEOUT": "2", "FLOWSTATE_BODY_MIN_RATE": "1024"}


def trickle(s, data, every):
    """Sends data a byte at a time, one every `every` seconds, until the server closes the
    connection (returns the seconds that took) or data runs out (returns None)."""
    t0 = time.monotonic()
    s.settimeout(every)
    for i in range(len(data)):
        try:
            s.send(data[i : i + 1])
            if s.recv(65536) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - t0
    return None


def job_post_head(gw, body):
    return (
        f"POST /api/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {gw.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()


def test_a_head_trickling_in_is_cut_at_the_deadline(gateway_factory):
    gw = gateway_factory(env=SLOW)
    # A byte every half second resets evhttp's own timeout every time; the head's deadline
    # counts from its first byte.
    head = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        took = trickle(s, head, 0.5)
    assert took is not None, "the whole head trickled in and the connection was kept"
    assert took >= 1.9, took
    assert "closed connections whose request arrived too slowly" in gw.log_path.read_text()
    gw.assert_healthy()


def test_a_body_slower_than_the_minimum_rate_is_cut(gateway_factory):
    gw = gateway_factory(env=SLOW)
    body = b'{"targetAgent":"a","payload":{"pad":"' + b"x" * 5000 + b'"}}'
    head = job_post_head(gw, body)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(head)
        took = trickle(s, body, 0.1)  # 10 bytes a second
    assert took is not None, "the whole body trickled in and the connection was kept"
    assert took >= 1.9, took


def test_a_slow_but_steady_upload_and_keep_alive_requests_are_served(gateway_factory, db):
    from test_http_strict import _read_response

    gw = gateway_factory(env=SLOW)
    body = b'{"targetAgent":"a","payload":{"pad":"' + b"x" * 12000 + b'"}}'
    head = job_post_head(gw, body)
    get = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gw.port), timeout=20) as s:
        # About 4 KB/s for 3 s: past the grace, above the minimum.
        s.sendall(head)
        for i in range(0, len(body), 1000):
            s.sendall(body[i : i + 1000])
            time.sleep(0.25)
        status, _, _ = _read_response(s)
        assert status == 201
        # The same connection idles longer than the head deadline between requests (the
        # idle timeout applies there, not the deadline), then sends two pipelined ones.
        for _ in range(2):
            time.sleep(2.5)
            s.sendall(get)
            assert _read_response(s)[0] == 200
        s.sendall(get + get)
        assert _read_response(s)[0] == 200
        assert _read_response(s)[0] == 200
    assert db.count("job_queue") == 1
