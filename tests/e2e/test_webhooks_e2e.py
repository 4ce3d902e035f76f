"""Webhooks in a real browser: an admin registers an endpoint (a real receiver on a local
port), copies the secret shown once, sends a test event, and reads the delivery log as deals
move. Screenshots go to /work/wt/shots/webhooks-*.png (laptop and phone)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm.celery import app
from pipeline import services
from tests.e2e.conftest import log_in
from tests.factories import DealFactory
from tests.webhooks.conftest import receiver  # noqa: F401 - the fixture
from tests.webhooks.test_signature import documented_verify
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")
LAPTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}


def shot(page, name: str, **kwargs) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SHOTS / f"webhooks-{name}.png", **kwargs)


@contextmanager
def tasks_run_at_once():
    """What a worker would do a moment later, done in the request that queued it."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = saved


def test_admin_registers_an_endpoint_and_reads_the_delivery_log(
    page,
    settings,
    receiver,  # noqa: F811 - the fixture imported above
    admin,
    alice,
    stages_a,  # noqa: F811
):
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    failed_once = []

    def answer(n):
        # The first deal.moved meets a busy receiver, whatever order the posts come in.
        last = receiver.received[-1].payload
        if last["type"] == "deal.moved" and not failed_once:
            failed_once.append(last["id"])
            return 503, b"Busy, try later", {}
        return 200, b"ok", {}

    receiver.answer = answer
    page.set_viewport_size(LAPTOP)
    log_in(page, "admin")
    page.goto(reverse("settings-pipelines"))
    page.locator(".settings-nav").get_by_role("link", name="Webhooks").click()
    expect(page.locator("h1")).to_have_text("Webhooks")
    expect(page.locator(".empty-state")).to_contain_text("No webhooks yet")
    shot(page, "empty", full_page=True)

    # --- a refused address first: a clear message, nothing saved -----------------------------
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    page.fill("#new-webhook input[name=url]", receiver.url)
    page.get_by_label("Deal moved to another stage").check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#new-webhook")).to_contain_text("private or local address")
    assert not WebhookEndpoint.objects.exists()
    settings.WEBHOOKS_ALLOW_PRIVATE = True

    # --- registered: the secret is shown once ------------------------------------------------
    page.fill("#new-webhook input[name=description]", "Accounting sync")
    page.get_by_label("Deal won").check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#webhook-secret")).to_be_visible()
    secret = page.locator("#webhook-secret").input_value()
    endpoint = WebhookEndpoint.objects.get()
    assert secret == endpoint.secret and endpoint.events == ["deal.moved", "deal.won"]
    shot(page, "secret")

    # --- a test event, then deals move: the log fills ----------------------------------------
    with tasks_run_at_once():
        page.get_by_role("button", name="Send test event").click()
        expect(page.locator("#toasts")).to_contain_text("Test event queued")
        deals = [DealFactory(stage=stages_a[0], owner=alice, title=f"Deal {i}") for i in range(2)]
        for deal in deals:
            services.deal_move(
                acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=deal.version
            )
    # The moves ran outside a request here: their after-commit tasks ran at once too.
    page.reload()
    expect(page.locator("#webhook-secret")).to_have_count(0)  # shown once only
    log = page.locator("#delivery-log")
    expect(log.locator("tbody tr")).to_have_count(3)
    expect(log).to_contain_text("ping")
    expect(log).to_contain_text("deal.moved")
    expect(log.locator(".badge", has_text="Retrying")).to_have_count(1)
    verify = documented_verify()
    assert all(verify(secret, r.headers["CRM-Signature"], r.body) for r in receiver.received)
    shot(page, "log", full_page=True)

    # --- send again: the failed one is delivered ---------------------------------------------
    failed = WebhookDelivery.objects.get(status=DeliveryStatus.PENDING)
    with tasks_run_at_once():
        page.locator(f"#delivery-{failed.pk}").get_by_role("button", name="Send again").click()
        expect(page.locator("#toasts")).to_contain_text("queued to be sent again")
    page.reload()
    expect(page.locator(f"#delivery-{failed.pk} .badge")).to_have_text("Delivered")
    assert not WebhookDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()

    page.set_viewport_size(PHONE)
    page.reload()
    shot(page, "log-phone", full_page=True)
    page.goto(reverse("settings-webhooks"))
    expect(page.locator(f"#webhook-{endpoint.pk}")).to_contain_text(receiver.url)
    shot(page, "list-phone", full_page=True)
    page.set_viewport_size(LAPTOP)
    page.reload()
    shot(page, "list", full_page=True)
