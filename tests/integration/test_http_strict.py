"""Strict HTTP at the edge, over raw sockets: conflicting message lengths, control bytes in
header names and values, non-UTF-8 charsets and CONNECT are refused (and the connection closed where a
proxy in front could otherwise disagree about where the next request starts)."""

import json
import socket
import time

import pytest

JOB = b'{"targetAgent":"a","payload":{}}'


def _read_response(s):
    """Reads exactly one response: (status, headers dict lower-cased, body bytes). It peeks for
    the end of the head and then takes only that response's bytes, so a pipelined response that
    arrived in the same segment stays in the socket for the next call."""
    data = b""
    deadline = time.monotonic() + (s.gettimeout() or 30)
    while b"\r\n\r\n" not in data:
        data = s.recv(65536, socket.MSG_PEEK)
        if not data:
            raise ConnectionError("closed before a response head")
        if b"\r\n\r\n" not in data:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no whole response head: {data!r}")
            time.sleep(0.005)
    head_len = data.index(b"\r\n\r\n") + 4
    head = _recv_exactly(s, head_len)[:-4]
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    return status, headers, _recv_exactly(s, n)


def _recv_exactly(s, n):
    """Up to n bytes (fewer only when the server closes first)."""
    data = b""
    while len(data) < n:
        c = s.recv(n - len(data))
        if not c:
            break
        data += c
    return data


def _closed(s):
    """True when the server closes the connection (EOF or reset) within the socket's timeout
    (generous: a connection kept open is the failure this detects)."""
    try:
        while True:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def exchange(gw, data, timeout=10):
    """Sends raw bytes; returns (status, headers, json body or raw bytes, closed)."""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=timeout) as s:
        s.sendall(data)
        status, headers, body = _read_response(s)
        try:
            body = json.loads(body)
        except ValueError:
            pass
        return status, headers, body, _closed(s)


def post(gw, *headers, body=JOB, path=b"/api/jobs"):
    head = [b"POST " + path + b" HTTP/1.1", b"Host: x", b"Authorization: Bearer " + gw.key.encode()]
    head += list(headers)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def assert_error(status, body, want_status, code):
    assert status == want_status, body
    assert isinstance(body, dict) and body["error"]["code"] == code and body["error"]["message"], body


# --- message length (RFC 9112 §6.3) -------------------------------------------------------


def test_conflicting_content_lengths_refused_and_closed(gateway, db):
    req = post(gateway, b"Content-Type: application/json", b"Content-Length: %d" % len(JOB),
               b"Content-Length: 5")
    status, _, body, closed = exchange(gateway, req)
    assert_error(status, body, 400, "bad_request")
    assert closed
    assert db.count("job_queue") == 0


def test_content_length_with_chunked_refused_and_closed(gateway, db):
    # libevent refuses this one itself, before the gateway sees the request: its own 400 page
    # (not the JSON error shape), and the connection closed.
    chunked = b"%x\r\n" % len(JOB) + JOB + b"\r\n0\r\n\r\n"
    req = post(gateway, b"Content-Type: application/json", b"Content-Length: 5",
               b"Transfer-Encoding: chunked", body=chunked)
    status, _, body, closed = exchange(gateway, req)
    assert status == 400, body
    assert closed
    assert db.count("job_queue") == 0


def test_identical_content_lengths_accepted(gateway, db):
    n = b"Content-Length: %d" % len(JOB)
    status, _, body, _ = exchange(gateway, post(gateway, b"Content-Type: application/json", n, n))
    assert status == 201, body
    assert db.count("job_queue") == 1


# --- control bytes in header values ---------------------------------------------------------


@pytest.mark.parametrize("value", [b"Bearer \x00", b"Bearer %s\x00x", b"Bearer %s\x01", b"Bearer %s\x7f"])
def test_control_bytes_in_authorization_refused(gateway, value):
    if b"%s" in value:
        value = value.replace(b"%s", gateway.key.encode())
    req = b"GET /api/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: " + value + b"\r\n\r\n"
    status, _, body, closed = exchange(gateway, req)
    assert_error(status, body, 400, "bad_request")
    assert closed


def test_bare_cr_in_header_value_refused(gateway):
    # Refused by libevent's parser itself: its 400 page, and the connection closed.
    req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\rb\r\n\r\n"
    status, _, body, closed = exchange(gateway, req)
    assert status == 400, body
    assert closed


def test_control_byte_in_other_header_refused(gateway):
    req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\x00b\r\n\r\n"
    status, _, body, _ = exchange(gateway, req)
    assert_error(status, body, 400, "bad_request")


@pytest.mark.parametrize("name", [b"Cont\x00ent-Length", b"X-\x00Note", b"X-No\x01te"])
def test_control_bytes_in_header_name_refused(gateway, name):
    # A NUL in a name reaches the strict check as 0x01 (the NUL guard), like one in a value;
    # found by tests/fuzz/head.c.
    req = b"GET /health HTTP/1.1\r\nHost: x\r\n" + name + b": 2\r\n\r\n"
    status, _, body, closed = exchange(gateway, req)
    assert_error(status, body, 400, "bad_request")
    assert closed


def test_tab_in_header_value_accepted(gateway):
    req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\tb\r\nConnection: close\r\n\r\n"
    status, _, body, _ = exchange(gateway, req)
    assert status == 200, body


def test_nul_in_json_body_still_invalid_json(gateway, db):
    body = b'{"targetAgent":"a\x00","payload":{}}'
    req = post(gateway, b"Content-Type: application/json", b"Content-Length: %d" % len(body), body=body)
    status, _, got, _ = exchange(gateway, req)
    assert status == 400, got
    assert db.count("job_queue") == 0


# --- charset --------------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", [b"application/json; charset=latin1", b"application/json;charset=ISO-8859-1",
                                   b"application/json; charset=utf-16"])
def test_non_utf8_charset_415(gateway, db, ctype):
    req = post(gateway, b"Content-Type: " + ctype, b"Content-Length: %d" % len(JOB))
    status, _, body, _ = exchange(gateway, req)
    assert_error(status, body, 415, "unsupported_media_type")
    assert "charset" in body["error"]["message"] and "UTF-8" in body["error"]["message"]
    assert db.count("job_queue") == 0


@pytest.mark.parametrize("ctype", [b"application/json; charset=utf-8", b"application/json; charset=UTF-8",
                                   b"application/json;charset=\"utf-8\"", b"application/json; Charset=Utf-8"])
def test_utf8_charset_accepted(gateway, db, ctype):
    req = post(gateway, b"Content-Type: " + ctype, b"Content-Length: %d" % len(JOB))
    status, _, body, _ = exchange(gateway, req)
    assert status == 201, body


# --- CONNECT --------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [b"example.com:443", b"/health"])
def test_connect_closes_connection(gateway, target):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        s.sendall(b"CONNECT " + target + b" HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        try:
            status, _, _ = _read_response(s)
            assert status >= 400
        except ConnectionError:
            pass  # closed without an answer: also fine
        assert _closed(s)



# --- chunk extensions (RFC 9112 §7.1.1) ------------------------------------------------------


def _chunked(*pieces, last=b"0"):
    """A chunked body: each piece is (size-line suffix, data); the last-chunk line gets `last`."""
    out = b""
    for ext, data in pieces:
        out += b"%x" % len(data) + ext + b"\r\n" + data + b"\r\n"
    return out + last + b"\r\n\r\n"


def test_chunk_extensions_accepted_and_data_kept(gateway, db):
    job = b'{"targetAgent":"a","payload":{"note":"a;b\\tc;d=1"}}'
    body = _chunked((b";name=val", job[:20]), (b'\t;q="x;y"', job[20:35]), (b"", job[35:]),
                    last=b"0;end")
    req = post(gateway, b"Content-Type: application/json", b"Transfer-Encoding: chunked", body=body)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        s.sendall(req + req)  # two on one connection: the second is framed the same way
        for _ in range(2):
            status, _, answer = _read_response(s)
            assert status == 201, answer
            job_id = json.loads(answer)["id"]
            assert db.scalar(f"SELECT payload->>'note' FROM job_queue WHERE id = {job_id}") == "a;b\tc;d=1"
    assert db.count("job_queue") == 2


def test_bad_chunk_size_line_still_refused(gateway, db):
    body = b"zz;x\r\n" + JOB + b"\r\n0\r\n\r\n"
    req = post(gateway, b"Content-Type: application/json", b"Transfer-Encoding: chunked", body=body)
    status, _, _, closed = exchange(gateway, req)
    # libevent answers every unreadable body with its own 413 page and closes.
    assert status == 413
    assert closed
    assert db.count("job_queue") == 0
