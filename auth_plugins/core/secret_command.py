"""A secret from a command: ``pass show teamup/alice``, ``op read ...``, ``vault kv get ...``.

The command runs without a shell, stdin closed, within a timeout
(:data:`COMMAND_TIMEOUT_ENV`); the first line of its output is the secret. The
output is never logged or quoted; on failure the error names the command and
quotes its stderr, bounded, one line, with whatever it printed on stdout taken out.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import threading
from collections.abc import Sequence
from typing import IO, Any, Optional

from .errors import ConfigError
from .secrets import LazySecret
from .text import quote, redact
from .vendor import Vendor

logger = logging.getLogger("auth_plugins")

#: Seconds a secret command may run (default :data:`DEFAULT_COMMAND_TIMEOUT`).
COMMAND_TIMEOUT_ENV = "AUTH_PLUGINS_COMMAND_TIMEOUT"
DEFAULT_COMMAND_TIMEOUT = 30.0
#: Bytes of a command's stdout or stderr we keep; a secret is far shorter.
OUTPUT_LIMIT = 64 * 1024
#: How much of a failed command's stderr an error quotes.
STDERR_QUOTE = 300


class CommandSecret(LazySecret):
    """A command whose first line of output is the secret (``pass show teamup/alice``).

    Run without a shell, stdin closed, within a timeout; its output is never
    logged or quoted, its stderr is quoted (bounded) when it fails.
    """

    def __init__(self, vendor: Vendor, name: str, command: Any, origin: str) -> None:
        self.vendor = vendor
        self.name = name
        if not isinstance(command, str):
            raise ConfigError(f"{vendor.title} {origin} must be a command line (a string)")
        self.command = command
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise ConfigError(f"{vendor.title} {origin} is not a command line: {exc}") from None
        if not self.argv:
            raise ConfigError(
                f"{vendor.title} {origin} is empty; give a command printing the {name}"
            )
        self.where = f"the command {quote(command, 500)!r} ({origin})"

    def fetch(self) -> Optional[str]:
        """Run the command; its first line (without the line ending) is the secret."""
        timeout = command_timeout()
        logger.debug("%s: running %s for the %s", self.vendor.name, self.where, self.name)
        try:
            status, out, err = run_bounded(self.argv, timeout)
        except OSError as exc:  # not found, not executable
            raise self._failed(f"could not start: {exc.strerror or type(exc).__name__}") from None
        except subprocess.TimeoutExpired:
            raise self._failed(
                f"did not finish within {timeout:g}s (set {COMMAND_TIMEOUT_ENV} for longer)"
            ) from None
        printed = [line for line in out.decode("utf-8", "replace").splitlines() if line]
        if status != 0:
            raise self._failed(f"exited with status {status}", err, printed)
        if len(out) > OUTPUT_LIMIT:
            raise self._failed(f"printed more than {OUTPUT_LIMIT} bytes", err, printed)
        text = _utf8(out)
        if text is None:  # raised here: the decode error would keep the output (the secret)
            raise self._failed("printed something that is not UTF-8 text", err, printed)
        # ``pass show`` prints the password on line 1 and notes below it.
        first = text.split("\n", 1)[0].rstrip("\r")
        if not first:
            raise self._failed(f"printed no {self.name} on its first line", err, printed)
        return first

    def _failed(self, what: str, err: bytes = b"", printed: Sequence[str] = ()) -> ConfigError:
        message = f"{self.vendor.title}: {self.where}, run for the {self.name}, {what}"
        # stderr is quoted for the diagnosis, with anything the command printed on
        # stdout (the secret, or half of it) taken out first.
        said = quote(redact(err[:OUTPUT_LIMIT].decode("utf-8", "replace"), printed), STDERR_QUOTE)
        return ConfigError(f"{message}; it said: {said}" if said else message)


def command_timeout() -> float:
    """Seconds a secret command may run: :data:`COMMAND_TIMEOUT_ENV`, else 30."""
    text = os.environ.get(COMMAND_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_COMMAND_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ConfigError(f"{COMMAND_TIMEOUT_ENV} must be a positive number of seconds")
    return seconds


def run_bounded(argv: Sequence[str], timeout: float) -> tuple[int, bytes, bytes]:
    """Run ``argv`` (no shell, stdin closed): ``(status, stdout, stderr)``, each output bounded.

    Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds, the command
    (and, on POSIX, what it started) killed first.
    """
    process = subprocess.Popen(  # noqa: S603 - a command the user configured, without a shell
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Its own process group, so that a timeout kills what it started too.
        start_new_session=os.name == "posix",
    )
    assert process.stdout is not None
    assert process.stderr is not None
    readers = [_Reader(process.stdout), _Reader(process.stderr)]
    try:
        status = process.wait(timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        raise
    finally:
        for reader in readers:
            # Bounded: the pipes close when the command and its children end; a
            # daemon that keeps them open is left to its (daemon) reader thread.
            reader.thread.join(timeout=5)
    return status, readers[0].data, readers[1].data


class _Reader:
    """Reads a pipe to its end on a thread, keeping the first :data:`OUTPUT_LIMIT` + 1 bytes.

    Draining the rest keeps a chatty command from blocking on a full pipe.
    """

    def __init__(self, pipe: IO[bytes]) -> None:
        self.pipe = pipe
        self.data = b""
        self.thread = threading.Thread(target=self._read, daemon=True, name="auth-plugins-command")
        self.thread.start()

    def _read(self) -> None:
        with self.pipe:
            for chunk in iter(lambda: self.pipe.read1(8192), b""):  # type: ignore[attr-defined]
                if len(self.data) <= OUTPUT_LIMIT:
                    self.data += chunk[: OUTPUT_LIMIT + 1 - len(self.data)]


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        if os.name == "posix":
            os.killpg(process.pid, 9)
        else:
            process.kill()
    except OSError:
        pass
    process.wait()


def _utf8(data: bytes) -> Optional[str]:
    """``data`` as UTF-8 text, ``None`` when it is not (nothing of the error kept)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
