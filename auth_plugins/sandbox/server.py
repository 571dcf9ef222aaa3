"""The sandbox's HTTP server: framing, routing by prefix, and the :class:`Sandbox` control API.

One ``ThreadingHTTPServer`` serves both vendors: TeamUp under ``/teamup/api/v2`` and up2money
under ``/up2money``; ``/_sandbox/...`` holds the control endpoints. HTTP/1.1 keep-alive works
because every answer carries Content-Length and every request body is read to its end
(Content-Length or chunked). HEAD is answered as GET would be, without the body.

With ``tls=True`` the same server speaks HTTPS: accepted sockets are wrapped with the context
of :mod:`.tls`, and the handshake runs in the connection's own thread with a time limit, so a
client that never finishes it cannot hold up the accept loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import socketserver
import ssl
import sys
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .config import TeamUpConfig, Up2MoneyConfig
from .control import CONTROL_PREFIX, handle_control
from .messages import ReceivedRequest, Request, Response, json_response
from .teamup import TeamUpState
from .tls import HANDSHAKE_TIMEOUT, SandboxTLS, TLSFiles, client_cert_name
from .up2money import Up2MoneyState
from .vendor import VendorState

__all__ = ["MAX_BODY_BYTES", "TEAMUP_PREFIX", "UP2MONEY_PREFIX", "Sandbox"]

TEAMUP_PREFIX = "/teamup/api/v2"
UP2MONEY_PREFIX = "/up2money"
#: Largest request body accepted (413 above): a test tool needs no more, and a bound keeps a
#: stray client from filling memory.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: How many requests ``Sandbox.received`` keeps.
RECEIVED_LIMIT = 1000

_log = logging.getLogger(__name__)


class _BadFraming(Exception):
    """The request body's framing is broken; answer 400 (or 413) and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "auth-plugins-sandbox"
    sys_version = ""
    # An idle kept-alive connection is dropped after this long, so threads do not pile up in
    # a long-running command-line sandbox.
    timeout = 300
    # Headers and body go out in separate writes; with Nagle's algorithm on, the client's
    # delayed ACK would stall every answer by ~40 ms.
    disable_nagle_algorithm = True

    server: _SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # Silenced: the default writes every request line (query strings included) to stderr.
        return

    def _read_exact(self, size: int) -> bytes:
        data = self.rfile.read(size)
        if len(data) != size:
            raise _BadFraming(400, "The request body ended early.")
        return data

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1026)
            if not line.endswith(b"\n"):
                raise _BadFraming(400, "Malformed chunk size line.")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _BadFraming(400, "Malformed chunk size.") from None
            if size < 0:
                raise _BadFraming(400, "Malformed chunk size.")
            if size == 0:
                break
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadFraming(413, "Request body too large.")
            parts.append(self._read_exact(size))
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _BadFraming(400, "Missing CRLF after a chunk.")
        # Trailer fields, if any, end with an empty line; they are read and dropped.
        while True:
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
        return b"".join(parts)

    def _read_body(self) -> bytes:
        transfer_encoding = self.headers.get("Transfer-Encoding")
        if transfer_encoding is not None:
            codings = [c.strip().lower() for c in transfer_encoding.split(",")]
            if codings[-1] != "chunked":
                raise _BadFraming(400, "Unsupported Transfer-Encoding.")
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            raise _BadFraming(400, "Invalid Content-Length.") from None
        if length < 0:
            raise _BadFraming(400, "Invalid Content-Length.")
        if length > MAX_BODY_BYTES:
            raise _BadFraming(413, "Request body too large.")
        return self._read_exact(length)

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except _BadFraming as exc:
            # The rest of the stream cannot be trusted to start a new request.
            self.close_connection = True
            self._send(json_response(exc.status, {"message": str(exc)}))
            return
        path, _, query = self.path.partition("?")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        client_cert = None
        if isinstance(self.connection, ssl.SSLSocket):
            client_cert = client_cert_name(self.connection.getpeercert())
        request = Request(
            method=self.command,
            path=path,
            route="",
            query_string=query,
            headers=headers,
            body=body,
            client_ip=str(self.client_address[0]),
            client_cert=client_cert,
        )
        try:
            response = self.server.sandbox.dispatch(request)
        except Exception:
            # The path only, never the query string or headers: they may carry secrets.
            _log.exception("sandbox: internal error answering %s %s", self.command, path)
            response = json_response(500, {"message": "Internal sandbox error."})
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class _SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # stop() closes the live connections itself, so there is nothing to wait for.
    block_on_close = False
    # socketserver's default backlog is 5: dozens of clients connecting at once on a
    # busy machine (a fleet test, a user's parallel suite) would find it full and be
    # refused, as no real vendor would refuse them.
    request_queue_size = 128

    def __init__(
        self, host: str, port: int, sandbox: Sandbox, tls: ssl.SSLContext | None = None
    ) -> None:
        self.sandbox = sandbox
        self.tls = tls
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup that can stall for
        # seconds on a machine with no network; the name is not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.tls is None:
            return connection, address
        # Wrapping does no I/O when the handshake is deferred: the accept loop never waits on
        # a client. finish_request, in the connection's thread, does the handshake.
        try:
            wrapped = self.tls.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        except OSError:
            connection.close()
            raise
        return wrapped, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            # Tracked during the handshake too, so stop() can cut a slow one short.
            self.track(request)
            try:
                request.settimeout(HANDSHAKE_TIMEOUT)
                request.do_handshake()
            except (OSError, ValueError):
                # No client certificate when one is required, a CA the client does not
                # trust, plain HTTP on the TLS port, or a handshake that timed out: the
                # client sees the failure; nothing to answer.
                return
            finally:
                self.untrack(request)
        super().finish_request(request, client_address)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection (kept-alive ones included)."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            # A client that went away (after its own timeout, say) or a connection stop()
            # shut down: routine for a test server, nothing to report.
            return
        _log.error("sandbox: error on a connection", exc_info=True)


def _canonical_user(user: str | None) -> str | None:
    return None if user is None else user.strip().lower()


class Sandbox:
    """A local server that behaves like both vendors' login APIs.

    Usage::

        with Sandbox() as sb:
            requests.post(sb.teamup_url + "/auth/password_login", json={...})
            assert sb.logins("teamup") == 1

    Args:
        host: the address to listen on; loopback by default.
        port: the port; 0 picks a free one (read it back from :attr:`port` or :attr:`url`).
        teamup: TeamUp's configuration (defaults when None).
        up2money: up2money's configuration (defaults when None).
        tls: serve HTTPS with a certificate from a certificate authority made for this
            sandbox (needs the ``sandbox`` extra: ``trustme``). Clients trust it through
            :attr:`ca_file`; the URLs start with ``https://``.
        client_cert_required: with ``tls``, refuse handshakes that present no client
            certificate issued by the sandbox's CA (use :attr:`client_cert_file`). Without it
            a client certificate is optional, and checked and recorded when sent.

    Raises:
        TLSUnavailable: ``tls`` is True and ``trustme`` is not installed (an ImportError whose
            message says what to install).
        ValueError: ``client_cert_required`` without ``tls``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        teamup: TeamUpConfig | None = None,
        up2money: Up2MoneyConfig | None = None,
        tls: bool = False,
        client_cert_required: bool = False,
    ) -> None:
        if client_cert_required and not tls:
            raise ValueError("client_cert_required needs tls=True")
        self.host = host
        self._requested_port = port
        # Made once, so a sandbox started again keeps the same CA and certificates.
        self._tls = SandboxTLS(host, client_cert_required=client_cert_required) if tls else None
        self._tls_files: TLSFiles | None = None
        #: The simulated TeamUp: ``.config`` is live, changes apply from the next request.
        self.teamup = TeamUpState(teamup)
        #: The simulated up2money: ``.config`` is live, changes apply from the next request.
        self.up2money = Up2MoneyState(up2money)
        self._vendors: dict[str, VendorState] = {"teamup": self.teamup, "up2money": self.up2money}
        self._received: deque[ReceivedRequest] = deque(maxlen=RECEIVED_LIMIT)
        self._received_lock = threading.Lock()
        self._server: _SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- life cycle

    def start(self) -> Sandbox:
        """Bind and serve in a background daemon thread; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        context = None if self._tls is None else self._tls.context
        server = _SandboxHTTPServer(self.host, self._requested_port, self, context)
        if self._tls is not None:
            try:
                self._tls_files = self._tls.write_files()
            except BaseException:
                server.server_close()
                raise
        thread = threading.Thread(
            target=server.serve_forever,
            # stop() waits for the loop to notice; a short poll keeps tests' teardown fast.
            kwargs={"poll_interval": 0.02},
            name=f"auth-plugins-sandbox:{server.server_port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; a stopped sandbox may be started again."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        if self._tls_files is not None:
            self._tls_files.remove()
            self._tls_files = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The port the sandbox listens on (raises RuntimeError before start)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        return self._server.server_port

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:8765`` (``https://`` with TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "http" if self._tls is None else "https"
        return f"{scheme}://{host}:{self.port}"

    @property
    def tls(self) -> bool:
        """True when the sandbox serves HTTPS."""
        return self._tls is not None

    @property
    def client_cert_required(self) -> bool:
        """True when TLS handshakes without the sandbox's client certificate are refused."""
        return self._tls is not None and self._tls.client_cert_required

    def _tls_file(self, name: str) -> str:
        if self._tls is None:
            raise RuntimeError("the sandbox serves plain HTTP: create it with tls=True")
        if self._tls_files is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        return str(getattr(self._tls_files, name))

    @property
    def ca_file(self) -> str:
        """Path of the PEM file of the CA to trust (``verify=`` in requests, ``--verify`` in
        HTTPie, ``REQUESTS_CA_BUNDLE``). It lives in a private temporary folder that
        :meth:`stop` removes; raises RuntimeError without TLS or before :meth:`start`."""
        return self._tls_file("ca_file")

    @property
    def client_cert_file(self) -> str:
        """Path of a PEM file holding a client certificate issued by the sandbox's CA and its
        private key: ``cert=`` in requests, ``--cert`` in HTTPie. Same life as
        :attr:`ca_file`."""
        return self._tls_file("client_cert_file")

    @property
    def client_key_file(self) -> str:
        """Path of the client certificate's private key alone (``--cert-key`` in HTTPie)."""
        return self._tls_file("client_key_file")

    @property
    def teamup_url(self) -> str:
        """TeamUp's base URL, e.g. ``http://127.0.0.1:8765/teamup/api/v2``."""
        return self.url + TEAMUP_PREFIX

    @property
    def up2money_url(self) -> str:
        """up2money's base URL, e.g. ``http://127.0.0.1:8765/up2money``."""
        return self.url + UP2MONEY_PREFIX

    # ----------------------------------------------------------------- inspection

    def vendor(self, name: str) -> VendorState:
        """Return a vendor's state by name (``"teamup"`` or ``"up2money"``)."""
        try:
            return self._vendors[name]
        except KeyError:
            known = ", ".join(sorted(self._vendors))
            raise ValueError(f"unknown vendor {name!r}; expected one of: {known}") from None

    def _count(self, kind: str, vendor: str, user: str | None) -> int:
        return self.vendor(vendor).counters.count(kind, _canonical_user(user))

    def logins(self, vendor: str, user: str | None = None) -> int:
        """Successful password logins (all users, or one)."""
        return self._count("logins", vendor, user)

    def login_attempts(self, vendor: str, user: str | None = None) -> int:
        """Every call to the vendor's login endpoint, whatever its answer."""
        return self._count("login_attempts", vendor, user)

    def refreshes(self, vendor: str, user: str | None = None) -> int:
        """Successful token refreshes (TeamUp only: always 0 for up2money)."""
        return self._count("refreshes", vendor, user)

    def api_calls(self, vendor: str, user: str | None = None) -> int:
        """Authenticated API calls answered with a 2xx (login-flow endpoints excluded)."""
        return self._count("api_calls", vendor, user)

    def stats(self) -> dict[str, Any]:
        """Counters per vendor: ``{vendor: {kind: {"total": n, "by_user": {...}}}}``."""
        result: dict[str, Any] = {}
        for name, state in self._vendors.items():
            snapshot: dict[str, Any] = dict(state.counters.snapshot())
            snapshot["scripted_login_answers_pending"] = state.scripts.pending()
            result[name] = snapshot
        return result

    @property
    def received(self) -> list[ReceivedRequest]:
        """The last requests the vendor endpoints received, oldest first (at most 1000).

        Over TLS, each one's ``client_cert`` names the client certificate sent, if any."""
        with self._received_lock:
            return list(self._received)

    # ----------------------------------------------------------------- control

    def _selected(self, vendor: str | None) -> list[VendorState]:
        return list(self._vendors.values()) if vendor is None else [self.vendor(vendor)]

    def revoke_tokens(self, vendor: str | None = None, user: str | None = None) -> int:
        """Revoke tokens (one vendor or both, one user or all): API calls then answer 401.

        For TeamUp the refresh tokens are revoked too. Returns how many tokens were revoked.
        """
        return sum(state.revoke_tokens(user) for state in self._selected(vendor))

    def expire_tokens(self, vendor: str | None = None, user: str | None = None) -> int:
        """Make access tokens behave as expired (TeamUp: 401; up2money: 410 or 400).

        TeamUp's refresh tokens keep working, as they would once an access token lapses.
        Returns how many tokens were expired.
        """
        return sum(state.expire_tokens(user) for state in self._selected(vendor))

    def script_login(
        self,
        vendor: str,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        count: int = 1,
    ) -> None:
        """Make the next ``count`` login calls to ``vendor`` answer exactly this.

        The answer is sent verbatim (no Content-Type is added when ``headers`` has none);
        those calls count as login attempts, not logins. Content-Length is always the
        server's own.
        """
        self.vendor(vendor).scripts.push(status, body, headers, count)

    def reset(self) -> None:
        """Counters, tokens, lockouts, scripted answers, rate-limit windows and
        :attr:`received` back to new. Configuration objects are left as they are."""
        for state in self._vendors.values():
            state.reset()
        with self._received_lock:
            self._received.clear()

    # ----------------------------------------------------------------- routing

    def dispatch(self, request: Request) -> Response:
        """Answer one parsed request: route it to a vendor or to the control endpoints.

        The HTTP handler calls this for every request; it needs no socket, so it can also be
        called directly. HEAD is routed as GET (the handler sends no body), so it gets the
        same status and headers a GET would.
        """
        method = request.method
        if method == "HEAD":
            request = dataclasses.replace(request, method="GET")
        for prefix, state in ((TEAMUP_PREFIX, self.teamup), (UP2MONEY_PREFIX, self.up2money)):
            if request.path == prefix or request.path.startswith(prefix + "/"):
                target = request.path + ("?" + request.query_string if request.query_string else "")
                with self._received_lock:
                    self._received.append(
                        ReceivedRequest(
                            method, target, dict(request.headers), request.body, request.client_cert
                        )
                    )
                return state.handle(dataclasses.replace(request, route=request.path[len(prefix) :]))
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            return handle_control(self, request)
        return json_response(
            404,
            {
                "message": "Not found. TeamUp is served under "
                f"{TEAMUP_PREFIX}, up2money under {UP2MONEY_PREFIX}."
            },
        )
