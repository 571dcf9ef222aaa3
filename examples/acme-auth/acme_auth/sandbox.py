"""A local stand-in for the Acme API, for this plugin's tests and for trying it out.

It listens on loopback only, on a free port unless told otherwise::

    from acme_auth.sandbox import AcmeSandbox, DEMO_USERNAME, DEMO_PASSWORD, DEMO_TENANT

    with AcmeSandbox() as acme:
        auth = get_auth("acme", username=DEMO_USERNAME, password=DEMO_PASSWORD,
                        tenant=DEMO_TENANT, base_url=acme.url)
        requests.get(acme.url + "/whoami", auth=auth)
        assert acme.logins() == 1

or from a shell: ``acme-sandbox`` (``python -m acme_auth.sandbox``).

The bookkeeping and the request/response values come from ``auth_plugins.sandbox``;
the routes are Acme's own:

- ``POST /v1/session`` ``{"login", "password", "tenant"}``: 201
  ``{"session": {"token", "expires_in"}}``; 400 for a bad body, 401
  ``bad_credentials``, 403 ``unknown_tenant``.
- Anything else below ``/v1`` needs ``X-Acme-Token`` and ``X-Acme-Tenant``: 401
  ``token_missing``/``token_invalid``, 419 ``session_expired``, 403
  ``session_revoked`` or ``wrong_tenant``. ``GET /v1/whoami``, ``GET /v1/anvils``
  and ``POST /v1/anvils`` (echoes its JSON body) answer 2xx.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import secrets
import socketserver
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from auth_plugins.sandbox import ReceivedRequest
from auth_plugins.sandbox.bookkeeping import Counters
from auth_plugins.sandbox.messages import Request, Response, json_response

__all__ = [
    "API_PREFIX",
    "DEMO_PASSWORD",
    "DEMO_TENANT",
    "DEMO_USERNAME",
    "AcmeSandbox",
    "main",
]

#: The demo account every sandbox has (made up; not a secret).
DEMO_USERNAME = "wile.e@acme.example"
DEMO_PASSWORD = "beep-beep-42"
DEMO_TENANT = "desert"
#: The API's path below the server root; :attr:`AcmeSandbox.url` includes it.
API_PREFIX = "/v1"
#: Largest request body read; a test server needs no more.
MAX_BODY_BYTES = 1024 * 1024


@dataclass
class _Session:
    login: str
    tenant: str
    expires_at: float
    revoked: bool = False


def _error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"code": code, "message": message})


class AcmeSandbox:
    """The Acme API on ``127.0.0.1``: sessions, counters, and switches for tests.

    Args:
        port: 0 (the default) picks a free port; read the URL back from :attr:`url`.
        token_lifetime: seconds a session lives (live: change it at any time).
        users: ``{login: (password, tenant)}``; default: the demo account.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        token_lifetime: float = 900.0,
        users: Optional[Mapping[str, tuple[str, str]]] = None,
    ) -> None:
        self.token_lifetime = token_lifetime
        self.users = dict(users or {DEMO_USERNAME: (DEMO_PASSWORD, DEMO_TENANT)})
        #: Per-login counts of ``logins``, ``login_attempts`` and ``api_calls``.
        self.counters = Counters()
        self._port = port
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._received: list[ReceivedRequest] = []
        self._server: Optional[_Server] = None

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> AcmeSandbox:
        """Serve in a background daemon thread; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("the Acme sandbox is already running")
        server = _Server(("127.0.0.1", self._port), self)
        self._server = server
        threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"acme-sandbox:{server.server_port}",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> AcmeSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:8766/v1``."""
        if self._server is None:
            raise RuntimeError("the Acme sandbox is not running: call start() first")
        return f"http://127.0.0.1:{self._server.server_port}{API_PREFIX}"

    # -- what happened ----------------------------------------------------------

    def logins(self, user: Optional[str] = None) -> int:
        """Successful logins (all users, or one login)."""
        return self.counters.count("logins", user)

    def login_attempts(self, user: Optional[str] = None) -> int:
        """Calls to ``POST /v1/session``, whatever their answer."""
        return self.counters.count("login_attempts", user)

    def api_calls(self, user: Optional[str] = None) -> int:
        """API calls answered with a 2xx."""
        return self.counters.count("api_calls", user)

    @property
    def received(self) -> list[ReceivedRequest]:
        """Every request received, oldest first."""
        with self._lock:
            return list(self._received)

    # -- switches -----------------------------------------------------------------

    def expire_tokens(self) -> int:
        """End every session as if its time was up (API calls answer 419); how many."""
        with self._lock:
            for session in self._sessions.values():
                session.expires_at = 0.0
            return len(self._sessions)

    def revoke_tokens(self) -> int:
        """End every session as an administrator would (403 session_revoked); how many."""
        with self._lock:
            for session in self._sessions.values():
                session.revoked = True
            return len(self._sessions)

    # -- the API ------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (the HTTP plumbing is in :class:`_Handler`)."""
        with self._lock:
            self._received.append(
                ReceivedRequest(request.method, request.path, dict(request.headers), request.body)
            )
        if not request.path.startswith(API_PREFIX + "/"):
            return _error(404, "not_found", f"The Acme API lives under {API_PREFIX}/.")
        route = request.path[len(API_PREFIX) :]
        if route == "/session":
            if request.method != "POST":
                return _error(405, "method_not_allowed", "Log in with POST.")
            return self._login(request)
        return self._api(request, route)

    def _login(self, request: Request) -> Response:
        try:
            data = json.loads(request.body or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self.counters.add("login_attempts", "")
            return _error(400, "bad_request", "The body must be a JSON object.")
        login, password, tenant = (data.get(f) for f in ("login", "password", "tenant"))
        self.counters.add("login_attempts", login if isinstance(login, str) else "")
        if not (isinstance(login, str) and isinstance(password, str) and isinstance(tenant, str)):
            return _error(400, "missing_field", "login, password and tenant are required text.")
        known = self.users.get(login)
        # compare_digest: a stand-in for a real server, with a real server's habits.
        if known is None or not hmac.compare_digest(
            known[0].encode("utf-8"), password.encode("utf-8")
        ):
            return _error(401, "bad_credentials", "Wrong login or password.")
        if tenant != known[1]:
            return _error(403, "unknown_tenant", "This login has no such tenant.")
        token = secrets.token_urlsafe(24)
        lifetime = self.token_lifetime
        with self._lock:
            self._sessions[token] = _Session(login, tenant, time.monotonic() + lifetime)
        self.counters.add("logins", login)
        return json_response(201, {"session": {"token": token, "expires_in": lifetime}})

    def _api(self, request: Request, route: str) -> Response:
        token = request.header("X-Acme-Token")
        if not token:
            return _error(401, "token_missing", "Send your session token as X-Acme-Token.")
        with self._lock:
            session = self._sessions.get(token)
        if session is None:
            return _error(401, "token_invalid", "Unknown session token.")
        if session.revoked:
            return _error(403, "session_revoked", "An administrator ended this session.")
        if time.monotonic() >= session.expires_at:
            return _error(419, "session_expired", "The session expired; log in again.")
        if request.header("X-Acme-Tenant") != session.tenant:
            return _error(403, "wrong_tenant", "X-Acme-Tenant does not match the session.")
        answer = self._resource(request, route, session)
        if 200 <= answer.status < 300:
            self.counters.add("api_calls", session.login)
        return answer

    def _resource(self, request: Request, route: str, session: _Session) -> Response:
        if (request.method, route) == ("GET", "/whoami"):
            return json_response(200, {"login": session.login, "tenant": session.tenant})
        if (request.method, route) == ("GET", "/anvils"):
            return json_response(200, {"anvils": [{"id": 1, "weight_kg": 450}]})
        if (request.method, route) == ("POST", "/anvils"):
            try:
                created = json.loads(request.body)
            except ValueError:
                return _error(400, "bad_request", "The body must be JSON.")
            return json_response(201, {"created": created})
        return _error(404, "not_found", f"No route {request.method} {API_PREFIX}{route}.")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length
    server_version = "acme-sandbox"
    sys_version = ""
    timeout = 30  # an idle kept-alive connection ends after this long
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: request lines are of no use in test output

    def _dispatch(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send(_error(411, "length_required", "Send a Content-Length body."))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            # The rest of the stream cannot be trusted to start a new request.
            self.close_connection = True
            self._send(_error(400, "bad_length", "Content-Length must be 0 to 1 MiB."))
            return
        path, _, query = self.path.partition("?")
        request = Request(
            method=self.command,
            path=path,
            route=path,
            query_string=query,
            headers=dict(self.headers.items()),
            body=self.rfile.read(length),
            client_ip=str(self.client_address[0]),
        )
        self._send(self.server.sandbox.handle(request))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], sandbox: AcmeSandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall with no network.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])


def main(argv: Optional[list[str]] = None) -> int:
    """``acme-sandbox [--port N]``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="acme-sandbox", description="Serve a local Acme API on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=8766, help="port (0: any free one)")
    parser.add_argument("--token-lifetime", type=float, default=900.0, help="seconds")
    options = parser.parse_args(argv)
    with AcmeSandbox(options.port, token_lifetime=options.token_lifetime) as sandbox:
        print(f"Acme sandbox on {sandbox.url}")
        print(f"  login {DEMO_USERNAME}  password {DEMO_PASSWORD}  tenant {DEMO_TENANT}")
        print(f"  export ACME_BASE_URL={sandbox.url} ACME_TENANT={DEMO_TENANT}")
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
