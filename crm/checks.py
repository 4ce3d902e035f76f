"""Deployment checks (`manage.py check --deploy`) for the settings that mail depends on."""

from __future__ import annotations

from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.http.request import validate_host


@register(Tags.security, deploy=True)
def check_mail_settings(app_configs, **kwargs):
    """Links and senders in mail must reach real people: a digest linking to 127.0.0.1, or a
    password-reset link over plain HTTP, fails silently in the recipients' inboxes."""
    warnings = []
    url = urlsplit(settings.SITE_URL)
    if url.scheme != "https":
        warnings.append(
            Warning(
                f"SITE_URL is {settings.SITE_URL!r}: links in mail (password resets among "
                "them) should use https.",
                hint="Set SITE_URL to the address people open, e.g. https://crm.example.com.",
                id="crm.W001",
            )
        )
    if not validate_host(url.hostname or "", settings.ALLOWED_HOSTS):
        warnings.append(
            Warning(
                f"SITE_URL's host {url.hostname!r} is not in ALLOWED_HOSTS: links in mail "
                "would lead to a site that refuses them.",
                hint="Set SITE_URL to one of DJANGO_ALLOWED_HOSTS.",
                id="crm.W002",
            )
        )
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if address.rpartition("@")[2] in ("", "localhost"):
        warnings.append(
            Warning(
                f"DEFAULT_FROM_EMAIL is {settings.DEFAULT_FROM_EMAIL!r}: mail servers refuse "
                "or file as spam a sender at localhost.",
                hint="Set DEFAULT_FROM_EMAIL to an address of your domain.",
                id="crm.W003",
            )
        )
    return warnings
