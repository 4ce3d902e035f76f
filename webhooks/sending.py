"""One HTTP POST of a delivery, with the standard library's http.client (docs/decisions.md).

The host is resolved and checked once (`addresses.addresses_resolve`), and the connection is
made to that checked address while the Host header and TLS server name (SNI and certificate
check) stay the URL's host name. Short timeouts (WEBHOOKS_CONNECT_TIMEOUT_SECONDS to connect,
WEBHOOKS_READ_TIMEOUT_SECONDS for each read), no redirect is followed (a 3xx is a failure: the
receiver must answer at the URL it was registered with), and only the first EXCERPT_BYTES of
the answer are read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from webhooks.addresses import AddressRefused, addresses_resolve, url_parts
from webhooks.models import EXCERPT_BYTES

USER_AGENT = "CRM-Webhooks/1"


@dataclass(frozen=True)
class Answer:
    """What one attempt got: the status code (None when there was no answer), how long it
    took, the start of the body, and what went wrong (empty for a 2xx)."""

    status: int | None
    duration_ms: int
    excerpt: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, connect_timeout: float, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address
        self._connect_timeout = connect_timeout

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), self._connect_timeout)
        sock.settimeout(self.timeout)
        return sock

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT

    def __init__(self, *args, context: ssl.SSLContext, **kwargs):
        super().__init__(*args, **kwargs)
        self._context = context

    def connect(self) -> None:
        # The certificate is checked against the URL's host name, not the address dialled.
        self.sock = self._context.wrap_socket(self._open(), server_hostname=self.host)


def post(*, url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url`; never raises for a network or address problem (the Answer says
    what happened)."""
    started = time.monotonic()

    def answer(status, excerpt="", error=""):
        duration = int((time.monotonic() - started) * 1000)
        return Answer(status=status, duration_ms=duration, excerpt=excerpt, error=error[:300])

    try:
        scheme, host, port, path = url_parts(url)
        address = addresses_resolve(host, port)[0]
    except AddressRefused as error:
        return answer(None, error=str(error))
    options = {
        "address": address,
        "connect_timeout": settings.WEBHOOKS_CONNECT_TIMEOUT_SECONDS,
        "timeout": settings.WEBHOOKS_READ_TIMEOUT_SECONDS,
    }
    if scheme == "https":
        connection = _PinnedHTTPSConnection(
            host, port, context=ssl.create_default_context(), **options
        )
    else:
        connection = _PinnedHTTPConnection(host, port, **options)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **headers,
            },
        )
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
        status = response.status
    except (OSError, http.client.HTTPException, ValueError) as error:
        return answer(None, error=f"{type(error).__name__}: {error}")
    finally:
        connection.close()
    if 200 <= status < 300:
        return answer(status, excerpt)
    if 300 <= status < 400:
        return answer(status, excerpt, error=_("Redirects are not followed."))
    return answer(status, excerpt, error=f"HTTP {status}")
