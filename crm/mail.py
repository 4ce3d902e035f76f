"""What every mail from the CRM shares: absolute links and the sender.

Mail is read away from the CRM (a phone's mail app, a forwarded message), so its links are
absolute and start with `SITE_URL`, never with the Host header of the request that happened to
send it (a background task has none, and a forged one must not end up in a password link).
"""

from __future__ import annotations

from email.utils import formataddr, parseaddr

from django.conf import settings

from crm.organisation import organisation_get


def absolute_url(path: str) -> str:
    """`path` (from `reverse()` or `get_absolute_url()`) as a link that works from a mail."""
    return settings.SITE_URL + path


def sender() -> str:
    """The From of every mail: the address of DEFAULT_FROM_EMAIL under the organisation's
    current name ("Nordlys Solutions <crm@nordlys.example>"). Any display name already in the
    setting gives way to the organisation's, which an admin may rename at any time."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    # formataddr quotes a name that needs it ("Smith, Jones & Co") and encodes one that is
    # not ASCII ("Müller & Søn") as RFC 2047 words, which Django's mail passes on unchanged.
    return formataddr((organisation_get().name, address or settings.DEFAULT_FROM_EMAIL))
