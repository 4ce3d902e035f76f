"""The SSRF guard: no delivery to private, loopback, link-local, multicast or reserved
addresses (checked at send time, against the address connected to) unless allowed; https
unless http is allowed."""

from __future__ import annotations

import pytest
from django.test import override_settings

from webhooks import sending
from webhooks.addresses import AddressRefused, address_is_public, url_check_on_save

REFUSED = [
    "127.0.0.1",
    "127.8.9.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.20",
    "169.254.169.254",  # the cloud metadata address
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # loopback inside an IPv4-mapped IPv6 address
    "::ffff:10.0.0.1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_private_and_special_addresses_are_not_public(address):
    assert not address_is_public(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are(address):
    assert address_is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.5:8443/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://localhost/hook",  # a host name that resolves to a loopback address
        "https://[::ffff:192.168.0.1]/hook",
    ],
)
def test_a_send_to_a_private_address_is_refused_before_connecting(url, receiver):
    answer = sending.post(url=url, body=b"{}", headers={})
    assert answer.status is None and not answer.ok
    assert "private or local address" in answer.error
    with pytest.raises(AddressRefused):
        url_check_on_save(url)


def test_the_guard_runs_at_send_time_not_only_on_save(receiver):
    """A URL saved while allowed (or whose name resolved elsewhere then) is checked again
    when sent: the local receiver is never called."""
    with override_settings(WEBHOOKS_ALLOW_HTTP=True, WEBHOOKS_ALLOW_PRIVATE=True):
        url_check_on_save(receiver.url)
    with override_settings(WEBHOOKS_ALLOW_HTTP=True):
        answer = sending.post(url=receiver.url, body=b"{}", headers={})
    assert not answer.ok and "private or local address" in answer.error
    assert receiver.received == []


def test_http_is_refused_unless_allowed(receiver):
    with override_settings(WEBHOOKS_ALLOW_PRIVATE=True):
        with pytest.raises(AddressRefused, match="https"):
            url_check_on_save(receiver.url)
        answer = sending.post(url=receiver.url, body=b"{}", headers={})
        assert not answer.ok and receiver.received == []


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "https://user:pw@example.com/x", "https:///nohost", "javascript:x"],
)
def test_malformed_urls_are_refused(url):
    with pytest.raises(AddressRefused):
        url_check_on_save(url)


def test_the_connection_goes_to_the_checked_address_with_the_url_host(
    receiver, local_receivers_allowed
):
    """The name is resolved once and the socket opened to that address; the Host header
    keeps the URL's name (what a TLS connection's server name and certificate check use)."""
    url = f"http://localhost:{receiver.port}/hook?x=1"
    answer = sending.post(url=url, body=b'{"a": 1}', headers={"X-Test": "1"})
    assert answer.ok, answer
    [request] = receiver.received
    assert request.headers["Host"] == f"localhost:{receiver.port}"
    assert request.body == b'{"a": 1}'
