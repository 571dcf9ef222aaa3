"""Tests of the loopback test servers themselves (netservers.py): real sockets, real requests."""

from __future__ import annotations

import gzip
import socket
import struct
import zlib
from collections.abc import Iterator

import pytest
import requests
from netservers import (
    GIB,
    MIB,
    BombServer,
    ForwardProxy,
    HollowGzipServer,
    SlowDripServer,
    drip_body,
    gzip_bomb,
    is_loopback,
)

from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    Sandbox,
)

TIMEOUT = 5  # seconds: every request to a loopback server is bounded

TEAMUP_LOGIN = {
    "username": DEMO_TEAMUP_USERNAME,
    "password": DEMO_TEAMUP_PASSWORD,
    "direct_auth_key": DEMO_TEAMUP_DIRECT_AUTH_KEY,
}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False  # no proxy or CA bundle from the machine's environment
    yield session
    session.close()


def _raw_request(port: int, request: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(request)
    return sock


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = sock.recv(1)  # byte by byte: nothing after the head is consumed
        if not chunk:
            break
        data += chunk
    return data


# ------------------------------------------------------------------------------------- proxy


def test_proxy_forwards_a_plain_http_request(
    forward_proxy: ForwardProxy, sandbox: Sandbox, http: requests.Session
) -> None:
    url = sandbox.teamup_url + "/auth/password_login"
    response = http.post(
        url, json=TEAMUP_LOGIN, proxies={"http": forward_proxy.url}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    assert response.json()["access_token"]
    assert forward_proxy.seen == [("POST", url)]
    assert sandbox.logins("teamup") == 1
    # The hop-by-hop headers stayed with the proxy; the rest reached the sandbox.
    received = sandbox.received[-1].headers
    assert received["Connection"] == "close"
    assert "Proxy-Connection" not in received


def test_proxy_tunnels_https_with_connect(
    forward_proxy: ForwardProxy, auth_plugins_sandbox_tls: Sandbox, http: requests.Session
) -> None:
    sb = auth_plugins_sandbox_tls
    proxies = {"https": forward_proxy.url}
    for _ in range(2):
        response = http.post(
            sb.teamup_url + "/auth/password_login",
            json=TEAMUP_LOGIN,
            proxies=proxies,
            verify=sb.ca_file,
            timeout=TIMEOUT,
        )
        assert response.status_code == 200
    # Through a tunnel the proxy sees only where to, and requests keeps it open for both.
    assert forward_proxy.seen == [("CONNECT", f"127.0.0.1:{sb.port}")]
    assert sb.logins("teamup") == 2


def test_proxy_records_the_proxy_authorization_it_was_sent(
    forward_proxy: ForwardProxy, sandbox: Sandbox, http: requests.Session
) -> None:
    proxy_url = forward_proxy.url.replace("http://", "http://user:pw@")
    url = sandbox.teamup_url + "/nowhere"
    response = http.get(url, proxies={"http": proxy_url}, timeout=TIMEOUT)
    assert response.status_code == 404
    assert forward_proxy.requests[0].headers["Proxy-Authorization"].startswith("Basic ")
    assert "Proxy-Authorization" not in sandbox.received[-1].headers


def test_proxy_refuses_targets_off_this_machine(forward_proxy: ForwardProxy) -> None:
    # 0.0.0.0 is not loopback; were the check missing, it would still stay on this machine.
    with _raw_request(forward_proxy.port, b"CONNECT 0.0.0.0:9 HTTP/1.1\r\n\r\n") as sock:
        assert _read_head(sock).startswith(b"HTTP/1.1 403 ")
    assert forward_proxy.seen == [("CONNECT", "0.0.0.0:9")]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_proxy_stop_ends_an_open_tunnel(sandbox: Sandbox) -> None:
    proxy = ForwardProxy().start()
    try:
        request = f"CONNECT 127.0.0.1:{sandbox.port} HTTP/1.1\r\n\r\n".encode()
        sock = _raw_request(proxy.port, request)
        assert _read_head(sock).startswith(b"HTTP/1.1 200 ")
    finally:
        proxy.stop()  # raises if the relay thread did not end
    with sock:
        assert sock.recv(1) == b""  # the proxy closed its end


# --------------------------------------------------------------------------------- slow drip


def test_drip_server_sends_one_byte_at_a_time(slow_drip_server: SlowDripServer) -> None:
    request = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    with _raw_request(slow_drip_server.port, request) as sock:
        head = _read_head(sock)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"Content-Length: 600\r\n" in head
        assert sock.recv(100) == b"{"  # the first byte comes at once...
        sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            sock.recv(100)  # ...the next one a second later
    assert slow_drip_server.seen == [("POST", "/login")]


def test_drip_server_hangs_up_after_its_give_up_time() -> None:
    """A client that ignores its deadline gets a cut body within seconds, not minutes."""
    request = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    server = SlowDripServer(interval=0.05, size=200, give_up=0.3)
    with server, _raw_request(server.port, request) as sock:
        head = _read_head(sock)
        assert b"Content-Length: 200\r\n" in head
        body = b""
        while chunk := sock.recv(100):  # until the server closes the connection
            body += chunk
    assert body.startswith(b"{")
    assert 3 <= len(body) < 200  # some bytes dripped, then the hang-up cut the rest


def test_hollow_gzip_server_sends_blocks_that_inflate_to_nothing_then_hangs_up() -> None:
    """A gzip header, then empty deflate blocks: valid gzip that decodes to no byte, until
    the server gives up."""
    request = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    server = HollowGzipServer(interval=0.01, blocks=3, give_up=0.3)
    with server, _raw_request(server.port, request) as sock:
        head = _read_head(sock)
        body = b""
        while chunk := sock.recv(4096):  # until the server closes the connection
            body += chunk
    assert b"Content-Encoding: gzip\r\n" in head
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert decoder.decompress(body) == b""  # nothing decoded, and no error either
    assert not decoder.eof  # the stream never ended: the server hung up on it
    assert len(body) > 10 + 15  # the gzip header and more than one piece of blocks


def test_hollow_gzip_server_inflates_to_its_content_first() -> None:
    request = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    server = HollowGzipServer(interval=0.01, blocks=3, give_up=0.3, content=b"{" + b" " * 999)
    with server, _raw_request(server.port, request) as sock:
        _read_head(sock)
        body = b""
        while chunk := sock.recv(4096):
            body += chunk
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert decoder.decompress(body) == b"{" + b" " * 999  # then nothing more
    assert not decoder.eof


def test_drip_server_body_is_json(http: requests.Session) -> None:
    with SlowDripServer(interval=0.001, size=100) as server:
        response = http.post(server.url + "/auth", json={}, timeout=TIMEOUT)
    assert response.status_code == 200
    assert len(response.content) == 100
    assert response.json()["access_token"] == "drip-token"


def test_drip_server_stops_mid_answer() -> None:
    server = SlowDripServer(interval=60).start()
    try:
        sock = _raw_request(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_head(sock).startswith(b"HTTP/1.1 200 ")
        assert sock.recv(1) == b"{"
    finally:
        server.stop()  # does not wait out the 60 s; raises if a thread is left
    with sock:
        assert sock.recv(1) == b""


def test_drip_body_has_the_size_asked_for() -> None:
    assert len(drip_body(600)) == 600
    with pytest.raises(ValueError, match="at least"):
        drip_body(10)


# ------------------------------------------------------------------------------------- bombs


def test_gzip_bomb_is_a_valid_gzip_stream() -> None:
    small = gzip_bomb(8 * MIB)
    assert gzip.decompress(small) == b" " * (8 * MIB)  # checks the CRC and length too
    big = gzip_bomb()
    assert len(big) < 1.1 * MIB
    assert struct.unpack("<I", big[-4:])[0] == GIB % 2**32
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert inflater.decompress(big[:4096], 65536) == b" " * 65536


def test_bomb_server_answers_gzip(bomb_server: BombServer, http: requests.Session) -> None:
    with http.post(bomb_server.gzip_url, json={}, stream=True, timeout=TIMEOUT) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Content-Encoding"] == "gzip"
        assert int(response.headers["Content-Length"]) == len(bomb_server.gzip_body)
        assert response.raw.read(1024, decode_content=True) == b" " * 1024
    assert bomb_server.seen == [("POST", "/gzip")]


def test_bomb_server_answers_plain(bomb_server: BombServer, http: requests.Session) -> None:
    with http.post(bomb_server.plain_url, data=b"x", stream=True, timeout=TIMEOUT) as response:
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers
        assert int(response.headers["Content-Length"]) == 50 * MIB
        assert response.raw.read(1024) == b" " * 1024
    assert bomb_server.seen == [("POST", "/plain")]
