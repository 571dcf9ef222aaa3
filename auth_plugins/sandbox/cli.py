"""``auth-plugins sandbox``: run the sandbox in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any, Callable, Union

from .config import TeamUpConfig, Up2MoneyConfig
from .server import Sandbox
from .tls import TLSUnavailable

__all__ = ["build_parser", "main"]

DEFAULT_PORT = 8765

_SignalHandler = Union[Callable[[int, Union[FrameType, None]], Any], int, None]


def _is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _expires_in(text: str) -> int | None:
    if text.strip().lower() in ("null", "none"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or 'null', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def build_parser(prog: str = "auth-plugins sandbox") -> argparse.ArgumentParser:
    """Return the command's argument parser."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a local imitation of the TeamUp and up2money login APIs.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0: a free one)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the sandbox has no real security)",
    )
    parser.add_argument(
        "--teamup-expires-in",
        type=_expires_in,
        default=TeamUpConfig.expires_in,
        metavar="SECONDS|null",
        help="lifetime of TeamUp access tokens (default %(default)s; null: never expire)",
    )
    parser.add_argument(
        "--up2money-idle-timeout",
        type=_positive_seconds,
        default=Up2MoneyConfig.idle_timeout,
        metavar="SECONDS",
        help="seconds of idleness after which an up2money token expires (default %(default)s)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate from a CA made for this run; prints the CA file "
        "to trust (needs: pip install 'auth-plugins[sandbox]')",
    )
    parser.add_argument(
        "--client-cert-required",
        action="store_true",
        help="with TLS (implies --tls): refuse clients without the client certificate the "
        "sandbox prints",
    )
    return parser


def describe(sandbox: Sandbox) -> str:
    """The banner: base URLs, demo credentials and the variables to export."""
    teamup, up2money = sandbox.teamup.config, sandbox.up2money.config
    lines = [f"auth-plugins sandbox listening on {sandbox.url}  (Ctrl-C to stop)"]
    if sandbox.tls:
        lines += _describe_tls(sandbox)
    lines += [
        "",
        f"TeamUp     {sandbox.teamup_url}",
        f"  direct_auth_key  {teamup.direct_auth_key}",
        f"  expires_in       {teamup.expires_in}",
    ]
    for index, (name, user) in enumerate(teamup.users.items()):
        notes = []
        if user.two_factor:
            notes.append(f"two-factor: SMS code {teamup.sms_code} to {user.phone}")
        if len(user.providers) > 1:
            ids = ", ".join(str(p) for p in user.providers)
            notes.append(f"providers {ids}: send TeamUp-Provider-ID")
        label = "  users           " if index == 0 else "                  "
        suffix = f"  ({'; '.join(notes)})" if notes else ""
        lines.append(f"{label} {name} / {user.password}{suffix}")
    lines += [
        "",
        f"up2money   {sandbox.up2money_url}",
        f"  x-secret         {up2money.secret}",
        f"  idle timeout     {up2money.idle_timeout:g} s",
        f"  step-up code     {up2money.stepup_code}",
    ]
    for index, (email, account) in enumerate(up2money.users.items()):
        label = "  users           " if index == 0 else "                  "
        lines.append(f"{label} {email} / {account.password}  ({account.identity_type})")
    exports = {
        "TEAMUP_BASE_URL": sandbox.teamup_url,
        "TEAMUP_DIRECT_AUTH_KEY": teamup.direct_auth_key,
        "UP2MONEY_BASE_URL": sandbox.up2money_url,
        "UP2MONEY_SECRET": up2money.secret,
    }
    lines += ["", "Environment for clients:"]
    lines += [f"  export {name}={shlex.quote(value)}" for name, value in exports.items()]
    if sandbox.tls:
        lines += _tls_examples(sandbox)
    lines += [
        "",
        f"Control: GET {sandbox.url}/_sandbox/stats; POST /_sandbox/revoke, /_sandbox/expire, "
        "/_sandbox/reset",
    ]
    return "\n".join(lines)


def _describe_tls(sandbox: Sandbox) -> list[str]:
    """Banner lines right under the first: where the CA (and client certificate) files are."""
    lines = [f"CA file (trust it)   {sandbox.ca_file}"]
    required = "required" if sandbox.client_cert_required else "optional"
    lines.append(f"client cert+key      {sandbox.client_cert_file}  ({required})")
    lines.append(f"client key alone     {sandbox.client_key_file}")
    return lines


def _tls_examples(sandbox: Sandbox) -> list[str]:
    """Example commands that trust the sandbox's CA (and send its client certificate)."""
    ca = shlex.quote(sandbox.ca_file)
    cert = cert_kwarg = ""
    if sandbox.client_cert_required:
        cert = f" --cert={shlex.quote(sandbox.client_cert_file)}"
        cert_kwarg = f", cert={sandbox.client_cert_file!r}"
    # REQUESTS_CA_BUNDLE is shown per command, not exported: it replaces the system's CAs,
    # so other HTTPS sites would fail to verify in that shell.
    return [
        "",
        "Trust the CA (requests and HTTPie read REQUESTS_CA_BUNDLE; it replaces the system's CAs):",
        f"  REQUESTS_CA_BUNDLE={ca} http{cert} -A teamup -a alice@example.com "
        "$TEAMUP_BASE_URL/customers",
        f"  http --verify={ca}{cert} $TEAMUP_BASE_URL/customers",
        f"  requests.get(url, verify={sandbox.ca_file!r}{cert_kwarg})",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox in the foreground; returns the process exit status."""
    args = build_parser().parse_args(argv)
    if not args.allow_remote and not _is_loopback(args.host):
        print(
            f"auth-plugins sandbox: refusing to listen on {args.host!r}: it is not a loopback "
            "address, and the sandbox hands out fake credentials with no real security. "
            "Pass --allow-remote to do it anyway.",
            file=sys.stderr,
        )
        return 2
    try:
        sandbox = Sandbox(
            host=args.host,
            port=args.port,
            teamup=TeamUpConfig(expires_in=args.teamup_expires_in),
            up2money=Up2MoneyConfig(idle_timeout=args.up2money_idle_timeout),
            tls=args.tls or args.client_cert_required,
            client_cert_required=args.client_cert_required,
        )
    except TLSUnavailable as exc:
        print(f"auth-plugins sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        sandbox.start()
    except OSError as exc:
        reason = exc.strerror or exc
        print(
            f"auth-plugins sandbox: cannot listen on {args.host}:{args.port}: {reason}",
            file=sys.stderr,
        )
        return 1

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, _SignalHandler] = {}
    # Signal handlers can only be set from the main thread (tests may call main elsewhere).
    if threading.current_thread() is threading.main_thread():
        for wanted in (signal.SIGINT, signal.SIGTERM):
            previous[wanted] = signal.signal(wanted, request_stop)
    try:
        print(describe(sandbox), flush=True)
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        sandbox.stop()
    print("auth-plugins sandbox stopped.", flush=True)
    return 0
