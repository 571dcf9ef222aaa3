"""Safe retries: what is resent after a re-login is byte for byte what was sent first.

The sandbox's ``/echo`` keeps the exact bytes of each request it received
(``sandbox.received``); the tests compare the SHA-256 of both attempts. Bodies
that cannot be rewound are never resent: the token is renewed and
``BodyNotReplayable`` carries the vendor's 401/410.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Union

import pytest
from helpers import VendorAuth, session_with, vendor_url

from auth_plugins import AuthPluginError, BodyNotReplayable
from auth_plugins.sandbox import Sandbox

#: Binary, every byte value, bigger than one socket buffer.
PAYLOAD = bytes(range(256)) * 300
TEXT = "Grüße, 東京 — ünïcødé\n" * 500

Body = Union[bytes, str, io.IOBase]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reject_tokens(sandbox: Sandbox, vendor: str, how: str) -> int:
    """Make the current token fail: ``revoke`` (401) or ``expire`` (TeamUp 401, up2money 410)."""
    if how == "revoke":
        sandbox.revoke_tokens(vendor)
        return 401
    sandbox.expire_tokens(vendor)
    return 401 if vendor == "teamup" else 410


def echoes(sandbox: Sandbox, since: int) -> list[bytes]:
    return [r.body for r in sandbox.received[since:] if r.path.endswith("/echo")]


@pytest.fixture
def binary_file(tmp_path: Path) -> Iterator[io.BufferedReader]:
    path = tmp_path / "upload.bin"
    path.write_bytes(PAYLOAD)
    with path.open("rb") as file:
        yield file


REPLAYABLE: dict[str, Callable[[Path], tuple[Any, bytes]]] = {
    "bytes": lambda tmp: (PAYLOAD, PAYLOAD),
    "str": lambda tmp: (TEXT, TEXT.encode("utf-8")),
    "BytesIO": lambda tmp: (io.BytesIO(PAYLOAD), PAYLOAD),
}


def open_file_at(tmp: Path, offset: int) -> tuple[Any, bytes]:
    path = tmp / f"upload-{offset}.bin"
    path.write_bytes(PAYLOAD)
    file = path.open("rb")
    file.seek(offset)
    # requests sends from where the file stands; a resend must start there again, not at 0.
    return file, PAYLOAD[offset:]


REPLAYABLE["file"] = lambda tmp: open_file_at(tmp, 0)
REPLAYABLE["file-at-offset"] = lambda tmp: open_file_at(tmp, 1000)


@pytest.mark.parametrize("kind", sorted(REPLAYABLE))
@pytest.mark.parametrize(
    ("vendor", "how"), [("teamup", "revoke"), ("teamup", "expire"), ("up2money", "expire")]
)
def test_rewindable_body_is_resent_byte_for_byte(
    sandbox: Sandbox, vendor_auth: VendorAuth, tmp_path: Path, kind: str, vendor: str, how: str
) -> None:
    session = session_with(vendor_auth(vendor))
    url = vendor_url(sandbox, vendor) + "/echo"
    assert session.get(url).status_code == 200
    status = reject_tokens(sandbox, vendor, how)
    body, expected = REPLAYABLE[kind](tmp_path)
    since = len(sandbox.received)

    # A timeout: a resend that lost its body would leave both ends waiting.
    response = session.put(url, data=body, timeout=5)

    assert response.status_code == 200, response.text
    assert [r.status_code for r in response.history] == [status]
    first, second = echoes(sandbox, since)
    assert (sha(first), sha(second)) == (sha(expected), sha(expected))
    assert response.json()["body_sha256"] == sha(expected)
    if isinstance(body, io.IOBase):
        body.close()


def a_generator() -> Iterator[bytes]:
    yield b"first part, "
    yield b"second part"


def a_pipe(tmp: Path) -> io.BufferedReader:
    """The read end of a pipe holding some bytes: a stream with no way back."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"bytes from a pipe")
    os.close(write_fd)
    return open(read_fd, "rb")


NOT_REPLAYABLE: dict[str, Callable[[Path], Any]] = {
    "generator": lambda tmp: a_generator(),
    "iterator": lambda tmp: iter([b"one ", b"two ", b"three"]),
    "pipe": a_pipe,
}


@pytest.mark.parametrize("kind", sorted(NOT_REPLAYABLE))
@pytest.mark.parametrize(("vendor", "how"), [("teamup", "revoke"), ("up2money", "expire")])
def test_stream_body_is_not_resent_and_the_token_is_renewed(
    sandbox: Sandbox, vendor_auth: VendorAuth, tmp_path: Path, kind: str, vendor: str, how: str
) -> None:
    auth = vendor_auth(vendor)
    session = session_with(auth)
    url = vendor_url(sandbox, vendor) + "/echo"
    assert session.get(url).status_code == 200
    old_token = auth.token
    status = reject_tokens(sandbox, vendor, how)
    body = NOT_REPLAYABLE[kind](tmp_path)
    since = len(sandbox.received)

    with pytest.raises(BodyNotReplayable) as caught:
        session.post(url, data=body, timeout=5)

    error = caught.value
    assert isinstance(error, AuthPluginError)
    assert error.response is not None
    assert error.response.status_code == status
    assert "send the request again" in str(error)
    # Sent once, never again (no empty second upload).
    assert len(echoes(sandbox, since)) == 1
    # The token is renewed already: sending again needs no further login.
    assert auth.token is not None
    assert auth.token is not old_token
    logins = sandbox.logins(vendor) + sandbox.refreshes(vendor)
    assert logins == 2
    since = len(sandbox.received)
    response = session.post(url, data=b"again")
    assert response.status_code == 200
    assert response.history == []
    assert sandbox.logins(vendor) + sandbox.refreshes(vendor) == logins
    assert echoes(sandbox, since) == [b"again"]
    if isinstance(body, io.IOBase):
        body.close()
