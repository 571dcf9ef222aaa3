"""HTTPS for the sandbox: a throwaway certificate authority, its certificates and PEM files.

Everything is made with ``trustme`` (the ``sandbox`` extra), imported only when a sandbox is
asked for TLS, so the plain-HTTP sandbox and the pytest plugin never need it. The CA exists
only in this process: a client trusts the sandbox by trusting :attr:`SandboxTLS.ca_pem`
(written out as the sandbox's ``ca_file``), and a CA it does not trust makes verification fail
as with any server.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "CLIENT_CERT_NAME",
    "HANDSHAKE_TIMEOUT",
    "SERVER_NAMES",
    "SandboxTLS",
    "TLSFiles",
    "TLSUnavailable",
    "client_cert_name",
]

#: Names the server certificate is valid for (plus the sandbox's own host when it differs).
SERVER_NAMES = ("127.0.0.1", "localhost", "::1")
#: The common name of the client certificate the sandbox issues; ``ReceivedRequest.client_cert``
#: holds it for requests made with that certificate.
CLIENT_CERT_NAME = "auth-plugins sandbox client"
#: Seconds a connection may take to finish the TLS handshake before it is dropped, so a client
#: that connects and then says nothing ties up one thread for a bounded time only.
HANDSHAKE_TIMEOUT = 10.0

_INSTALL_HINT = "pip install 'auth-plugins[sandbox]'"


class TLSUnavailable(ImportError):
    """The sandbox was asked for TLS but ``trustme`` (the ``sandbox`` extra) is not installed."""


def _names_for(host: str) -> list[str]:
    names = list(SERVER_NAMES)
    bare = host.strip("[]")
    try:
        # A wildcard listening address is no name a client can connect to.
        unspecified = ipaddress.ip_address(bare).is_unspecified
    except ValueError:
        unspecified = False
    if bare and not unspecified and bare not in names:
        names.append(bare)
    return names


class TLSFiles:
    """PEM files of one running sandbox, in a private folder removed by :meth:`remove`."""

    def __init__(self, tls: SandboxTLS) -> None:
        # mkdtemp makes the folder 0700: the client key inside is readable by its owner only.
        self.directory = Path(tempfile.mkdtemp(prefix="auth-plugins-sandbox-tls-"))
        #: The CA certificate clients trust (``verify=`` / ``REQUESTS_CA_BUNDLE``).
        self.ca_file = self.directory / "ca.pem"
        #: The client certificate followed by its private key (``cert=`` in requests).
        self.client_cert_file = self.directory / "client.pem"
        #: The client certificate's private key alone (``--cert-key`` in HTTPie).
        self.client_key_file = self.directory / "client-key.pem"
        self.ca_file.write_bytes(tls.ca_pem)
        self.client_cert_file.write_bytes(tls.client_cert_pem + tls.client_key_pem)
        self.client_key_file.write_bytes(tls.client_key_pem)

    def remove(self) -> None:
        """Delete the folder and the files in it."""
        shutil.rmtree(self.directory, ignore_errors=True)


class SandboxTLS:
    """A certificate authority, the server's certificate and a client certificate.

    Args:
        host: the address the sandbox listens on; its certificate is valid for
            :data:`SERVER_NAMES` and this host.
        client_cert_required: True makes the server refuse handshakes without a client
            certificate issued by this CA. When False a client certificate is still asked for
            and, when one is sent, checked and recorded.

    Raises:
        TLSUnavailable: ``trustme`` is not installed.
    """

    def __init__(self, host: str, *, client_cert_required: bool = False) -> None:
        try:
            import trustme
        except ImportError:
            raise TLSUnavailable(
                "The sandbox needs the 'trustme' package for TLS: "
                f"{_INSTALL_HINT} (or pip install trustme)."
            ) from None
        self.client_cert_required = client_cert_required
        ca = trustme.CA(organization_name="auth-plugins sandbox")
        server = ca.issue_cert(*_names_for(host))
        client = ca.issue_cert("client.sandbox.invalid", common_name=CLIENT_CERT_NAME)
        #: PEM of the CA certificate.
        self.ca_pem = ca.cert_pem.bytes()
        #: PEM of the client certificate (the leaf only: the CA is the trust anchor).
        self.client_cert_pem = client.cert_chain_pems[0].bytes()
        #: PEM of the client certificate's private key.
        self.client_key_pem = client.private_key_pem.bytes()

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        server.configure_cert(context)
        ca.configure_trust(context)
        # Optional still asks every client for a certificate, so one that is sent gets
        # recorded; Required also turns away clients that send none.
        context.verify_mode = ssl.CERT_REQUIRED if client_cert_required else ssl.CERT_OPTIONAL
        #: The server-side context; wrap accepted sockets with it.
        self.context = context

    def write_files(self) -> TLSFiles:
        """Write the CA and client PEM files to a new private folder."""
        return TLSFiles(self)


def client_cert_name(peer_cert: dict[str, Any] | None) -> str | None:
    """Name a verified client certificate, as ``ssl.SSLSocket.getpeercert()`` returns it.

    The subject's common name, else its first subjectAltName value; None without one.
    """
    if not peer_cert:
        return None
    for rdn in peer_cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    for _kind, value in peer_cert.get("subjectAltName", ()):
        return str(value)
    return "(unnamed certificate)"
