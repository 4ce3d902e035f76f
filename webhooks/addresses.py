"""Which addresses a webhook may reach (the SSRF guard).

A delivery resolves the endpoint's host name when it is sent, refuses it when any address it
resolves to is private, loopback, link-local, multicast, reserved or otherwise not public, and
then connects to the very address it checked (`sending.py`), so a name that resolves to a
public address for the check and to 127.0.0.1 for the connection (DNS rebinding) gains
nothing. WEBHOOKS_ALLOW_PRIVATE turns the check off (local development, tests).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


class AddressRefused(Exception):
    """The URL may not be called; the message says why, for the admin."""


class HostNotFound(AddressRefused):
    """The host name does not resolve (now)."""


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_multicast or ip.is_private or ip.is_reserved or ip.is_link_local
    )


def url_parts(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an endpoint URL, checked for its form: http(s)
    only (http only where WEBHOOKS_ALLOW_HTTP), a host, no user name or password in it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise AddressRefused(_("That is not a valid URL.")) from error
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AddressRefused(_("The URL must start with https://."))
    if scheme == "http" and not settings.WEBHOOKS_ALLOW_HTTP:
        raise AddressRefused(_("The URL must use https:// (http is allowed for local use only)."))
    if not parts.hostname:
        raise AddressRefused(_("The URL must name a host."))
    if parts.username or parts.password:
        raise AddressRefused(_("The URL must not contain a user name or password."))
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def addresses_resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, each checked; raises AddressRefused when it does not
    resolve or when any address is not public (unless WEBHOOKS_ALLOW_PRIVATE)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise HostNotFound(_("The host name could not be resolved.")) from error
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise HostNotFound(_("The host name could not be resolved."))
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        for address in addresses:
            if not address_is_public(address):
                raise AddressRefused(
                    _("The URL leads to a private or local address (%(address)s).")
                    % {"address": address}
                )
    return addresses


def url_check_on_save(url: str) -> None:
    """What a settings form checks: the URL's form and the addresses its host resolves to now
    (a name that does not resolve yet is accepted: the check that counts is made again at
    every send)."""
    _scheme, host, port, _path = url_parts(url)
    try:
        addresses_resolve(host.strip("[]"), port)
    except HostNotFound:
        pass
