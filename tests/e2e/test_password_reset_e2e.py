"""Forgot your password? in a real browser: from the sign-in page to the mailed link, a new
password, and signing in with it."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.tasks import password_reset_send
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_forgotten_password_is_replaced_through_the_mailed_link(
    page, live_server, settings, output_dir
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = live_server.url
    mail.outbox.clear()
    UserFactory(username="sven", email="sven@example.com")

    page.goto("/accounts/login/")
    page.screenshot(path=str(output_dir / "login-laptop.png"))
    page.click("text=Forgot your password?")
    expect(page.locator("h1")).to_have_text("Forgot your password?")
    page.fill("input[name=email]", "not-an-address")
    page.click("main button[type=submit]")
    expect(page.locator(".field.has-error")).to_be_visible()
    page.screenshot(path=str(output_dir / "reset-error-laptop.png"))

    page.fill("input[name=email]", "sven@example.com")
    # The worker, in the test: the queued mail is sent at once.
    with mock.patch.object(
        password_reset_send, "apply_async", side_effect=lambda args, **_: password_reset_send(*args)
    ):
        page.click("main button[type=submit]")
        expect(page.locator("h1")).to_have_text("Check your e-mail")
    page.screenshot(path=str(output_dir / "reset-sent-laptop.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(output_dir / "reset-sent-phone.png"), full_page=True)

    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/accounts/set-password/\S+/", mail.outbox[0].body)[0]
    page.goto(link)
    page.fill("input[name=new_password1]", "a-brand-new-password-42")
    page.fill("input[name=new_password2]", "a-brand-new-password-42")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text("Password saved")

    page.click("a.btn:has-text('Sign in')")
    page.fill("input[name=username]", "sven")
    page.fill("input[name=password]", "a-brand-new-password-42")
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
